package restapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
)

// maxKeyBytes bounds the key of GET /partitions/locate: keys are ids and
// names, and the hash does not need more to spread them.
const maxKeyBytes = 1024

// getTable serves GET /partitions, a watch like GET /partitions/mine over the
// whole table.
//
//	@Summary		The whole assignment table (long-poll watch)
//	@Description	Every partition with its owner, the owner's API address, its fencing token and state ("owned", "releasing" or "unassigned"), as this member knows the table, with the members of the configuration, the leader and the term.
//	@Description
//	@Description	With ?index=N this is a long-poll like GET /partitions/mine: it answers as soon as the table's index differs from N, or after ?wait= with the same index. This index is the table's own (it grows when the table, the leader or the membership changes), not the one of /partitions/mine. Polling this endpoint acknowledges nothing.
//	@Tags			partitions
//	@Produce		json
//	@Param			index	query		integer	false	"wait until the index differs from this one (the X-Ringd-Index of your last answer)"	minimum(0)
//	@Param			wait	query		string	false	"how long to wait: a Go duration (30s, 500ms) or whole seconds; default 30s, larger values are cut to the server's maximum (5m); a random extra of up to wait/16 is added, so that watchers do not all come back at once"
//	@Success		200		{object}	api.Table
//	@Header			200		{integer}	X-Ringd-Index	"the index of the answer; pass it as ?index= on the next poll"
//	@Failure		400		{object}	api.Error	"bad index or wait"
//	@Router			/partitions [get]
func (s *Server) getTable(c echo.Context) error {
	q, err := s.parsePoll(c.Request().URL.RawQuery)
	if err != nil {
		return err
	}
	t, ok := watch(s, c, q, func() (api.Table, uint64, <-chan struct{}) {
		t, ch := s.cs.Table()
		return t, t.Index, ch
	})
	if !ok {
		return nil
	}
	if t.Members == nil {
		t.Members = []string{}
	}
	if t.Voters == nil {
		t.Voters = []string{}
	}
	if t.Partitions == nil {
		t.Partitions = []api.Entry{}
	}
	setIndex(c, t.Index)
	noStore(c)
	return c.JSON(http.StatusOK, t)
}

// getPartition serves GET /partitions/{id}.
//
//	@Summary		One partition
//	@Description	The partition's owner, the owner's API address, its fencing token and state, as this member knows the table. A partition that exists but has no owner yet (no table, or between a release and the next grant) is "unassigned".
//	@Tags			partitions
//	@Produce		json
//	@Param			id	path		integer	true	"partition id, 0..P-1"	minimum(0)
//	@Success		200	{object}	api.Entry
//	@Failure		400	{object}	api.Error	"id is not a non-negative integer"
//	@Failure		404	{object}	api.Error	"no such partition (id >= P)"
//	@Router			/partitions/{id} [get]
func (s *Server) getPartition(c echo.Context) error {
	id, err := partitionID(c.Param("id"))
	if err != nil {
		return err
	}
	t, _ := s.cs.Table()
	n := s.partitionCount(t)
	if id < 0 || id >= n {
		return noPartition(c.Param("id"), n)
	}
	noStore(c)
	return c.JSON(http.StatusOK, entryOf(t, id))
}

// entryOf finds partition id in t, or describes it as unassigned when the
// table does not have it (no table yet).
func entryOf(t api.Table, id int) api.Entry {
	if id < len(t.Partitions) && t.Partitions[id].ID == id {
		return t.Partitions[id]
	}
	for _, e := range t.Partitions {
		if e.ID == id {
			return e
		}
	}
	return api.Entry{ID: id, State: "unassigned"}
}

// partitionCount is P: the configured count when the Source says it, else the
// size of the table.
func (s *Server) partitionCount(t api.Table) int {
	n := len(t.Partitions)
	if p := s.src.Cluster().Partitions; p > n {
		n = p
	}
	return n
}

// noPartition is the 404 for a partition id >= P; raw is the id as the
// client gave it (it may be too large for an int).
func noPartition(raw string, n int) error {
	if n == 0 {
		return echo.NewHTTPError(http.StatusNotFound, "no partition "+quote(raw)+": this member knows of no partitions yet")
	}
	return echo.NewHTTPError(http.StatusNotFound,
		"no partition "+quote(raw)+": there are "+strconv.Itoa(n)+", ids 0.."+strconv.Itoa(n-1))
}

// partitionID parses the {id} of a path. A non-negative integer too large for
// an int gets id -1 and no error: it names a partition that cannot exist (a
// 404, like any id >= P), not a malformed one.
func partitionID(v string) (int, error) {
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return 0, badRequest("partition id must be a non-negative integer, got %s", quote(v))
	}
	id, err := strconv.Atoi(v)
	if err != nil {
		return -1, nil
	}
	return id, nil
}

// getLocate serves GET /partitions/locate?key=K.
//
//	@Summary		Which partition, and which member, a key belongs to
//	@Description	Hashes the key as every member does and returns its partition with the partition's owner, the owner's API address, token and state: an application uses it to send work for a key to the member that owns it.
//	@Tags			partitions
//	@Produce		json
//	@Param			key	query		string	true	"the application's key (1 to 1024 bytes, URL-encoded)"
//	@Success		200	{object}	api.Locate
//	@Failure		400	{object}	api.Error	"no key, an empty one or one over 1024 bytes"
//	@Router			/partitions/locate [get]
func (s *Server) getLocate(c echo.Context) error {
	vals, err := parseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return err
	}
	key, ok, err := single(vals, "key")
	if err != nil {
		return err
	}
	switch {
	case !ok:
		return badRequest("give the key to look up as ?key=, URL-encoded")
	case key == "":
		return badRequest("key must not be empty")
	case len(key) > maxKeyBytes:
		return badRequest("key is %d bytes long; at most %d are allowed", len(key), maxKeyBytes)
	}
	loc := s.cs.Locate(key)
	noStore(c)
	return c.JSON(http.StatusOK, loc)
}
