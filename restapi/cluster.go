package restapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
)

// getCluster serves GET /cluster: the members in ring order, the leader, the
// term and the table version, as this member knows them.
//
//	@Summary		Members, leader, term and table version in one answer
//	@Description	The members in ring order (priority descending, then name), each with its state and how many partitions it owns, and the leader, term, table version and partition count, as this member knows them.
//	@Tags			cluster
//	@Produce		json
//	@Success		200	{object}	api.Cluster
//	@Router			/cluster [get]
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

// getMembers serves GET /members.
//
//	@Summary		The members in ring order
//	@Description	Every member this member knows, in ring order (priority descending, then name; rank 0 is the rightful leader), with whether it is alive, draining, the leader, in the configuration that counts for a majority, its API address and how many partitions it owns.
//	@Tags			cluster
//	@Produce		json
//	@Success		200	{object}	api.Members
//	@Router			/members [get]
func (s *Server) getMembers(c echo.Context) error {
	ms := s.src.Cluster().Members
	if ms == nil {
		ms = []api.Member{}
	}
	noStore(c)
	return c.JSON(http.StatusOK, api.Members{Members: ms})
}

// getLeader serves GET /leader.
//
//	@Summary		The leader this member follows
//	@Description	The leader's name, term and API address. While there is no leader (an election is running, or this side of a network partition has no majority) leader is "" and the status is still 200, as for Consul's /v1/status/leader.
//	@Tags			cluster
//	@Produce		json
//	@Success		200	{object}	api.Leader
//	@Router			/leader [get]
func (s *Server) getLeader(c echo.Context) error {
	cl := s.src.Cluster()
	out := api.Leader{Leader: cl.Leader, Term: cl.Term}
	for _, m := range cl.Members {
		if m.Name == cl.Leader && cl.Leader != "" {
			out.HTTPAddr = m.HTTPAddr
			break
		}
	}
	noStore(c)
	return c.JSON(http.StatusOK, out)
}

// getChanges serves GET /changes.
//
//	@Summary		Recent events
//	@Description	What happened lately as this member saw it (leader changes, members coming and going, lease expiries), oldest first. The list is short and kept in memory only; it is meant for people (the dashboard), not for programs.
//	@Tags			cluster
//	@Produce		json
//	@Success		200	{object}	api.Changes
//	@Router			/changes [get]
func (s *Server) getChanges(c echo.Context) error {
	ch := s.cs.Changes()
	if ch == nil {
		ch = []api.Change{}
	}
	noStore(c)
	return c.JSON(http.StatusOK, api.Changes{Changes: ch})
}
