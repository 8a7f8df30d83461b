package restapi

import (
	"bytes"
	"container/heap"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
)

// Parked long-polls.
//
// A long-poll on GET /partitions/mine that has to wait used to keep its
// net/http connection goroutine, the goroutine net/http reads the connection
// with to see the client leave, their stacks and the connection's buffers:
// ~35 KB a watcher, 349 MB for 10,000 (figure f of docs/benchmarks.md). So a
// watch that must wait is parked instead: the handler takes the connection
// from net/http (http.Hijacker), writes down the index it waits on, when its
// wait runs out and the headers of its answer, and returns. One goroutine
// (parking.run) holds every parked poll and answers them all when the index
// moves, each with the shared encoding of the new view, or one by one when
// their ?wait= runs out. A parked poll costs its socket and ~200 bytes.
//
// After the answer the connection stays parked, idle, until the client
// sends its next request, and only then goes back to net/http through the
// listener Serve wraps (handBackListener), so keep-alive goes on and an idle
// connection does not cost net/http's goroutine and buffers either (10,000
// of those were 100 MB). Both waits are watched by departures (epoll on
// Linux): a client that leaves is closed at once, a next request hands the
// connection back. Elsewhere the connection goes back to net/http right
// after the answer, and a client that leaves while parked is noticed at its
// answer.
//
// Where a connection cannot be taken (HTTP/1.0, a ResponseWriter without
// Hijack such as httptest.ResponseRecorder or HTTP/2, ?pretty), the handler
// waits in its own goroutine as before (waitMine).

// mineRoute is the route whose long-polls are parked.
const mineRoute = "/partitions/mine"

// parkedKey marks, in the echo.Context, a request the handler parked: the
// metrics and logging middlewares leave it to parking.finish.
const parkedKey = "ringd.parked"

// parked tells whether the request of c was parked.
func parked(c echo.Context) bool { return c.Get(parkedKey) != nil }

// parkedPoll is one waiting GET /partitions/mine long-poll.
type parkedPoll struct {
	conn net.Conn
	// index is the index the client has; the poll is answered when the
	// member's differs.
	index uint64
	// start is when the request came in (heldMs counts from it) and until
	// when its wait runs out.
	start, until time.Time
	// header holds the answer's headers that do not depend on the view
	// ("Name: value\r\n" each): what middlewares set, the content type and
	// the cache control.
	header []byte
	// keep: hand the connection back to net/http after the answer
	// (keep-alive); otherwise the answer says "Connection: close".
	keep bool
	// idle: answered; the connection waits for the client's next request
	// (until is then when it is closed, as net/http's IdleTimeout would).
	idle bool
	// slot is the poll's place in parking.byDeadline (-1: not in it).
	slot int
	// watch is the departures registration (0: none); registered: the
	// socket is in the departures' set (it stays there, disarmed, between
	// an answer and the rest that follows it).
	watch      uint32
	registered bool
}

// departures watches parked connections: it calls back (outside any lock
// of the parking) with the poll whose peer closed the connection, or, for
// an idle one, sent its next request (readable). startDepartures is per
// platform.
type departures interface {
	// watch starts watching poll.conn, for readability too when poll.idle,
	// and returns the registration (0: cannot watch; a waiting poll is then
	// answered at its deadline or change, an idle connection goes straight
	// back to net/http).
	watch(poll *parkedPoll) uint32
	// unwatch stops watching poll and takes its socket out of the set
	// (before the connection goes back to net/http or is closed).
	unwatch(poll *parkedPoll)
	// forget stops reporting poll's events (before it is answered); its
	// socket may stay in the set until it rests (watch) or is closed.
	forget(poll *parkedPoll)
	// stop ends the watching; every poll is unwatched already.
	stop()
}

// noDepartures watches nothing.
type noDepartures struct{}

func (noDepartures) watch(*parkedPoll) uint32 { return 0 }
func (noDepartures) unwatch(*parkedPoll)      {}
func (noDepartures) forget(*parkedPoll)       {}
func (noDepartures) stop()                    {}

// parking holds the parked polls of one Server and the goroutine that
// answers them, which runs only while there are any.
type parking struct {
	s *Server

	mu         sync.Mutex
	byDeadline deadlineHeap
	// perIndex counts the waiting (not idle) polls per index they wait on:
	// when the member's index is the only one, no poll is due but for its
	// deadline.
	perIndex map[uint64]int
	running  bool
	// kick wakes the goroutine: a poll was parked.
	kick chan struct{}
	// gone is where departures report a client that left.
	gone departures
	// back takes answered connections back into the http.Server (nil when
	// the Server is not serving through Serve).
	back *handBackListener
	// stopped is closed when the running goroutine ends (Shutdown waits
	// on it).
	stopped chan struct{}
	// idleFor is how long an answered connection may wait for the next
	// request: the http.Server's IdleTimeout.
	idleFor time.Duration
}

func newParking(s *Server) *parking {
	return &parking{s: s, perIndex: map[uint64]int{}, kick: make(chan struct{}, 1), idleFor: idleTimeout}
}

// park takes the connection of a GET /partitions/mine long-poll that must
// wait on index q.index and parks it. It returns false, having touched
// nothing, when the connection cannot be taken; then the caller waits as
// before.
func (s *Server) park(c echo.Context, q pollQuery, start time.Time) bool {
	req := c.Request()
	if !req.ProtoAtLeast(1, 1) || req.Method != http.MethodGet {
		return false
	}
	select {
	case <-s.quit:
		// Shutting down: the caller answers at once.
		return false
	default:
	}
	// The headers first: after Hijack the Response is no longer ours.
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	noStore(c)
	for _, k := range []string{api.IndexHeader, echo.HeaderContentLength, "Date", echo.HeaderConnection} {
		h.Del(k)
	}
	var hb bytes.Buffer
	_ = h.Write(&hb) // a bytes.Buffer does not fail

	conn, rw, err := http.NewResponseController(c.Response()).Hijack()
	if err != nil {
		return false
	}
	p := s.parking
	p.mu.Lock()
	back := p.back
	p.mu.Unlock()
	poll := &parkedPoll{
		conn:   conn,
		index:  q.index,
		start:  start,
		until:  start.Add(q.wait),
		header: hb.Bytes(),
		// A request the client sent behind this one (pipelining) sits in
		// net/http's reader, which is dropped here: close after the answer
		// so that the client sends it again.
		keep: back != nil && !req.Close && rw.Reader.Buffered() == 0,
		slot: -1,
	}
	// net/http set a write deadline for the request; the parking sets its
	// own when it writes.
	_ = conn.SetDeadline(time.Time{})
	c.Set(parkedKey, true)
	p.add(poll)
	return true
}

// add parks poll and makes sure the goroutine runs.
func (p *parking) add(poll *parkedPoll) {
	p.s.polls.Add(1)
	p.mu.Lock()
	if !p.running {
		p.running = true
		p.gone = startDepartures(p.event)
		p.stopped = make(chan struct{})
		go p.run(p.stopped)
	}
	heap.Push(&p.byDeadline, poll)
	p.perIndex[poll.index]++
	poll.watch = p.gone.watch(poll)
	p.mu.Unlock()
	p.wake()
}

// wake makes the goroutine look at the parked polls again.
func (p *parking) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// drained returns a channel that is closed once nothing is parked.
func (p *parking) drained() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.stopped
}

// event is called by departures: the client of poll closed the connection,
// or (readable) sent its next request on an idle one.
func (p *parking) event(poll *parkedPoll, readable bool) {
	p.mu.Lock()
	if poll.slot < 0 {
		// Taken for an answer already; the write fails and closes it.
		p.mu.Unlock()
		return
	}
	p.remove(poll)
	back := p.back
	p.mu.Unlock()
	switch {
	case poll.idle && readable:
		back.handBack(poll.conn)
	case poll.idle:
		_ = poll.conn.Close()
	default:
		_ = poll.conn.Close()
		p.finish(poll, 0)
	}
	// The goroutine ends when nothing is left.
	p.wake()
}

// rest parks the connection of an answered poll until the client's next
// request, or hands it back at once when it cannot be watched. It runs in
// the parking's goroutine (answer), so the departures run.
func (p *parking) rest(poll *parkedPoll, back *handBackListener) {
	poll.idle = true
	poll.until = time.Now().Add(p.idleFor)
	p.mu.Lock()
	if poll.watch = p.gone.watch(poll); poll.watch == 0 {
		p.gone.unwatch(poll)
		p.mu.Unlock()
		back.handBack(poll.conn)
		return
	}
	heap.Push(&p.byDeadline, poll)
	p.mu.Unlock()
}

// finish accounts for a parked poll that ended: its metric and its log
// line. status 0: the client left.
func (p *parking) finish(poll *parkedPoll, status int) {
	p.s.metrics.parkedDone(status)
	p.s.logRequest(hclog.Debug, http.MethodGet, mineRoute, status, time.Since(poll.start))
}

// remove takes poll out of the parking; p.mu is held.
func (p *parking) remove(poll *parkedPoll) {
	heap.Remove(&p.byDeadline, poll.slot)
	p.unwatch(poll)
}

// unwatch forgets poll's departure registration and, for a waiting poll,
// its index count and its place on the gauge; p.mu is held and poll is no
// longer in byDeadline.
func (p *parking) unwatch(poll *parkedPoll) { p.leave(poll, true) }

// leave is unwatch; with drop false the socket stays in the departures'
// set for the rest after the answer.
func (p *parking) leave(poll *parkedPoll, drop bool) {
	if drop {
		p.gone.unwatch(poll)
	} else {
		p.gone.forget(poll)
	}
	poll.watch = 0
	if poll.idle {
		return
	}
	if p.perIndex[poll.index]--; p.perIndex[poll.index] <= 0 {
		delete(p.perIndex, poll.index)
	}
	p.s.polls.Add(-1)
}

// run answers parked polls until there are none left.
func (p *parking) run(stopped chan struct{}) {
	defer close(stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// fresh: the next answer must be read now (after a change or a
	// deadline); after a kick a shared answer younger than maxAnswerAge
	// will do.
	fresh := true
	for {
		after := time.Time{}
		if fresh {
			after = time.Now()
		}
		a := p.s.mineAnswer(after)
		quitting := isClosed(p.s.quit)

		p.mu.Lock()
		due, expired := p.takeDue(a.index, time.Now(), quitting)
		if len(due) == 0 && len(expired) == 0 && p.byDeadline.Len() == 0 {
			p.running = false
			gone := p.gone
			p.gone = nil
			p.mu.Unlock()
			gone.stop()
			return
		}
		var next time.Duration
		if p.byDeadline.Len() > 0 {
			next = time.Until(p.byDeadline[0].until)
		}
		back := p.back
		p.mu.Unlock()

		for _, poll := range expired {
			_ = poll.conn.Close()
		}
		if len(due) > 0 {
			p.answer(due, a, back)
			// Writing took time; look again before sleeping.
			fresh = true
			continue
		}
		if len(expired) > 0 {
			continue
		}
		// Since Go 1.23 Reset leaves no stale tick behind.
		timer.Reset(max(next, 0))
		fresh = false
		select {
		case <-a.changed:
			fresh = true
		case <-timer.C:
			fresh = true
		case <-p.kick:
		case <-p.s.quit:
			fresh = true
		}
	}
}

// takeDue removes and returns the polls to answer now (due): those waiting
// on another index than the member's, those whose wait ran out, and all of
// them when the server shuts down; and the idle connections to close
// (expired): those idle for idleTimeout, and all of them at shutdown. p.mu
// is held.
func (p *parking) takeDue(index uint64, now time.Time, all bool) (due, expired []*parkedPoll) {
	_, onlyCurrent := p.perIndex[index]
	onlyCurrent = onlyCurrent && len(p.perIndex) == 1
	if all || !onlyCurrent && len(p.perIndex) > 0 {
		keep := p.byDeadline[:0]
		for _, poll := range p.byDeadline {
			switch {
			case all && poll.idle:
				poll.slot = -1
				expired = append(expired, poll)
			case all || !poll.idle && poll.index != index:
				poll.slot = -1
				due = append(due, poll)
			default:
				keep = append(keep, poll)
			}
		}
		clear(p.byDeadline[len(keep):])
		p.byDeadline = keep
		for i, poll := range p.byDeadline {
			poll.slot = i
		}
		heap.Init(&p.byDeadline)
	}
	for p.byDeadline.Len() > 0 && !p.byDeadline[0].until.After(now) {
		poll := heap.Pop(&p.byDeadline).(*parkedPoll)
		if poll.idle {
			expired = append(expired, poll)
		} else {
			due = append(due, poll)
		}
	}
	for _, poll := range due {
		p.leave(poll, false)
	}
	for _, poll := range expired {
		p.leave(poll, true)
	}
	return due, expired
}

// answerWriteTimeout bounds one answer's write: a client that does not read
// must not hold the others' answers.
const answerWriteTimeout = 5 * time.Second

// answerFanOut is how many parked polls one writer goroutine answers before
// another one is started.
const answerFanOut = 512

// answer sends a to every poll in due (those read after a was fetched get
// a newer one) and hands the connections back.
func (p *parking) answer(due []*parkedPoll, a *mineAnswer, back *handBackListener) {
	latest := a.at
	for _, poll := range due {
		if poll.start.After(latest) {
			latest = poll.start
		}
	}
	if latest.After(a.at) {
		// heldMs must not be negative: the answer has to be read after
		// every request it goes to (see mineAnswer.at).
		a = p.s.mineAnswer(latest)
	}
	common := append([]byte(nil), "HTTP/1.1 200 OK\r\n"...)
	common = append(common, api.IndexHeader+": "...)
	common = strconv.AppendUint(common, a.index, 10)
	common = append(common, "\r\nDate: "...)
	common = time.Now().UTC().AppendFormat(common, http.TimeFormat)
	common = append(common, "\r\n"...)

	began := time.Now()
	defer func() {
		p.s.log.Debug("answered parked watches", "count", len(due), "index", a.index, "took", time.Since(began))
	}()
	// Each writer writes all its answers before it puts any of their
	// connections to rest (a system call to watch it again, the parking's
	// lock): its last watcher should not wait for the others'
	// bookkeeping. Per writer, so that one client slow to read holds up
	// the next requests of its writer's share only.
	writers := min(runtime.GOMAXPROCS(0), (len(due)+answerFanOut-1)/answerFanOut)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var keep []*parkedPoll
			for i := w; i < len(due); i += writers {
				if p.answerOne(due[i], a, common) {
					keep = append(keep, due[i])
				}
			}
			for _, poll := range keep {
				p.rest(poll, back)
			}
		})
	}
	wg.Wait()
}

// answerOne writes a to one poll; it returns true when the connection is
// to be kept (then the caller puts it to rest), having closed it otherwise.
func (p *parking) answerOne(poll *parkedPoll, a *mineAnswer, common []byte) bool {
	// A server shutting down closes its connections: handed back, they
	// would hold http.Server.Shutdown.
	keep := poll.keep && !isClosed(p.s.quit)
	held := strconv.AppendInt(make([]byte, 0, 20), a.at.Sub(poll.start).Milliseconds(), 10)
	tail := make([]byte, 0, 64)
	tail = append(tail, "Content-Length: "...)
	tail = strconv.AppendInt(tail, int64(len(a.head)+len(held)+len(a.tail)), 10)
	tail = append(tail, "\r\n"...)
	if !keep {
		tail = append(tail, "Connection: close\r\n"...)
	}
	tail = append(tail, "\r\n"...)
	bufs := net.Buffers{common, poll.header, tail, a.head, held, a.tail}
	_ = poll.conn.SetWriteDeadline(time.Now().Add(answerWriteTimeout))
	_, err := bufs.WriteTo(poll.conn)
	if err != nil {
		_ = poll.conn.Close()
		p.finish(poll, 0)
		return false
	}
	p.finish(poll, http.StatusOK)
	if !keep {
		_ = poll.conn.Close()
	}
	// The write deadline stays: the next answer sets its own, and net/http
	// its own for the next request.
	return keep
}

// deadlineHeap orders parked polls by when their wait runs out.
type deadlineHeap []*parkedPoll

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].slot, h[j].slot = i, j
}
func (h *deadlineHeap) Push(x any) {
	poll := x.(*parkedPoll)
	poll.slot = len(*h)
	*h = append(*h, poll)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	poll := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	poll.slot = -1
	return poll
}

// handBackListener is the listener Serve gives net/http: it accepts new
// connections from the real listener and, in between, the connections of
// answered parked polls, so that keep-alive goes on across a parked poll.
type handBackListener struct {
	net.Listener
	accepted chan acceptResult
	back     chan net.Conn
	closed   chan struct{}
	once     sync.Once
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func newHandBackListener(ln net.Listener) *handBackListener {
	l := &handBackListener{
		Listener: ln,
		accepted: make(chan acceptResult),
		back:     make(chan net.Conn, 1024),
		closed:   make(chan struct{}),
	}
	go l.pump()
	return l
}

// pump moves the real listener's Accept results to Accept until the
// listener is closed. Errors go through as they are: net/http retries
// temporary ones and closes the listener on the others.
func (l *handBackListener) pump() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- acceptResult{c, err}:
		case <-l.closed:
			if c != nil {
				_ = c.Close()
			}
			return
		}
	}
}

// Accept returns a handed-back connection or a new one.
func (l *handBackListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.back:
		return c, nil
	default:
	}
	select {
	case c := <-l.back:
		return c, nil
	case r := <-l.accepted:
		return r.conn, r.err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close closes the real listener; handed-back connections are closed from
// now on.
func (l *handBackListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.closed)
		err = l.Listener.Close()
		l.drain()
	})
	return err
}

// drain closes the handed-back connections nobody accepted.
func (l *handBackListener) drain() {
	for {
		select {
		case c := <-l.back:
			_ = c.Close()
		default:
			return
		}
	}
}

// handBack gives c back to net/http, or closes it when the listener is
// closed (or there is none).
func (l *handBackListener) handBack(c net.Conn) {
	if l == nil {
		_ = c.Close()
		return
	}
	select {
	case l.back <- c:
		// Close may have drained the channel just before c went in.
		if isClosed(l.closed) {
			l.drain()
		}
	case <-l.closed:
		_ = c.Close()
	}
}
