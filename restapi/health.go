package restapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/buildinfo"
)

// getHealthz serves GET /healthz. It says only that the process answers HTTP
// (a liveness probe); it must not depend on the cluster, or a network partition
// would get healthy sidecars restarted. Readiness is a separate endpoint.
//
//	@Summary		Liveness probe
//	@Description	200 whenever the process answers HTTP. It does not look at the cluster, so a network partition does not get healthy sidecars restarted; use /readyz for that.
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	api.Health
//	@Router			/healthz [get]
//	@Router			/healthz [head]
func (s *Server) getHealthz(c echo.Context) error {
	noStore(c)
	return c.JSON(http.StatusOK, api.Health{Status: "ok"})
}

// getVersion serves GET /version.
//
//	@Summary		Build of this ringd
//	@Description	The version, VCS commit and Go version of the ringd binary that answers, as `ringd --version` prints them and the ringd_build_info metric labels them. During a rolling upgrade, ask each member.
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	api.Version
//	@Router			/version [get]
//	@Router			/version [head]
func (s *Server) getVersion(c echo.Context) error {
	bi := buildinfo.Get()
	return c.JSON(http.StatusOK, api.Version{Version: bi.Version, Commit: bi.Commit, GoVersion: bi.GoVersion})
}

// getReadyz serves GET /readyz.
//
//	@Summary		Readiness probe
//	@Description	200 {"ready": true} once this process of the member is admitted and useful (a voter under its current identity, or holding partitions), until it starts shutting down; 503 with the reason otherwise. It does not follow the lease or the leader: an election must not take every pod out of the application's Service at once.
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	api.Ready
//	@Failure		503	{object}	api.Ready	"not ready; reason (and error, as in every error answer) says what is missing"
//	@Router			/readyz [get]
//	@Router			/readyz [head]
func (s *Server) getReadyz(c echo.Context) error {
	ok, reason := s.cs.Ready()
	noStore(c)
	if !ok {
		if reason == "" {
			reason = "not ready"
		}
		return c.JSON(http.StatusServiceUnavailable, api.Ready{Ready: false, Reason: reason, Error: reason})
	}
	return c.JSON(http.StatusOK, api.Ready{Ready: true})
}

// getMetrics serves GET /metrics with Options.MetricsHandler.
//
//	@Summary		Prometheus metrics
//	@Description	The daemon's metrics in the Prometheus text format: members by state, leader flag, term, table version, owned partitions, moves, elections, lease expiries, handoff durations, and HTTP requests by route and code (long-polls are kept out of the latency histogram).
//	@Tags			health
//	@Produce		plain
//	@Success		200	{string}	string	"Prometheus text exposition format"
//	@Router			/metrics [get]
func (s *Server) getMetrics(c echo.Context) error {
	s.opts.MetricsHandler.ServeHTTP(c.Response(), c.Request())
	return nil
}

// noStore keeps proxies and browsers from caching answers that describe the
// present moment.
func noStore(c echo.Context) {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
}
