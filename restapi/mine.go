package restapi

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/restapi/api"
)

// pollQuery is the parsed ?index=&wait= of GET /partitions/mine.
type pollQuery struct {
	// block is true when the client gave ?index= (a long-poll).
	block bool
	index uint64
	wait  time.Duration
}

// getMine serves GET /partitions/mine, optionally as a long-poll in the manner
// of Consul blocking queries: with ?index=N it answers at once if the current
// index is not N (greater, or smaller after this member restarted), and
// otherwise waits until the index changes, ?wait= runs out, the client goes
// away or the server shuts down.
func (s *Server) getMine(c echo.Context) error {
	q, err := s.parsePoll(c.Request().URL.RawQuery)
	if err != nil {
		return err
	}

	if ack, ok := s.src.(Acknowledger); ok && q.block {
		ack.AckIndex(q.index)
	}
	view, changed := s.src.Mine()
	if q.block && view.Index == q.index && q.wait > 0 {
		var ok bool
		view, ok = s.awaitChange(c, q, view, changed)
		if !ok {
			// The client is gone; there is nobody to answer.
			return nil
		}
	}

	// Hand out [] rather than null: clients iterate it, and the design shows a
	// list. Copy, so the Source's slice is never touched.
	if view.Partitions == nil {
		view.Partitions = []api.Partition{}
	}
	h := c.Response().Header()
	h.Set(api.IndexHeader, strconv.FormatUint(view.Index, 10))
	noStore(c)
	return c.JSON(http.StatusOK, view)
}

// awaitChange blocks while the view's index equals q.index. It returns the view
// to send and false when the client went away (the caller then writes nothing).
//
// The connection's deadlines need no care here: net/http clears the read
// deadline (ReadTimeout) once the request is read, and the http.Server's
// WriteTimeout is MaxWait plus slack (see New).
func (s *Server) awaitChange(c echo.Context, q pollQuery, view api.Mine, changed <-chan struct{}) (api.Mine, bool) {
	s.polls.Add(1)
	defer s.polls.Add(-1)

	timer := time.NewTimer(q.wait)
	defer timer.Stop()
	ctx := c.Request().Context()

	for view.Index == q.index {
		select {
		case <-changed:
			// Re-read rather than trust the wake-up: a Source may close the
			// channel for a change that left the index alone, and then we
			// keep waiting on the fresh channel.
			view, changed = s.src.Mine()
		case <-timer.C:
			return s.fresh(), true
		case <-s.quit:
			return s.fresh(), true
		case <-ctx.Done():
			// net/http cancels the context when the client closes the
			// connection; return now so the goroutine is freed at once.
			return view, false
		}
	}
	return view, true
}

// fresh re-reads the view: after a long wait the one we hold has a stale
// leaseRemainingMs even though its index is the same.
func (s *Server) fresh() api.Mine {
	view, _ := s.src.Mine()
	return view
}

// parsePoll parses the query of GET /partitions/mine. It reads the raw query
// itself because echo's QueryParams drops malformed pairs silently, and
// "?index=%zz" must be a 400, not a poll without index.
func (s *Server) parsePoll(raw string) (pollQuery, error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return pollQuery{}, badRequest("the query string is malformed (%v); encode it as application/x-www-form-urlencoded", err)
	}
	var q pollQuery

	if vs, ok := vals["index"]; ok {
		if len(vs) != 1 {
			return pollQuery{}, badRequest("index is given %d times; give it once", len(vs))
		}
		n, err := strconv.ParseUint(vs[0], 10, 64)
		if err != nil {
			return pollQuery{}, badRequest("index must be a non-negative integer (the %s header of your last response), got %s", api.IndexHeader, quote(vs[0]))
		}
		q.block, q.index = true, n
	}

	q.wait = s.opts.DefaultWait
	if vs, ok := vals["wait"]; ok {
		if len(vs) != 1 {
			return pollQuery{}, badRequest("wait is given %d times; give it once", len(vs))
		}
		d, err := parseWait(vs[0])
		if err != nil {
			return pollQuery{}, err
		}
		q.wait = d
	}
	// Clamp rather than refuse: the client's intent ("wait long") is clear and
	// it re-polls anyway.
	if q.wait > s.opts.MaxWait {
		q.wait = s.opts.MaxWait
	}
	return q, nil
}

// parseWait accepts a Go duration ("30s", "500ms") or whole seconds ("30"), as
// Consul does. "0" is allowed and means answer at once.
func parseWait(v string) (time.Duration, error) {
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		// Guard the multiplication; the caller clamps to MaxWait anyway.
		if n > uint64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64), nil
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, badRequest(`wait must be a duration like "30s" or "500ms", or whole seconds like "30"; got %s`, quote(v))
	}
	if d < 0 {
		return 0, badRequest("wait must not be negative, got %s", quote(v))
	}
	return d, nil
}
