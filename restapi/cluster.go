package restapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/restapi/api"
)

// getCluster serves GET /cluster: the members in ring order, the leader, the
// term and the table version, as this member knows them.
func (s *Server) getCluster(c echo.Context) error {
	view := s.src.Cluster()
	// [] rather than null, as for /partitions/mine (a member that has not joined
	// yet knows no members).
	if view.Members == nil {
		view.Members = []api.Member{}
	}
	noStore(c)
	return c.JSON(http.StatusOK, view)
}
