package restapi

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
)

// postPin serves POST /admin/pin.
//
//	@Summary		Pin a partition to a member
//	@Description	Asks the leader (through this member) to keep a partition with a member: it moves there (through the usual handoff, within the move budget, not while frozen) and stays while that member may own partitions, whatever the load bound says. The pin is in the table, so it outlives leader changes; GET /partitions shows it as pinnedTo.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminToken
//	@Param			body	body		api.PinRequest	true	"the partition and the member"
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"the body is not {\"partition\": N, \"member\": \"name\"} with a partition in range"
//	@Failure		401		{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403		{object}	api.Error	"wrong admin token"
//	@Failure		413		{object}	api.Error	"body too large"
//	@Failure		503		{object}	api.Error	"no leader, or the member cannot do it now"
//	@Failure		504		{object}	api.Error	"the member did not answer in time"
//	@Router			/admin/pin [post]
func (s *Server) postPin(c echo.Context) error {
	var req api.PinRequest
	if err := s.readPin(c, &req); err != nil {
		return err
	}
	if req.Member == "" || len(req.Member) > maxMemberName {
		return badRequest(`the body must name the member (at most %d bytes): {"partition": N, "member": "<name>"}`, maxMemberName)
	}
	return s.runAction(c, "pinned", func(ctx context.Context) error { return s.act.SetPin(ctx, req.Partition, req.Member) })
}

// postUnpin serves POST /admin/unpin.
//
//	@Summary		Unpin a partition
//	@Description	Removes the pin of a partition (POST /admin/pin): it is placed as any other again.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminToken
//	@Param			body	body		api.PinRequest	true	"the partition (member empty or absent)"
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"the body is not {\"partition\": N} with a partition in range"
//	@Failure		401		{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403		{object}	api.Error	"wrong admin token"
//	@Failure		413		{object}	api.Error	"body too large"
//	@Failure		503		{object}	api.Error	"no leader, or the member cannot do it now"
//	@Failure		504		{object}	api.Error	"the member did not answer in time"
//	@Router			/admin/unpin [post]
func (s *Server) postUnpin(c echo.Context) error {
	var req api.PinRequest
	if err := s.readPin(c, &req); err != nil {
		return err
	}
	if req.Member != "" {
		return badRequest(`unpin takes only the partition: {"partition": N}`)
	}
	return s.runAction(c, "unpinned", func(ctx context.Context) error { return s.act.SetPin(ctx, req.Partition, "") })
}

func (s *Server) readPin(c echo.Context, req *api.PinRequest) error {
	if err := readObject(c, req, `{"partition": N, "member": "<name>"}`); err != nil {
		return err
	}
	if p := s.src.Cluster().Partitions; req.Partition < 0 || req.Partition >= p {
		return badRequest("partition %d is not in 0..%d", req.Partition, p-1)
	}
	return nil
}

// postExclude serves POST /admin/exclude.
//
//	@Summary		Keep a member from owning partitions
//	@Description	Asks the leader (through this member) to give a member no partitions: the ones it holds move away through the usual handoff, and it gets none until POST /admin/include. Unlike a drain, the exclusion is in the table: it outlives leader changes and the member's restarts.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminToken
//	@Param			body	body		api.MemberRequest	true	"the member"
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"the body is not {\"member\": \"name\"}"
//	@Failure		401		{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403		{object}	api.Error	"wrong admin token"
//	@Failure		413		{object}	api.Error	"body too large"
//	@Failure		503		{object}	api.Error	"no leader, or the member cannot do it now"
//	@Failure		504		{object}	api.Error	"the member did not answer in time"
//	@Router			/admin/exclude [post]
func (s *Server) postExclude(c echo.Context) error { return s.setExcluded(c, true) }

// postInclude serves POST /admin/include.
//
//	@Summary		Let an excluded member own partitions again
//	@Description	Ends POST /admin/exclude for a member.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminToken
//	@Param			body	body		api.MemberRequest	true	"the member"
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"the body is not {\"member\": \"name\"}"
//	@Failure		401		{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403		{object}	api.Error	"wrong admin token"
//	@Failure		413		{object}	api.Error	"body too large"
//	@Failure		503		{object}	api.Error	"no leader, or the member cannot do it now"
//	@Failure		504		{object}	api.Error	"the member did not answer in time"
//	@Router			/admin/include [post]
func (s *Server) postInclude(c echo.Context) error { return s.setExcluded(c, false) }

func (s *Server) setExcluded(c echo.Context, on bool) error {
	var req api.MemberRequest
	if err := readObject(c, &req, `{"member": "<name>"}`); err != nil {
		return err
	}
	if req.Member == "" || len(req.Member) > maxMemberName {
		return badRequest(`the body must name the member (at most %d bytes): {"member": "<name>"}`, maxMemberName)
	}
	status := "included"
	if on {
		status = "excluded"
	}
	return s.runAction(c, status, func(ctx context.Context) error { return s.act.SetExcluded(ctx, req.Member, on) })
}
