package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
)

// getKeys serves GET /admin/keys.
//
//	@Summary		Gossip keys of this member
//	@Description	The keys installed in this member's gossip keyring, by fingerprint (the first 8 bytes of the key's SHA-256, in hex), and which one is primary (encrypts what this member sends; every installed key decrypts). The keys themselves are never shown.
//	@Tags			admin
//	@Produce		json
//	@Security		AdminToken
//	@Success		200	{object}	api.Keys
//	@Failure		401	{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403	{object}	api.Error	"wrong admin token"
//	@Failure		409	{object}	api.Error	"gossip encryption is off on this member"
//	@Router			/admin/keys [get]
func (s *Server) getKeys(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.opts.ActionTimeout)
	defer cancel()
	keys, err := s.keyring.Keys(ctx)
	if err != nil {
		return s.sourceError(c, err)
	}
	noStore(c)
	return c.JSON(http.StatusOK, keys)
}

// postKeyInstall serves POST /admin/keys/install.
//
//	@Summary		Install a gossip key on this member
//	@Description	Adds a key to this member's gossip keyring: it decrypts with it from now on, and keeps encrypting with its primary key. Step 1 of a rotation, on every member before step 2 (POST /admin/keys/use). With --data-dir the keyring is kept there across restarts.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminToken
//	@Param			body	body		api.KeyRequest	true	"the key, standard base64 of 16, 24 or 32 bytes"
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"the body is not a JSON object with a valid key"
//	@Failure		401		{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403		{object}	api.Error	"wrong admin token"
//	@Failure		409		{object}	api.Error	"gossip encryption is off on this member"
//	@Failure		413		{object}	api.Error	"body too large"
//	@Failure		503		{object}	api.Error	"the change is in effect but could not be saved in --data-dir"
//	@Router			/admin/keys/install [post]
func (s *Server) postKeyInstall(c echo.Context) error { return s.keyOp(c, "install", "installed") }

// postKeyUse serves POST /admin/keys/use.
//
//	@Summary		Make an installed gossip key the primary one on this member
//	@Description	This member encrypts with the key from now on. Step 2 of a rotation: only once every member has the key installed, or the members that lack it cannot read this one.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminToken
//	@Param			body	body		api.KeyRequest	true	"the key, standard base64 of 16, 24 or 32 bytes"
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"the body is not a JSON object with a valid key"
//	@Failure		401		{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403		{object}	api.Error	"wrong admin token"
//	@Failure		404		{object}	api.Error	"the key is not installed on this member"
//	@Failure		409		{object}	api.Error	"gossip encryption is off on this member"
//	@Failure		413		{object}	api.Error	"body too large"
//	@Failure		503		{object}	api.Error	"the change is in effect but could not be saved in --data-dir"
//	@Router			/admin/keys/use [post]
func (s *Server) postKeyUse(c echo.Context) error { return s.keyOp(c, "use", "in use") }

// postKeyRemove serves POST /admin/keys/remove.
//
//	@Summary		Remove a gossip key from this member
//	@Description	This member no longer decrypts with the key. Step 3 of a rotation, once every member uses the new key. The primary key cannot be removed; a key that is not installed is already removed (200), so a step can be run again.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminToken
//	@Param			body	body		api.KeyRequest	true	"the key, standard base64 of 16, 24 or 32 bytes"
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"the body is not a JSON object with a valid key"
//	@Failure		401		{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403		{object}	api.Error	"wrong admin token"
//	@Failure		409		{object}	api.Error	"the key is the primary one, or gossip encryption is off"
//	@Failure		503		{object}	api.Error	"the change is in effect but could not be saved in --data-dir"
//	@Failure		413		{object}	api.Error	"body too large"
//	@Router			/admin/keys/remove [post]
func (s *Server) postKeyRemove(c echo.Context) error { return s.keyOp(c, "remove", "removed") }

func (s *Server) keyOp(c echo.Context, op, status string) error {
	var req api.KeyRequest
	if err := readObject(c, &req, `{"key": "<base64 key>"}`); err != nil {
		return err
	}
	if req.Key == "" {
		return badRequest(`the body must give the key: {"key": "<base64 of 16, 24 or 32 bytes>"}`)
	}
	return s.runAction(c, status, func(ctx context.Context) error { return s.keyring.KeyOp(ctx, op, req.Key) })
}

// postRecover serves POST /admin/recover.
//
//	@Summary		Force the voters after a majority of them was lost for good
//	@Description	Replaces this member's voter configuration with the named members, without the agreement of the configuration in force: the way out when a majority of the voters is gone for good and no leader can be elected (as Raft's peers.json). Run it on every surviving member with the same names (ringctl recover --all); the named members then elect a leader, which writes the configuration into its first table. Refused while a leader is in office. Unsafe if the voters left out still run somewhere: they could elect a second leader.
//	@Tags			admin
//	@Accept			json
//	@Produce		json
//	@Security		AdminToken
//	@Param			body	body		api.RecoverRequest	true	"the members that vote from now on"
//	@Success		200		{object}	api.Result
//	@Failure		400		{object}	api.Error	"the body is not a JSON object with a list of member names"
//	@Failure		401		{object}	api.Error	"no or malformed Authorization header (an admin token is configured)"
//	@Failure		403		{object}	api.Error	"wrong admin token"
//	@Failure		409		{object}	api.Error	"a leader is in office, or a named member is not alive here"
//	@Failure		413		{object}	api.Error	"body too large"
//	@Failure		503		{object}	api.Error	"the member cannot do it now"
//	@Failure		504		{object}	api.Error	"the member did not answer in time"
//	@Router			/admin/recover [post]
func (s *Server) postRecover(c echo.Context) error {
	var req api.RecoverRequest
	if err := readObject(c, &req, `{"voters": ["<member name>", ...]}`); err != nil {
		return err
	}
	if len(req.Voters) == 0 {
		return badRequest(`name the members that vote from now on: {"voters": ["<member name>", ...]}`)
	}
	for _, v := range req.Voters {
		if v == "" || len(v) > maxMemberName {
			return badRequest("member names are 1 to %d bytes long", maxMemberName)
		}
	}
	return s.runAction(c, "voters forced", func(ctx context.Context) error { return s.recovery.ForceVoters(ctx, req.Voters) })
}

// readObject reads the request body as exactly one JSON object into v, with
// no field v lacks; anything else is a 400 showing the expected shape.
func readObject(c echo.Context, v any, shape string) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		return badRequest("the body must be one JSON object %s", shape)
	}
	return nil
}
