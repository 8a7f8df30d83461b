package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
)

// maxMemberName bounds the "to" of a leader transfer; member names are pod
// and host names (at most 253 bytes).
const maxMemberName = 253

// postRelease serves POST /partitions/{id}/release.
//
//	@Summary		Acknowledge the release of a partition
//	@Description	Tells ringd that this member's application has finished with a partition that is "releasing" on it, so the leader can grant it to its next owner now instead of at the release timeout. An application that long-polls GET /partitions/mine acknowledges by polling past the change; this is for the others. No body is needed.
//	@Tags			partitions
//	@Produce		json
//	@Param			id		path		integer	true	"partition id, 0..P-1"	minimum(0)
//	@Param			token	query		integer	false	"the fencing token of the grant you release: a release for another grant (say one from before a restart of the member) is refused with 409"	minimum(1)	format(int64)
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"id or token is not a non-negative integer"
//	@Failure		404		{object}	api.Error	"no such partition"
//	@Failure		409		{object}	api.Error	"the partition is not releasing on this member, or under another token"
//	@Failure		413	{object}	api.Error	"body too large"
//	@Failure		503	{object}	api.Error	"the member cannot do it now (e.g. shutting down)"
//	@Failure		504	{object}	api.Error	"the member did not answer in time"
//	@Router			/partitions/{id}/release [post]
func (s *Server) postRelease(c echo.Context) error {
	raw := c.Param("id")
	id, err := partitionID(raw)
	if err != nil {
		return err
	}
	if id < 0 {
		return noPartition(raw, s.src.Cluster().Partitions)
	}
	vals, err := parseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return err
	}
	var token uint64
	if raw := vals.Get("token"); raw != "" {
		if token, err = strconv.ParseUint(raw, 10, 64); err != nil || token == 0 {
			return badRequest("token %q is not a positive integer", raw)
		}
	}
	if err := discardBody(c); err != nil {
		return err
	}
	return s.runAction(c, "released", func(ctx context.Context) error { return s.act.Release(ctx, id, token) })
}

// postDrain serves POST /admin/drain.
//
//	@Summary		Drain this member
//	@Description	Marks this member draining: the leader moves its partitions to other members (each through the usual release handshake) and gives it no new ones, until POST /admin/undrain. The answer comes once the member has taken the flag, not when the partitions have moved; watch GET /partitions/mine for that. No body is needed.
//	@Tags			admin
//	@Produce		json
//	@Security		AdminToken
//	@Success		200	{object}	api.Result
//	@Failure		401	{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403	{object}	api.Error	"wrong admin token"
//	@Failure		413	{object}	api.Error	"body too large"
//	@Failure		503	{object}	api.Error	"the member cannot do it now"
//	@Failure		504	{object}	api.Error	"the member did not answer in time"
//	@Router			/admin/drain [post]
func (s *Server) postDrain(c echo.Context) error {
	if err := discardBody(c); err != nil {
		return err
	}
	return s.runAction(c, "draining", s.act.Drain)
}

// postUndrain serves POST /admin/undrain.
//
//	@Summary		Undrain this member
//	@Description	Lets this member take partitions again after POST /admin/drain. No body is needed.
//	@Tags			admin
//	@Produce		json
//	@Security		AdminToken
//	@Success		200	{object}	api.Result
//	@Failure		401	{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403	{object}	api.Error	"wrong admin token"
//	@Failure		413	{object}	api.Error	"body too large"
//	@Failure		503	{object}	api.Error	"the member cannot do it now"
//	@Failure		504	{object}	api.Error	"the member did not answer in time"
//	@Router			/admin/undrain [post]
func (s *Server) postUndrain(c echo.Context) error {
	if err := discardBody(c); err != nil {
		return err
	}
	return s.runAction(c, "undrained", s.act.Undrain)
}

// postFreeze serves POST /admin/freeze.
//
//	@Summary		Freeze the assignment (maintenance mode)
//	@Description	Asks the leader (through this member) to freeze the assignment: no rebalancing moves until POST /admin/unfreeze, for an upgrade or other planned work. Partitions without a holder (a failed member's) are still granted, and draining or leaving members still hand theirs over; the freeze is in the table, so it outlives leader changes. The answer comes once the request is on its way to the leader; GET /partitions shows "frozen" once its table does. No body is needed.
//	@Tags			admin
//	@Produce		json
//	@Security		AdminToken
//	@Success		200	{object}	api.Result
//	@Failure		401	{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403	{object}	api.Error	"wrong admin token"
//	@Failure		413	{object}	api.Error	"body too large"
//	@Failure		503	{object}	api.Error	"no leader, or the member cannot do it now"
//	@Failure		504	{object}	api.Error	"the member did not answer in time"
//	@Router			/admin/freeze [post]
func (s *Server) postFreeze(c echo.Context) error {
	if err := discardBody(c); err != nil {
		return err
	}
	return s.runAction(c, "frozen", func(ctx context.Context) error { return s.act.SetFrozen(ctx, true) })
}

// postUnfreeze serves POST /admin/unfreeze.
//
//	@Summary		Unfreeze the assignment
//	@Description	Ends maintenance mode (POST /admin/freeze): the leader rebalances again. No body is needed.
//	@Tags			admin
//	@Produce		json
//	@Security		AdminToken
//	@Success		200	{object}	api.Result
//	@Failure		401	{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403	{object}	api.Error	"wrong admin token"
//	@Failure		413	{object}	api.Error	"body too large"
//	@Failure		503	{object}	api.Error	"no leader, or the member cannot do it now"
//	@Failure		504	{object}	api.Error	"the member did not answer in time"
//	@Router			/admin/unfreeze [post]
func (s *Server) postUnfreeze(c echo.Context) error {
	if err := discardBody(c); err != nil {
		return err
	}
	return s.runAction(c, "unfrozen", func(ctx context.Context) error { return s.act.SetFrozen(ctx, false) })
}

// postTransfer serves POST /admin/leader/transfer.
//
//	@Summary		Hand leadership over to another member
//	@Description	Asks the leader (through this member) to step down in favour of the named member, which campaigns at once. The answer comes once the leader has accepted; watch GET /leader for the outcome.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminToken
//	@Param			body	body		api.TransferRequest	true	"the member to hand over to"
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"the body is not a JSON object naming a member in 'to'"
//	@Failure		401		{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403		{object}	api.Error	"wrong admin token"
//	@Failure		404		{object}	api.Error	"no such member"
//	@Failure		409		{object}	api.Error	"the transfer does not fit the current state"
//	@Failure		413		{object}	api.Error	"body too large"
//	@Failure		503		{object}	api.Error	"no leader, or the member cannot do it now"
//	@Failure		504		{object}	api.Error	"the leader did not answer in time"
//	@Router			/admin/leader/transfer [post]
func (s *Server) postTransfer(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var req api.TransferRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return badRequest(`the body must be JSON {"to": "<member name>"}: %s`, clip(err.Error()))
	}
	if dec.More() {
		return badRequest(`the body must be one JSON object {"to": "<member name>"}, it has more after it`)
	}
	switch {
	case req.To == "":
		return badRequest(`the body must name the member: {"to": "<member name>"}`)
	case len(req.To) > maxMemberName:
		return badRequest("member name is %d bytes long; names are at most %d", len(req.To), maxMemberName)
	}
	return s.runAction(c, "transferring", func(ctx context.Context) error { return s.act.Transfer(ctx, req.To) })
}

// runAction runs an action with the request's context bounded by ActionTimeout
// and answers {"status": status}, or the error the Source returned mapped to
// a status.
func (s *Server) runAction(c echo.Context, status string, do func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.opts.ActionTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, requesterKey{}, s.requester(c.Request()))
	if err := do(ctx); err != nil {
		return s.sourceError(c, err)
	}
	noStore(c)
	return c.JSON(http.StatusOK, api.Result{Status: status})
}

// requesterKey is the context key of Requester.
type requesterKey struct{}

// Requester says who asked for the action running under ctx, for the
// Actions to log and list: the client's address and how it was let in.
// "" outside an action.
func Requester(ctx context.Context) string {
	who, _ := ctx.Value(requesterKey{}).(string)
	return who
}

// requester describes the client of r. The address is the connection's:
// X-Forwarded-For is anyone's to set.
func (s *Server) requester(r *http.Request) string {
	how := "without a token"
	if s.adminDigests.Load() != nil {
		if _, ok := bearerToken(r.Header.Values(echo.HeaderAuthorization)); ok {
			how = "with the admin token"
		}
	}
	return r.RemoteAddr + " " + how
}

// sourceStatus maps the sentinel errors of a Source to statuses; first match
// wins.
var sourceStatus = []struct {
	err  error
	code int
}{
	{ErrBadInput, http.StatusBadRequest},
	{ErrNotFound, http.StatusNotFound},
	{ErrConflict, http.StatusConflict},
	{ErrUnavailable, http.StatusServiceUnavailable},
	{context.DeadlineExceeded, http.StatusGatewayTimeout},
	{context.Canceled, http.StatusServiceUnavailable},
}

// sourceError turns an error from a Source into a client answer. The
// sentinel errors and context errors carry a message meant for the client;
// anything else is a bug in ringd: logged, and a bare 500.
func (s *Server) sourceError(c echo.Context, err error) error {
	for _, m := range sourceStatus {
		if errors.Is(err, m.err) {
			// The sentinel says which status; its text ("conflict: ")
			// means nothing to the person reading the message.
			msg := strings.TrimPrefix(err.Error(), m.err.Error()+": ")
			switch m.err {
			case context.DeadlineExceeded:
				msg = "the member did not finish in time (" + s.opts.ActionTimeout.String() + "); the action may still happen, check before retrying"
			case context.Canceled:
				msg = "the action was cancelled (the request went away or the member is shutting down)"
			}
			return echo.NewHTTPError(m.code, msg)
		}
	}
	req := c.Request()
	s.log.Error("action failed; this is a bug", "method", req.Method, "path", req.URL.Path, "error", err)
	return errInternal
}

// clip shortens a message that may quote client input.
func clip(m string) string {
	if len(m) > 2*maxQuoted {
		return m[:2*maxQuoted] + "..."
	}
	return m
}

// readBody reads the whole request body, within the limit limitBody set.
func readBody(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, bodyError(err)
	}
	return b, nil
}

// discardBody reads and drops a body the endpoint does not use, so an
// oversized one is a 413 on every endpoint alike.
func discardBody(c echo.Context) error {
	if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
		return bodyError(err)
	}
	return nil
}
