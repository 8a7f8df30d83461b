package clientlib

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// Run watches what the local ringd says this member owns and runs h.Work
// for each partition it gains, until ctx ends. Then it cancels every worker
// (cause ErrStopped) and waits for each to return, still polling so that
// renewals keep their deadlines and the releases ringd asks for meanwhile are
// acknowledged, and returns nil. It returns an error only when it cannot
// start: h is nil, or Run is already running on c.
//
// Whatever happens to ringd or the connection to it, a worker's context is
// cancelled the margin (WithMargin) before the partition's deadline unless a
// fresh answer of ringd moved the deadline on. Through every Run of one
// Client, a partition is never worked on by two workers at once, and a
// grant is never started with a token lower than one already started. A
// worker that never returns keeps Run from returning (it is reported lost).
func (c *Client) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return errors.New("clientlib: Run needs a Handler")
	}
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer c.running.Store(false)
	if _, busy := runningFor.LoadOrStore(c.base.String(), c); busy {
		return ErrRunning
	}
	defer runningFor.Delete(c.base.String())
	c.idle.Store(false) // until ringd has answered (or failed to)

	if c.slots == nil {
		c.slots = map[int]*slot{}
	}
	for _, s := range c.slots {
		// What an earlier Run saw is stale; the tokens it started are not.
		s.listed, s.retryAt, s.failures = nil, time.Time{}, 0
	}
	r := &runner{
		c:      c,
		h:      h,
		slots:  c.slots,
		events: make(chan event),
		// Workers, acknowledgements and the poll outlive ctx (Run waits
		// for the workers), but keep its values.
		base: context.WithoutCancel(ctx),
	}
	r.lostHandler, _ = h.(LostHandler)
	r.standbyHandler, _ = h.(StandbyHandler)

	answers := make(chan answer)
	pollCtx, stopPoll := context.WithCancel(r.base)
	polling := make(chan struct{})
	go func() {
		defer close(polling)
		c.poll(pollCtx, answers)
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	done := ctx.Done()
	for {
		if ctx.Err() != nil && !r.stopping {
			r.stopping, done = true, nil
		}
		now := time.Now()
		r.reconcileAll(now)
		if r.stopping && r.inflight == 0 {
			break
		}
		timer.Reset(r.nextWake(now))
		select {
		case a := <-answers:
			r.onAnswer(a)
		case e := <-r.events:
			r.onEvent(e)
		case <-timer.C:
		case <-done:
		}
	}
	stopPoll()
	<-polling
	c.owned.Store(nil)
	c.idle.Store(true)
	if c.ownTransport {
		// Idle keep-alive connections hold goroutines of the transport; a
		// returned Run leaves none behind (later requests reconnect).
		c.http.CloseIdleConnections()
	}
	return nil
}

// runningFor holds the address of every ringd a Run of this process works
// for: two Runs for one member would each start its workers.
var runningFor sync.Map

// WaitIdle waits until this member holds nothing: ringd lists no partition
// for it (or the ones it listed have run out) and every worker and
// acknowledgement has returned. It returns at once when Run is not running,
// and ctx.Err() when ctx ends first.
//
// On Kubernetes, call it on SIGTERM before ending Run: the ringd beside the
// application gets SIGTERM too and hands its partitions over, and Run keeps
// stopping their workers and acknowledging the releases until none is left,
// so that the next owners start at once rather than after ringd's
// --release-timeout.
func (c *Client) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	for c.running.Load() && !c.idle.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Owned is a snapshot of the partitions this process works on now: those
// whose worker runs, has not been asked to stop, and whose deadline has not
// passed. Sorted by id.
func (c *Client) Owned() []Partition {
	p := c.owned.Load()
	if p == nil {
		return nil
	}
	now := time.Now()
	var out []Partition
	for _, x := range *p {
		if now.Before(x.Deadline()) {
			out = append(out, x)
		}
	}
	return out
}

// runner is the state of one Run. Only Run's goroutine touches it (and the
// slots, which the Client keeps across Runs); workers, acknowledgements and
// Lost calls report back through events.
type runner struct {
	c           *Client
	h           Handler
	lostHandler LostHandler
	// standbyHandler, when h has one, hears the standby list; standby is
	// the last list it was given (standbySeen: one was).
	standbyHandler StandbyHandler
	standby        []Standby
	standbySeen    bool
	base           context.Context

	slots  map[int]*slot
	events chan event
	// inflight counts goroutines that will send one event: workers,
	// acknowledgements, Lost calls. Run returns when it is 0.
	inflight int
	stopping bool
	// heard is true once ringd answered or a poll failed: before, idle
	// means nothing.
	heard bool

	incarnation string
}

// slot is one partition as this process sees it.
type slot struct {
	id int
	// listed is the partition in the latest answer of ringd; nil when that
	// answer did not list it.
	listed *listing
	// w is the worker running for it, if any.
	w *worker
	// maxStarted is the highest token started: a lower one never is.
	maxStarted uint64
	// over is the highest token ringd listed as releasing: that grant is
	// never started again.
	over uint64
	// acked is the token whose release was acknowledged (or is being).
	acked uint64
	// retryAt: a worker that returned on its own runs again no earlier;
	// failures counts such returns in a row.
	retryAt    time.Time
	retryToken uint64
	failures   int
	// losing is true while a LostHandler call for this partition runs:
	// nothing else starts for it meanwhile.
	losing bool
	// warned is the token last reported as arriving too late to start.
	warned uint64
}

// listing is a partition as one answer listed it.
type listing struct {
	token    uint64
	state    grantState
	deadline time.Time
}

type grantState int

const (
	owned grantState = iota
	releasing
	// unknown is a state this version does not know: not a licence to
	// work, and nothing to acknowledge.
	unknown
)

func parseState(s string) grantState {
	switch s {
	case "owned":
		return owned
	case "releasing":
		return releasing
	}
	return unknown
}

// worker is one running Work call.
type worker struct {
	p           Partition
	cancel      context.CancelCauseFunc
	startedAt   time.Time
	cancelled   bool
	cancelledAt time.Time
	cause       error
	lost        bool
}

type eventKind int

const (
	workerDone eventKind = iota
	ackDone
	lostDone
)

// event is the report of a goroutine Run started.
type event struct {
	kind  eventKind
	id    int
	w     *worker
	err   error
	at    time.Time
	token uint64
	ok    bool
}

// onAnswer takes a new answer of ringd as the truth about what this member
// owns: a running grant listed under its token gets the new deadline.
func (r *runner) onAnswer(a answer) {
	r.heard = true
	if a.failed {
		return // ringd did not answer: what it listed last stands
	}
	m := a.mine
	if r.incarnation != "" && m.Incarnation != r.incarnation {
		r.c.log.Info("ringd restarted; grants of its previous process are over", "node", m.Node, "incarnation", m.Incarnation)
	}
	r.incarnation = m.Incarnation
	r.noteStandby(m.Standby)

	base := a.base()
	listed := map[int]*listing{}
	for _, p := range m.Partitions {
		if p.ID < 0 {
			r.c.log.Warn("ringd listed a negative partition id; ignoring it", "partition", p.ID)
			continue
		}
		if prev, dup := listed[p.ID]; dup && prev.token >= p.Token {
			continue
		}
		listed[p.ID] = &listing{
			token:    p.Token,
			state:    parseState(p.State),
			deadline: base.Add(leaseDuration(p.LeaseRemainingMs)),
		}
	}
	for _, s := range r.slots {
		s.listed = nil
	}
	for id, l := range listed {
		s := r.slots[id]
		if s == nil {
			s = &slot{id: id}
			r.slots[id] = s
		}
		s.listed = l
		if l.state == releasing && l.token > s.over {
			s.over = l.token
		}
		if s.w != nil && s.w.p.Token == l.token {
			s.w.p.lease.set(l.deadline)
		}
	}
}

// onEvent takes the report of a worker, acknowledgement or Lost call.
func (r *runner) onEvent(e event) {
	r.inflight--
	s := r.slots[e.id]
	switch e.kind {
	case workerDone:
		r.workerReturned(s, e)
	case ackDone:
		if e.ok {
			r.c.log.Debug("release acknowledged", "partition", e.id, "token", e.token)
		} else {
			r.c.log.Debug("release not acknowledged (ringd no longer waits for it)", "partition", e.id, "token", e.token, "error", e.err)
		}
	case lostDone:
		s.losing = false
	}
}

func (r *runner) workerReturned(s *slot, e event) {
	w := e.w
	s.w = nil
	w.cancel(nil) // frees the context of a worker that returned on its own
	deadline := w.p.Deadline()
	if !w.cancelled {
		// The application gave up a partition it still owns: run it again
		// after a backoff, as a supervisor would.
		if e.at.Sub(w.startedAt) > r.c.maxBackoff {
			s.failures = 0
		}
		if w.p.Token != s.retryToken {
			s.failures = 0
		}
		s.failures++
		s.retryAt, s.retryToken = e.at.Add(r.c.backoff(s.failures)), w.p.Token
	}
	switch {
	case !e.at.Before(deadline) || w.lost:
		// Checked first: a worker that ran past its deadline is lost
		// however it ended (say the process was paused across the
		// margin and the worker returned before the timer fired).
		if !w.lost {
			r.reportLost(s, w, e.at)
		}
		r.c.log.Warn("worker of a lost partition returned", "partition", w.p.ID, "token", w.p.Token, "late_by", e.at.Sub(deadline).Round(time.Millisecond))
	case !w.cancelled:
		r.c.log.Warn("worker returned while the partition is still owned; running it again after a backoff",
			"partition", w.p.ID, "token", w.p.Token, "error", e.err, "retry_in", s.retryAt.Sub(e.at).Round(time.Millisecond))
	default:
		s.failures = 0
		r.c.log.Info("released", "partition", w.p.ID, "token", w.p.Token, "why", w.cause, "took", e.at.Sub(w.cancelledAt).Round(time.Millisecond))
	}
}

// reconcileAll brings every slot in line with what ringd said last and with
// the clock, and publishes the Owned snapshot.
func (r *runner) reconcileAll(now time.Time) {
	var owned []Partition
	idle := r.inflight == 0 && r.heard
	for _, s := range r.slots {
		r.reconcile(s, now)
		if s.w != nil && !s.w.cancelled {
			owned = append(owned, s.w.p)
		}
		if s.listed != nil && now.Before(s.listed.deadline) {
			idle = false
		}
	}
	slices.SortFunc(owned, func(a, b Partition) int { return a.ID - b.ID })
	r.c.owned.Store(&owned)
	r.c.idle.Store(idle && r.inflight == 0)
}

// reconcile is the heart of the library: it cancels a worker whose grant is
// over or about to run out, reports a worker lost that outlived its
// deadline, acknowledges a release once no worker runs, and starts a worker
// for a grant that is owned, fresh and newer than anything before.
func (r *runner) reconcile(s *slot, now time.Time) {
	if w := s.w; w != nil {
		if !w.cancelled {
			l := s.listed
			switch {
			case r.stopping:
				r.cancel(w, ErrStopped, now)
			case l == nil || l.token != w.p.Token || l.state != owned:
				r.cancel(w, ErrRevoked, now)
			case !now.Before(w.p.Deadline().Add(-r.c.margin)):
				r.cancel(w, ErrLeaseExpiring, now)
			}
		}
		if w.cancelled && !w.lost && !now.Before(r.lostAt(w)) {
			r.reportLost(s, w, now)
		}
		return // the next grant starts once this worker returned
	}
	l := s.listed
	switch {
	case l == nil || l.state == unknown:
	case l.state == releasing:
		if s.acked != l.token && now.Before(l.deadline) {
			s.acked = l.token
			r.ack(s.id, l.token, l.deadline)
		}
	case r.stopping, s.losing, l.token < s.maxStarted, l.token <= s.over,
		l.token == s.retryToken && now.Before(s.retryAt):
	case !now.Before(l.deadline.Add(-r.c.margin)):
		if s.warned != l.token && l.token > s.maxStarted {
			s.warned = l.token
			r.c.log.Warn("not starting a grant that arrived with less than the margin left (is the margin above ringd's --lease?)",
				"partition", s.id, "token", l.token, "left", l.deadline.Sub(now).Round(time.Millisecond), "margin", r.c.margin)
		}
	default:
		r.start(s, l, now)
	}
}

// lostAt is when a cancelled worker that has not returned counts as lost.
func (r *runner) lostAt(w *worker) time.Time {
	at := w.p.Deadline()
	if r.c.returnTimeout > 0 {
		if t := w.cancelledAt.Add(r.c.returnTimeout); t.Before(at) {
			at = t
		}
	}
	return at
}

// nextWake is how long Run may sleep before reconcile has something to do
// that no event will prompt: a deadline minus the margin, a worker turning
// lost, a retry, a listing running out.
func (r *runner) nextWake(now time.Time) time.Duration {
	next := now.Add(time.Hour)
	earlier := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	for _, s := range r.slots {
		switch w := s.w; {
		case w != nil && !w.cancelled:
			earlier(w.p.Deadline().Add(-r.c.margin))
		case w != nil && !w.lost:
			earlier(r.lostAt(w))
		case w == nil && s.listed != nil && s.listed.state == owned && s.listed.token == s.retryToken && s.retryAt.After(now):
			earlier(s.retryAt)
		}
		if s.listed != nil && s.listed.deadline.After(now) {
			// Past it the listing no longer counts (WaitIdle), even if
			// no answer comes to say so.
			earlier(s.listed.deadline)
		}
	}
	return max(next.Sub(now), 0)
}

func (r *runner) start(s *slot, l *listing, now time.Time) {
	p := Partition{ID: s.id, Token: l.token, lease: &lease{deadline: l.deadline}}
	ctx, cancel := context.WithCancelCause(r.base)
	w := &worker{p: p, cancel: cancel, startedAt: now}
	s.w = w
	s.maxStarted = l.token
	r.inflight++
	r.c.log.Info("acquired", "partition", p.ID, "token", p.Token, "deadline_in", l.deadline.Sub(now).Round(time.Millisecond))
	go func() {
		err := r.h.Work(ctx, p)
		r.events <- event{kind: workerDone, id: p.ID, w: w, err: err, at: time.Now()}
	}()
}

func (r *runner) cancel(w *worker, cause error, now time.Time) {
	w.cancelled, w.cancelledAt, w.cause = true, now, cause
	w.cancel(cause)
	r.c.log.Debug("stopping worker", "partition", w.p.ID, "token", w.p.Token, "why", cause)
}

func (r *runner) reportLost(s *slot, w *worker, now time.Time) {
	w.lost = true
	r.c.log.Error("partition lost: its worker did not return in time and may overlap with the next owner; commit nothing with this token",
		"partition", w.p.ID, "token", w.p.Token, "deadline_ago", now.Sub(w.p.Deadline()).Round(time.Millisecond))
	if r.lostHandler == nil {
		return
	}
	r.inflight++
	s.losing = true
	go func() {
		r.lostHandler.Lost(w.p)
		r.events <- event{kind: lostDone, id: w.p.ID}
	}()
}

// ack acknowledges a release in the background, bounded by the partition's
// deadline: after it ringd lets go by itself.
func (r *runner) ack(id int, token uint64, deadline time.Time) {
	r.inflight++
	go func() {
		ctx, cancel := context.WithDeadline(r.base, deadline)
		defer cancel()
		ok, err := r.c.release(ctx, id, token)
		r.events <- event{kind: ackDone, id: id, token: token, ok: ok, err: err}
	}()
}

// noteStandby passes the standby list of an answer to the StandbyHandler
// when it differs from the last one passed.
func (r *runner) noteStandby(list []api.Standby) {
	if r.standbyHandler == nil {
		return
	}
	next := make([]Standby, 0, len(list))
	for _, s := range list {
		if s.ID >= 0 {
			next = append(next, Standby{ID: s.ID, Rank: s.Rank, Owner: s.Owner})
		}
	}
	slices.SortFunc(next, func(a, b Standby) int { return a.ID - b.ID })
	if r.standbySeen && slices.Equal(next, r.standby) {
		return
	}
	r.standby, r.standbySeen = next, true
	r.standbyHandler.Standby(slices.Clone(next))
}
