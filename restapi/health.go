package restapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/restapi/api"
)

// getHealthz serves GET /healthz. It says only that the process answers HTTP
// (a liveness probe); it must not depend on the cluster, or a network partition
// would get healthy sidecars restarted. Readiness is a separate endpoint.
func (s *Server) getHealthz(c echo.Context) error {
	noStore(c)
	return c.JSON(http.StatusOK, api.Health{Status: "ok"})
}

// noStore keeps proxies and browsers from caching answers that describe the
// present moment.
func noStore(c echo.Context) {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
}
