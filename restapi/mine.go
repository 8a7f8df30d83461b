package restapi

import (
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
)

// pollQuery is the parsed ?index=&wait= of a watch (GET /partitions/mine,
// GET /partitions).
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
//
//	@Summary		This member's partitions (long-poll watch)
//	@Description	What this member's application may work on ("owned") or must finish and let go ("releasing"), with fencing tokens, the term, the leader and the time left on the lease; empty while the lease has run out.
//	@Description
//	@Description	With ?index=N this is a long-poll: it answers as soon as the member's index differs from N (at once if it already does, e.g. after the member restarted), or after ?wait= with the same index. A poll with ?index=N also acknowledges every release announced up to index N; pass ?ack=false to watch without acknowledging, as the dashboard does, and ?incarnation= (from the answer that gave you N) so that an index from before a restart of the member acknowledges nothing.
//	@Description
//	@Description	Each partition carries leaseRemainingMs: how long the app may still work on it (the member's lease, or a releasing partition's release deadline when that comes first). Count it from when you sent the request plus heldMs, the time the server held the request.
//	@Tags			partitions
//	@Produce		json
//	@Param			index	query		integer	false	"wait until the index differs from this one (the X-Ringd-Index of your last answer)"	minimum(0)
//	@Param			wait	query		string	false	"how long to wait: a Go duration (30s, 500ms) or whole seconds; default 30s, larger values are cut to the server's maximum (5m); a random extra of up to wait/16 is added, so that watchers do not all come back at once"
//	@Param			ack		query		boolean	false	"false: do not acknowledge releases with this poll (for observers such as the dashboard, and applications that acknowledge each release by its token)"	default(true)
//	@Param			observer	query	boolean	false	"true: this poll is not the application's (a dashboard, a monitor): it does not count as the application polling for --app-liveness-timeout"	default(false)
//	@Param			incarnation	query	string	false	"the incarnation of the answer that gave you ?index=: a poll for another process of this member (it restarted) acknowledges nothing"
//	@Success		200		{object}	api.Mine
//	@Header			200		{integer}	X-Ringd-Index	"the index of the answer; pass it as ?index= on the next poll"
//	@Failure		400		{object}	api.Error	"bad index, wait or ack"
//	@Router			/partitions/mine [get]
func (s *Server) getMine(c echo.Context) error {
	start := time.Now()
	vals, err := parseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return err
	}
	q, err := s.pollFrom(vals)
	if err != nil {
		return err
	}
	ack, err := boolParam(vals, "ack", true)
	if err != nil {
		return err
	}

	observer, err := boolParam(vals, "observer", false)
	if err != nil {
		return err
	}
	// The application's polls keep it alive (--app-liveness-timeout),
	// whether they acknowledge or not (clientlib acknowledges each release
	// by its token and polls with ?ack=false); an observer says so.
	if w, ok := s.src.(AppWatcher); ok && !observer {
		until := start
		if q.block {
			until = start.Add(q.wait)
		}
		w.AppPolled(until)
	}
	// An index acknowledges only for the process that handed it out: with
	// ?incarnation= naming another one (the member restarted), nothing.
	if a, ok := s.src.(Acknowledger); ok && q.block && ack {
		if inc := vals.Get("incarnation"); inc == "" || s.currentIncarnation() == inc {
			a.AckIndex(q.index)
		}
	}
	if _, pretty := vals["pretty"]; pretty || s.e.Debug {
		// echo indents for ?pretty; the hand encoder writes compact JSON only.
		return s.getMinePretty(c, q, start)
	}
	if !q.block || q.wait <= 0 {
		// A plain read: it shares the newest answer when that is dated at
		// or after the request came in (see answerFor).
		return s.sendAnswer(c, s.answerFor(start), start)
	}
	// A watch: it may wait, and then shares the answer with the other
	// watchers that the same change wakes.
	a := s.mineAnswer(start)
	if a.index == q.index {
		if s.park(c, q, start) {
			// The parking answers it; the connection is no longer net/http's.
			return nil
		}
		var ok bool
		if a, ok = s.waitMine(c, q, start, a); !ok {
			// The client is gone; there is nobody to answer.
			return nil
		}
	}
	return s.sendAnswer(c, a, start)
}

// sendAnswer writes the shared answer a to a request that started at
// start: its head, the request's heldMs and its tail, each written as it
// is (net/http buffers them; copying the answer into one buffer first cost
// more than the extra calls).
func (s *Server) sendAnswer(c echo.Context, a *mineAnswer, start time.Time) error {
	var held [20]byte
	h := strconv.AppendInt(held[:0], a.at.Sub(start).Milliseconds(), 10)
	return s.sendMine(c, a.index, a.head, h, a.tail)
}

// sendMine writes a GET /partitions/mine answer made of parts. It gives the
// length, as the parked answers do: without it net/http sends a large body
// in chunks, a write system call more per answer.
//
// The headers go straight into the map under their canonical names, the
// constant ones sharing their value slices: Header.Set canonicalizes each
// name and allocates each value, a tenth of a plain read's own work.
func (s *Server) sendMine(c echo.Context, index uint64, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	resp := c.Response()
	h := resp.Header()
	h[api.IndexHeader] = []string{strconv.FormatUint(index, 10)}
	h[echo.HeaderCacheControl] = noStoreValue
	h[echo.HeaderContentType] = jsonValue
	h[echo.HeaderContentLength] = []string{strconv.Itoa(n)}
	resp.WriteHeader(http.StatusOK)
	for _, p := range parts {
		if _, err := resp.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// The constant header values of sendMine. Nothing changes a header value
// in place (Set replaces the slice, Add appends to a full one and so copies).
var (
	noStoreValue = []string{"no-store"}
	jsonValue    = []string{echo.MIMEApplicationJSON}
)

// waitMine is watch for GET /partitions/mine on shared answers: it blocks
// until the index moves away from q.index, the wait runs out, the server
// shuts down or the client goes away, and returns the answer to send (false:
// the client is gone). It holds only the index and the change channel while
// it waits, not the view: with thousands of watchers the views would be
// most of the member's memory.
func (s *Server) waitMine(c echo.Context, q pollQuery, start time.Time, a *mineAnswer) (*mineAnswer, bool) {
	s.polls.Add(1)
	defer s.polls.Add(-1)

	timer := time.NewTimer(q.wait)
	defer timer.Stop()
	ctx := c.Request().Context()
	changed := a.changed
	for {
		select {
		case <-changed:
			// A wake-up is not trusted: the index may be the same (see watch).
			next := s.mineAnswer(start)
			if next.index != q.index {
				return next, true
			}
			changed = next.changed
		case <-timer.C:
			// Read again: fields such as the lease change without the index.
			return s.mineAnswer(time.Now()), true
		case <-s.quit:
			return s.mineAnswer(time.Now()), true
		case <-ctx.Done():
			return nil, false
		}
	}
}

// getMinePretty answers GET /partitions/mine?pretty through echo's JSON
// encoder, as before the hand encoder.
func (s *Server) getMinePretty(c echo.Context, q pollQuery, start time.Time) error {
	// heldMs runs to when the view was read, not to when it is sent:
	// its remaining times are those of the read.
	var readAt time.Time
	view, ok := watch(s, c, q, func() (api.Mine, uint64, <-chan struct{}) {
		readAt = time.Now()
		v, ch := s.src.Mine()
		return v, v.Index, ch
	})
	if !ok {
		return nil
	}
	// Hand out [] rather than null: clients iterate it, and the design shows a
	// list. Copy, so the Source's slice is never touched.
	if view.Partitions == nil {
		view.Partitions = []api.Partition{}
	}
	view.HeldMs = readAt.Sub(start).Milliseconds()
	setIndex(c, view.Index)
	noStore(c)
	return c.JSON(http.StatusOK, view)
}

// currentIncarnation is the incarnation GET /partitions/mine shows now.
func (s *Server) currentIncarnation() string {
	v, _ := s.src.Mine()
	return v.Incarnation
}

// setIndex puts a watch's index into the response header.
func setIndex(c echo.Context, index uint64) {
	c.Response().Header().Set(api.IndexHeader, strconv.FormatUint(index, 10))
}

// watch reads a view with read and, when q is a long-poll whose index equals
// the view's, blocks until the index changes, the wait runs out, the server
// shuts down or the client goes away. It returns the view to send and false
// when the client went away (the caller then writes nothing).
//
// read returns the view, its index and a channel closed when the index may
// have changed. A wake-up is not trusted: read runs again and the wait goes
// on if the index is the same (a Source may close the channel for a change
// that left the index alone). At the end of the wait the view is read once
// more, because the one held has stale fields (leaseRemainingMs) even though
// its index is the same.
//
// The connection's deadlines need no care here: net/http clears the read
// deadline (ReadTimeout) once the request is read, and the http.Server's
// WriteTimeout is MaxWait plus slack (see New).
func watch[T any](s *Server, c echo.Context, q pollQuery, read func() (T, uint64, <-chan struct{})) (T, bool) {
	view, index, changed := read()
	if !q.block || index != q.index || q.wait <= 0 {
		return view, true
	}

	s.polls.Add(1)
	defer s.polls.Add(-1)

	timer := time.NewTimer(q.wait)
	defer timer.Stop()
	ctx := c.Request().Context()

	for index == q.index {
		select {
		case <-changed:
			view, index, changed = read()
		case <-timer.C:
			view, _, _ = read()
			return view, true
		case <-s.quit:
			view, _, _ = read()
			return view, true
		case <-ctx.Done():
			// net/http cancels the context when the client closes the
			// connection; return now so the goroutine is freed at once.
			return view, false
		}
	}
	return view, true
}

// parseQuery parses a raw query string. Handlers read the raw query
// themselves because echo's QueryParams drops malformed pairs silently, and
// "?index=%zz" must be a 400, not a poll without index.
func parseQuery(raw string) (url.Values, error) {
	if raw == "" {
		// Most requests; a nil Values reads as empty.
		return nil, nil
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("the query string is malformed (%v); encode it as application/x-www-form-urlencoded", err)
	}
	return vals, nil
}

// single returns the one value of query parameter name; ok is false when it
// is absent. Given twice it is a 400: which one was meant is a guess.
func single(vals url.Values, name string) (v string, ok bool, err error) {
	vs, ok := vals[name]
	if !ok {
		return "", false, nil
	}
	if len(vs) != 1 {
		return "", false, badRequest("%s is given %d times; give it once", name, len(vs))
	}
	return vs[0], true, nil
}

// boolParam reads an optional boolean query parameter (true/false/1/0).
func boolParam(vals url.Values, name string, def bool) (bool, error) {
	v, ok, err := single(vals, name)
	if err != nil || !ok {
		return def, err
	}
	b, perr := strconv.ParseBool(v)
	if perr != nil {
		return def, badRequest("%s must be true or false, got %s", name, quote(v))
	}
	return b, nil
}

// parsePoll parses the ?index=&wait= of a watch from a raw query.
func (s *Server) parsePoll(raw string) (pollQuery, error) {
	vals, err := parseQuery(raw)
	if err != nil {
		return pollQuery{}, err
	}
	return s.pollFrom(vals)
}

// pollFrom reads ?index= and ?wait= of a watch.
func (s *Server) pollFrom(vals url.Values) (pollQuery, error) {
	var q pollQuery
	if v, ok, err := single(vals, "index"); err != nil {
		return pollQuery{}, err
	} else if ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return pollQuery{}, badRequest("index must be a non-negative integer (the %s header of your last response), got %s", api.IndexHeader, quote(v))
		}
		q.block, q.index = true, n
	}

	q.wait = s.opts.DefaultWait
	if v, ok, err := single(vals, "wait"); err != nil {
		return pollQuery{}, err
	} else if ok {
		d, err := parseWait(v)
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
	if q.block {
		q.wait += pollJitter(q.wait)
	}
	return q, nil
}

// pollJitter is a random extra wait of up to wait/16 (as Consul adds): a
// thousand watchers that started together would otherwise all come back
// at the same instant, every time their wait runs out.
func pollJitter(wait time.Duration) time.Duration {
	if wait < 16 {
		return 0
	}
	return rand.N(wait / 16)
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
