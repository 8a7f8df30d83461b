package clientlib_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringd/ringd/clientlib"
	"github.com/ringd/ringd/clientlib/api"
)

func TestMain(m *testing.M) {
	// Every test stops its Run; nothing of the library may outlive it.
	goleak.VerifyTestMain(m)
}

// recorder is what a test's workers report: one span per Work call.
type recorder struct {
	mu    sync.Mutex
	spans []*span
	// hold, when set, is how long a worker keeps going after its context is
	// cancelled (a slow or stuck worker).
	hold  time.Duration
	lost  []clientlib.Partition
	start chan clientlib.Partition
}

type span struct {
	p          clientlib.Partition
	from, to   time.Time
	cause      error
	cancelled  time.Time
	deadlineAt time.Time // p.Deadline() when the context was cancelled
}

func newRecorder() *recorder { return &recorder{start: make(chan clientlib.Partition, 100)} }

func (r *recorder) Work(ctx context.Context, p clientlib.Partition) error {
	s := &span{p: p, from: time.Now()}
	r.mu.Lock()
	r.spans = append(r.spans, s)
	hold := r.hold
	r.mu.Unlock()
	r.start <- p
	<-ctx.Done()
	cancelled := time.Now()
	r.mu.Lock()
	s.cancelled, s.cause, s.deadlineAt = cancelled, context.Cause(ctx), p.Deadline()
	r.mu.Unlock()
	time.Sleep(hold) // a worker slow to stop (not synchronisation)
	r.mu.Lock()
	s.to = time.Now()
	r.mu.Unlock()
	return nil
}

func (r *recorder) Lost(p clientlib.Partition) {
	r.mu.Lock()
	r.lost = append(r.lost, p)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]span, len(r.spans))
	for i, s := range r.spans {
		out[i] = *s
	}
	return out
}

func (r *recorder) lostList() []clientlib.Partition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]clientlib.Partition(nil), r.lost...)
}

// check fails the test if two workers of one partition overlapped or a
// partition's tokens went down.
func (r *recorder) check(t *testing.T) {
	t.Helper()
	spans := r.snapshot()
	last := map[int]span{}
	for _, s := range spans {
		if prev, ok := last[s.p.ID]; ok {
			if prev.to.IsZero() || s.from.Before(prev.to) {
				t.Errorf("%v started at %s while %v ran until %s", s.p, s.from.Format("15:04:05.000"), prev.p, prev.to.Format("15:04:05.000"))
			}
			if s.p.Token < prev.p.Token {
				t.Errorf("partition %d: token %d started after token %d", s.p.ID, s.p.Token, prev.p.Token)
			}
		}
		last[s.p.ID] = s
	}
}

// waitStart waits for the next worker start.
func (r *recorder) waitStart(t *testing.T) clientlib.Partition {
	t.Helper()
	select {
	case p := <-r.start:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no worker started within 10s")
		return clientlib.Partition{}
	}
}

// run starts c.Run(h) and returns a stop that ends it and checks it returned
// nil. It is also registered as cleanup.
func run(t *testing.T, c *clientlib.Client, h clientlib.Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return within 20s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newClient(t *testing.T, f *fakeRingd, opts ...clientlib.Option) *clientlib.Client {
	t.Helper()
	opts = append([]clientlib.Option{clientlib.WithBackoff(10*time.Millisecond, 50*time.Millisecond), clientlib.WithMargin(200 * time.Millisecond)}, opts...)
	c, err := clientlib.New(f.addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A release is acknowledged with the grant's token once the worker has
// returned, never before and never by a poll.
func TestReleaseAcknowledgedAfterWorkerReturned(t *testing.T) {
	f := newFake(t)
	f.grant(0, 7, time.Hour)
	f.grant(1, 8, time.Hour)
	rec := newRecorder()
	rec.hold = 150 * time.Millisecond
	c := newClient(t, f)
	stop := run(t, c, rec)
	rec.waitStart(t)
	rec.waitStart(t)
	eventually(t, "Owned to list both", func() bool { return len(c.Owned()) == 2 })

	f.release(0)
	eventually(t, "the release of partition 0 to be acknowledged", func() bool { return len(f.ackList()) == 1 })
	ack := f.ackList()[0]
	if ack.id != 0 || ack.token != 7 {
		t.Fatalf("acknowledged %+v, want partition 0 token 7", ack)
	}
	var s0 span
	for _, s := range rec.snapshot() {
		if s.p.ID == 0 {
			s0 = s
		}
	}
	if s0.to.IsZero() || ack.at.Before(s0.to) {
		t.Fatalf("acknowledged at %v, before the worker returned at %v", ack.at, s0.to)
	}
	if !errors.Is(s0.cause, clientlib.ErrRevoked) {
		t.Fatalf("cause %v, want ErrRevoked", s0.cause)
	}
	if got := c.Owned(); len(got) != 1 || got[0].ID != 1 || got[0].Token != 8 {
		t.Fatalf("Owned() = %v, want partition 1 token 8", got)
	}
	stop()
	for _, q := range f.pollQueries() {
		if !strings.Contains(q, "ack=false") {
			t.Fatalf("a poll could acknowledge releases as a side effect: ?%s", q)
		}
	}
	if c.Owned() != nil {
		t.Fatalf("Owned() after Run returned = %v", c.Owned())
	}
	rec.check(t)
}

// However ringd fails to answer, every worker is cancelled before the lease
// it was shown ends, by the library's own clock.
func TestWorkersStopBeforeDeadlineWhenRingdFails(t *testing.T) {
	faults := map[string]func(w http.ResponseWriter, r *http.Request) bool{
		"hangs": func(w http.ResponseWriter, r *http.Request) bool {
			<-r.Context().Done()
			return true
		},
		"500": func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
			return true
		},
		"malformed JSON": func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"partitions": [{"id": 0, "token": "x"`))
			return true
		},
		"connection reset": func(w http.ResponseWriter, r *http.Request) bool {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return true
		},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.grant(0, 3, 1500*time.Millisecond)
			rec := newRecorder()
			c := newClient(t, f)
			run(t, c, rec)
			rec.waitStart(t)
			end := f.leaseEnd(0)
			f.setFault(fault)
			eventually(t, "the worker to stop", func() bool {
				s := rec.snapshot()
				return len(s) == 1 && !s[0].to.IsZero()
			})
			s := rec.snapshot()[0]
			if !s.to.Before(end) {
				t.Fatalf("the worker returned at %s, after the lease ringd showed ended (%s)", s.to.Format("15:04:05.000"), end.Format("15:04:05.000"))
			}
			if !errors.Is(s.cause, clientlib.ErrLeaseExpiring) {
				t.Fatalf("cause %v, want ErrLeaseExpiring", s.cause)
			}
			if s.deadlineAt.After(end) {
				t.Fatalf("the library's deadline %s is after the lease end %s", s.deadlineAt.Format("15:04:05.000"), end.Format("15:04:05.000"))
			}
			if l := rec.lostList(); len(l) != 0 {
				t.Fatalf("lost %v although the worker returned in time", l)
			}
		})
	}
}

// Renewals that come without an index change keep the worker going past the
// first lease: the client polls often enough while it owns something.
func TestRenewalsExtendTheDeadline(t *testing.T) {
	f := newFake(t)
	f.grant(0, 3, time.Second)
	rec := newRecorder()
	c := newClient(t, f)
	run(t, c, rec)
	p := rec.waitStart(t)
	first := p.Deadline()
	stopRenew := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopRenew:
				return
			case <-tick.C:
				f.renew(time.Second)
			}
		}
	}()
	eventually(t, "the deadline to move past the first lease", func() bool { return p.Deadline().After(first.Add(time.Second)) })
	close(stopRenew)
	<-renewed
	if s := rec.snapshot(); len(s) != 1 || !s[0].to.IsZero() {
		t.Fatalf("the worker stopped although its lease was renewed: %+v", s)
	}
}

// An answer that arrives slowly cannot stretch a deadline: it counts from
// when the request was sent.
func TestSlowAnswerDeadlineCountsFromSend(t *testing.T) {
	f := newFake(t)
	f.delay = 600 * time.Millisecond
	f.grant(0, 3, 1200*time.Millisecond)
	end := f.leaseEnd(0)
	rec := newRecorder()
	c := newClient(t, f)
	run(t, c, rec)
	p := rec.waitStart(t)
	if d := p.Deadline(); d.After(end) {
		t.Fatalf("deadline %s is after the lease end %s: it counted from the arrival", d.Format("15:04:05.000"), end.Format("15:04:05.000"))
	}
	eventually(t, "the worker to stop", func() bool { s := rec.snapshot(); return !s[0].to.IsZero() })
	if s := rec.snapshot()[0]; !s.to.Before(end) {
		t.Fatalf("the worker returned at %s, after the lease end %s", s.to.Format("15:04:05.000"), end.Format("15:04:05.000"))
	}
}

// When ringd restarts (new incarnation, index back to the start) with a newer
// grant, the old worker returns before the new one starts; a grant with a
// lower token is never started; nothing is acknowledged for the old process.
func TestRingdRestartNeverStartsTwice(t *testing.T) {
	f := newFake(t)
	f.grant(0, 10, time.Hour)
	rec := newRecorder()
	rec.hold = 200 * time.Millisecond
	c := newClient(t, f)
	run(t, c, rec)
	rec.waitStart(t)

	f.set(func(f *fakeRingd) {
		f.incarnation, f.index = "2", 0 // set makes it 1: below the old index
		f.grants = map[int]*fakeGrant{0: {token: 12, until: time.Now().Add(time.Hour)}}
	})
	p := rec.waitStart(t)
	if p.Token != 12 {
		t.Fatalf("started token %d, want 12", p.Token)
	}
	// A lower token (an index that went back to an older table) is never
	// started, and the running newer worker is stopped: the daemon no
	// longer lists its grant.
	f.set(func(f *fakeRingd) { f.grants = map[int]*fakeGrant{0: {token: 11, until: time.Now().Add(time.Hour)}} })
	eventually(t, "the token 12 worker to stop", func() bool {
		for _, s := range rec.snapshot() {
			if s.p.Token == 12 && !s.to.IsZero() {
				return true
			}
		}
		return false
	})
	// Give the client a fresh answer to act on, then check nothing started.
	f.set(func(f *fakeRingd) {})
	eventually(t, "a poll after the change", func() bool { return len(f.pollQueries()) >= 5 })
	for _, s := range rec.snapshot() {
		if s.p.Token == 11 {
			t.Fatalf("a lower token was started: %v", s.p)
		}
	}
	if a := f.ackList(); len(a) != 0 {
		t.Fatalf("acknowledged %v for grants ringd never asked to release", a)
	}
	rec.check(t)
}

// A worker that does not return by its deadline is reported lost once, and
// the partition is not started again while it runs, even for a newer grant.
func TestLostWorkerBlocksNewGrant(t *testing.T) {
	f := newFake(t)
	f.grant(0, 5, 700*time.Millisecond)
	rec := newRecorder()
	rec.hold = 1500 * time.Millisecond
	c := newClient(t, f)
	run(t, c, rec)
	rec.waitStart(t)
	eventually(t, "the partition to be reported lost", func() bool { return len(rec.lostList()) == 1 })
	f.grant(0, 6, time.Hour)
	p := rec.waitStart(t)
	if p.Token != 6 {
		t.Fatalf("started token %d, want 6", p.Token)
	}
	s := rec.snapshot()
	if s[1].from.Before(s[0].to) {
		t.Fatalf("token 6 started at %v while the lost token 5 worker ran until %v", s[1].from, s[0].to)
	}
	if l := rec.lostList(); len(l) != 1 || l[0].Token != 5 {
		t.Fatalf("lost %v, want token 5 once", l)
	}
	rec.check(t)
}

// WithReturnTimeout reports a slow worker lost that long after its context
// was cancelled, before the deadline.
func TestReturnTimeout(t *testing.T) {
	f := newFake(t)
	f.grant(0, 5, time.Hour)
	rec := newRecorder()
	rec.hold = time.Second
	c := newClient(t, f, clientlib.WithReturnTimeout(100*time.Millisecond))
	run(t, c, rec)
	rec.waitStart(t)
	f.release(0)
	eventually(t, "the slow worker to be reported lost", func() bool { return len(rec.lostList()) == 1 })
	if s := rec.snapshot()[0]; !s.to.IsZero() {
		t.Fatalf("reported lost only after the worker returned")
	}
}

// A worker that returns on its own while the partition is still owned runs
// again (after a backoff), with the same grant.
func TestWorkerReturningEarlyRunsAgain(t *testing.T) {
	f := newFake(t)
	f.grant(0, 5, time.Hour)
	var mu sync.Mutex
	calls := 0
	c := newClient(t, f)
	run(t, c, clientlib.WorkerFunc(func(ctx context.Context, p clientlib.Partition) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n < 3 {
			return fmt.Errorf("transient failure %d", n)
		}
		<-ctx.Done()
		return nil
	}))
	eventually(t, "a third run", func() bool { mu.Lock(); defer mu.Unlock(); return calls == 3 })
}

// Callbacks come in order for a partition: acquired, then released; the
// release is acknowledged after OnReleased returned.
func TestCallbacks(t *testing.T) {
	f := newFake(t)
	f.grant(2, 4, time.Hour)
	var mu sync.Mutex
	var got []string
	note := func(s string) { mu.Lock(); got = append(got, s); mu.Unlock() }
	c := newClient(t, f)
	run(t, c, clientlib.Callbacks{
		OnAcquired: func(ctx context.Context, p clientlib.Partition) { note(fmt.Sprintf("acquired %d/%d", p.ID, p.Token)) },
		OnReleased: func(p clientlib.Partition) { note(fmt.Sprintf("released %d/%d", p.ID, p.Token)) },
		OnLost:     func(p clientlib.Partition) { note("lost") },
	})
	eventually(t, "OnAcquired", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	f.release(2)
	eventually(t, "the acknowledgement", func() bool { return len(f.ackList()) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ", ") != "acquired 2/4, released 2/4" {
		t.Fatalf("callbacks %q", got)
	}
}

// standbyRecorder is a Handler that records every standby list it is given.
type standbyRecorder struct {
	clientlib.WorkerFunc
	mu    sync.Mutex
	lists [][]clientlib.Standby
}

func (s *standbyRecorder) Standby(list []clientlib.Standby) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists = append(s.lists, list)
}

func (s *standbyRecorder) seen() [][]clientlib.Standby {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lists)
}

// A StandbyHandler hears the standby list once, sorted, and again only when
// it changes (an empty list included); grants alone do not repeat it.
func TestStandbyHandler(t *testing.T) {
	f := newFake(t)
	f.set(func(f *fakeRingd) {
		f.standby = []api.Standby{{ID: 9, Rank: 1, Owner: "b"}, {ID: 3, Rank: 0, Owner: "a"}}
	})
	h := &standbyRecorder{WorkerFunc: func(ctx context.Context, p clientlib.Partition) error { <-ctx.Done(); return nil }}
	run(t, newClient(t, f), h)
	eventually(t, "the first list", func() bool { return len(h.seen()) == 1 })
	want := []clientlib.Standby{{ID: 3, Rank: 0, Owner: "a"}, {ID: 9, Rank: 1, Owner: "b"}}
	if got := h.seen()[0]; !slices.Equal(got, want) {
		t.Fatalf("first list %+v, want %+v", got, want)
	}
	f.grant(1, 5, time.Hour) // a new answer with the same list
	eventually(t, "the grant polled", func() bool { return len(f.pollQueries()) >= 3 })
	if n := len(h.seen()); n != 1 {
		t.Fatalf("the same list was passed %d times", n)
	}
	f.set(func(f *fakeRingd) { f.standby = nil })
	eventually(t, "the empty list", func() bool { l := h.seen(); return len(l) == 2 && len(l[1]) == 0 })
}

// Run refuses to run twice at once on one client, and a nil handler.
func TestRunOnce(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f)
	rec := newRecorder()
	run(t, c, rec)
	eventually(t, "a poll", func() bool { return len(f.pollQueries()) > 0 })
	if err := c.Run(context.Background(), rec); !errors.Is(err, clientlib.ErrRunning) {
		t.Fatalf("second Run: %v, want ErrRunning", err)
	}
	if err := c.Run(context.Background(), nil); err == nil {
		t.Fatal("Run(nil) did not fail")
	}
	// Another Client of the same ringd in this process is refused too.
	other := newClient(t, f)
	if err := other.Run(context.Background(), rec); !errors.Is(err, clientlib.ErrRunning) {
		t.Fatalf("Run of a second Client for the same ringd: %v, want ErrRunning", err)
	}
}

// WaitIdle does not return before ringd's first answer says what it lists.
func TestWaitIdleWaitsForTheFirstAnswer(t *testing.T) {
	f := newFake(t)
	f.delay = 300 * time.Millisecond
	f.grant(0, 1, time.Hour)
	rec := newRecorder()
	c := newClient(t, f)
	run(t, c, rec)
	eventually(t, "the first poll", func() bool { return len(f.pollQueries()) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.WaitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIdle before the first answer = %v, want DeadlineExceeded (ringd lists a partition)", err)
	}
}

// Run returns only after every worker has returned, and acknowledges the
// releases ringd asked for meanwhile.
func TestRunWaitsForWorkers(t *testing.T) {
	f := newFake(t)
	f.grant(0, 1, time.Hour)
	f.grant(1, 1, time.Hour)
	rec := newRecorder()
	rec.hold = 200 * time.Millisecond
	c := newClient(t, f)
	stop := run(t, c, rec)
	rec.waitStart(t)
	rec.waitStart(t)
	stop()
	for _, s := range rec.snapshot() {
		if s.to.IsZero() {
			t.Fatalf("Run returned while %v still ran", s.p)
		}
		if !errors.Is(s.cause, clientlib.ErrStopped) {
			t.Fatalf("%v: cause %v, want ErrStopped", s.p, s.cause)
		}
	}
}

func TestQueries(t *testing.T) {
	f := newFake(t)
	c := newClient(t, f)
	ctx := context.Background()
	loc, err := c.Locate(ctx, "k 1")
	if err != nil || loc.Key != "k 1" || loc.Partition != 5 || loc.Owner != "b" || loc.Token != 9 {
		t.Fatalf("Locate = %+v, %v", loc, err)
	}
	ms, err := c.Members(ctx)
	if err != nil || len(ms) != 2 || !ms[1].Leader {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	l, err := c.Leader(ctx)
	if err != nil || l.Leader != "b" || l.Term != 4 {
		t.Fatalf("Leader = %+v, %v", l, err)
	}
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"no leader yet"}`))
		return true
	})
	_, err = c.Leader(ctx)
	var se *clientlib.StatusError
	if !errors.As(err, &se) || se.Status != 503 || se.Message != "no leader yet" {
		t.Fatalf("Leader on a 503 = %v", err)
	}
}

func TestNewRefusesBadInput(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := clientlib.New("https://x:1", clientlib.WithCAFile(caFile)); err != nil {
		t.Errorf("WithCAFile with a certificate: %v", err)
	}
	if _, err := clientlib.New("https://x:1", clientlib.WithCAFile(caFile), clientlib.WithHTTPClient(http.DefaultClient)); err == nil ||
		!strings.Contains(err.Error(), "together") {
		t.Errorf("WithCAFile and WithHTTPClient together: %v, want an error saying so", err)
	}
	for _, tc := range []struct {
		addr string
		opt  clientlib.Option
		want string
	}{
		{"", nil, "empty"},
		{"ftp://x:1", nil, "scheme"},
		{"http://", nil, "no host"},
		{"x:1?a=b", nil, "query"},
		{"x:1", clientlib.WithMargin(-1), "not positive"},
		{"x:1", clientlib.WithMargin(0), "not positive"},
		{"x:1", clientlib.WithBackoff(0, time.Second), "min"},
		{"x:1", clientlib.WithBackoff(time.Second, time.Millisecond), "min"},
		{"x:1", clientlib.WithMaxWait(time.Millisecond), "between 1s and 5m"},
		{"x:1", clientlib.WithMaxWait(time.Hour), "between 1s and 5m"},
		{"x:1", clientlib.WithBackoff(time.Second, 1000*time.Hour), "<= 1h"},
		{"x:1", clientlib.WithReturnTimeout(-time.Second), "negative"},
		{"x:1", clientlib.WithHTTPClient(nil), "nil"},
		{"x:1", clientlib.WithLogger(nil), "nil"},
		{"https://x:1", clientlib.WithCAFile(filepath.Join(t.TempDir(), "missing.pem")), "no such file"},
		{"https://x:1", clientlib.WithCAFile(notPEM), "no PEM certificate"},
	} {
		_, err := clientlib.New(tc.addr, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, ...) = %v, want an error saying %q", tc.addr, err, tc.want)
		}
	}
}

// With Callbacks, OnLost follows an OnReleased that returned past the
// deadline; they never run at once.
func TestCallbacksLostAfterSlowRelease(t *testing.T) {
	f := newFake(t)
	f.grant(0, 4, 700*time.Millisecond)
	var mu sync.Mutex
	var got []string
	var releasedEnd, lostStart time.Time
	c := newClient(t, f)
	run(t, c, clientlib.Callbacks{
		OnAcquired: func(ctx context.Context, p clientlib.Partition) {
			mu.Lock()
			got = append(got, "acquired")
			mu.Unlock()
		},
		OnReleased: func(p clientlib.Partition) {
			time.Sleep(time.Until(p.Deadline()) + 100*time.Millisecond) // a release that ends too late
			mu.Lock()
			got, releasedEnd = append(got, "released"), time.Now()
			mu.Unlock()
		},
		OnLost: func(p clientlib.Partition) {
			mu.Lock()
			got, lostStart = append(got, "lost"), time.Now()
			mu.Unlock()
		},
	})
	eventually(t, "OnAcquired", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool { <-r.Context().Done(); return true })
	eventually(t, "OnLost", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ", ") != "acquired, released, lost" || lostStart.Before(releasedEnd) {
		t.Fatalf("callbacks %q; OnLost started %v after OnReleased ended", got, lostStart.Sub(releasedEnd))
	}
}

// Answers that take long on the way (400ms each way here) while ringd renews
// normally do not make leases look run out.
func TestSlowNetworkWithRenewalsKeepsWorking(t *testing.T) {
	f := newFake(t)
	f.delay = 400 * time.Millisecond
	f.grant(0, 3, 2*time.Second)
	rec := newRecorder()
	c := newClient(t, f, clientlib.WithMargin(500*time.Millisecond))
	run(t, c, rec)
	rec.waitStart(t)
	stopRenew := renewEvery(f, 100*time.Millisecond, 2*time.Second)
	defer stopRenew()
	polls := len(f.pollQueries())
	eventually(t, "8 more polls", func() bool { return len(f.pollQueries()) >= polls+8 })
	if s := rec.snapshot(); len(s) != 1 || !s[0].to.IsZero() {
		t.Fatalf("the worker was stopped %d times although ringd renewed the lease (first: %v)", len(s)-1, s[0].cause)
	}
}

// renewEvery renews the fake's leases to lease every period until stopped.
func renewEvery(f *fakeRingd, period, lease time.Duration) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				f.renew(lease)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}

// While Run stops, it keeps polling: a worker that takes longer to stop than
// the lease it was last shown is not lost while ringd renews.
func TestStoppingKeepsRenewing(t *testing.T) {
	f := newFake(t)
	f.grant(0, 3, time.Second)
	rec := newRecorder()
	rec.hold = 1500 * time.Millisecond
	c := newClient(t, f)
	stop := run(t, c, rec)
	rec.waitStart(t)
	stopRenew := renewEvery(f, 100*time.Millisecond, time.Second)
	defer stopRenew()
	stop()
	if l := rec.lostList(); len(l) != 0 {
		t.Fatalf("lost %v while ringd renewed the lease", l)
	}
	if s := rec.snapshot()[0]; !errors.Is(s.cause, clientlib.ErrStopped) {
		t.Fatalf("cause %v, want ErrStopped", s.cause)
	}
}

// A server that ignores ?index= and answers at once does not make the
// client spin.
func TestNoSpinWhenServerIgnoresIndex(t *testing.T) {
	f := newFake(t)
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/partitions/mine" {
			return false
		}
		f.mu.Lock()
		f.polls = append(f.polls, r.URL.RawQuery)
		f.mu.Unlock()
		writeJSON(w, api.Mine{Node: "a", Incarnation: "1", Index: 7, Partitions: []api.Partition{}})
		return true
	})
	c := newClient(t, f)
	stop := run(t, c, newRecorder())
	begin := time.Now()
	eventually(t, "some polls", func() bool { return len(f.pollQueries()) >= 10 })
	time.Sleep(500 * time.Millisecond) // a window to count polls in (not synchronisation)
	n, took := len(f.pollQueries()), time.Since(begin)
	stop()
	if rate := float64(n) / took.Seconds(); rate > 50 {
		t.Fatalf("%d polls in %v (%.0f/s): the client spins", n, took, rate)
	}
}

// A heldMs beyond the round trip cannot stretch a deadline past the arrival
// plus the lease left.
func TestBogusHeldMsCannotStretchDeadline(t *testing.T) {
	f := newFake(t)
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/partitions/mine" {
			return false
		}
		writeJSON(w, api.Mine{Node: "a", Incarnation: "1", Index: 1, HeldMs: 1 << 40,
			Partitions: []api.Partition{{ID: 0, Token: 1, State: "owned", LeaseRemainingMs: 1000}}})
		return true
	})
	rec := newRecorder()
	c := newClient(t, f)
	run(t, c, rec)
	p := rec.waitStart(t)
	if limit := time.Now().Add(time.Second); p.Deadline().After(limit) {
		t.Fatalf("deadline %v after now + the lease left (%v)", p.Deadline(), limit)
	}
}

// A state the client does not know is neither worked on nor acknowledged;
// the same grant listed "owned" later starts.
func TestUnknownStateIsNotALicence(t *testing.T) {
	f := newFake(t)
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/partitions/mine" && r.URL.Query().Get("index") == "" {
			writeJSON(w, api.Mine{Node: "a", Incarnation: "1", Index: 1,
				Partitions: []api.Partition{{ID: 0, Token: 9, State: "pending", LeaseRemainingMs: 60000}}})
			return true
		}
		return false
	})
	rec := newRecorder()
	c := newClient(t, f)
	run(t, c, rec)
	eventually(t, "a poll with an index", func() bool {
		for _, q := range f.pollQueries() {
			if strings.Contains(q, "index=") {
				return true
			}
		}
		return false
	})
	if s := rec.snapshot(); len(s) != 0 {
		t.Fatalf("started %v from a pending grant", s[0].p)
	}
	f.grant(0, 9, time.Hour)
	if p := rec.waitStart(t); p.Token != 9 {
		t.Fatalf("started token %d, want 9", p.Token)
	}
	if a := f.ackList(); len(a) != 0 {
		t.Fatalf("acknowledged %v", a)
	}
}

// WaitIdle returns once ringd lists nothing and every worker returned.
func TestWaitIdle(t *testing.T) {
	f := newFake(t)
	f.grant(0, 1, time.Hour)
	f.grant(1, 1, time.Hour)
	rec := newRecorder()
	c := newClient(t, f)
	run(t, c, rec)
	rec.waitStart(t)
	rec.waitStart(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.WaitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIdle while owning = %v, want DeadlineExceeded", err)
	}
	f.release(0)
	f.release(1)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := c.WaitIdle(ctx2); err != nil {
		t.Fatalf("WaitIdle after the releases: %v", err)
	}
	if a := f.ackList(); len(a) != 2 {
		t.Fatalf("acknowledged %v, want both", a)
	}
	for _, s := range rec.snapshot() {
		if s.to.IsZero() {
			t.Fatalf("idle while %v still runs", s.p)
		}
	}
}

// Tokens never go down across Runs of one Client.
func TestTokensNeverGoDownAcrossRuns(t *testing.T) {
	f := newFake(t)
	f.grant(0, 10, time.Hour)
	rec := newRecorder()
	c := newClient(t, f)
	stop := run(t, c, rec)
	rec.waitStart(t)
	stop()
	f.grant(0, 9, time.Hour)
	before := len(f.pollQueries())
	run(t, c, rec)
	eventually(t, "two polls of the second Run", func() bool { return len(f.pollQueries()) >= before+2 })
	if s := rec.snapshot(); len(s) != 1 {
		t.Fatalf("the second Run started %v", s[1].p)
	}
}

func TestNewPartition(t *testing.T) {
	d := time.Now().Add(time.Minute)
	p := clientlib.NewPartition(3, 7, d)
	if p.ID != 3 || p.Token != 7 || !p.Deadline().Equal(d) || p.String() != "partition 3 (token 7)" {
		t.Fatalf("NewPartition = %v, deadline %v", p, p.Deadline())
	}
	if !(clientlib.Partition{ID: 1}).Deadline().IsZero() {
		t.Fatal("a Partition not made by Run has a deadline")
	}
}

// When ringd is gone, WaitIdle returns once the listings have run out, even
// though no answer comes to say so.
func TestWaitIdleWhenRingdIsGone(t *testing.T) {
	f := newFake(t)
	f.grant(0, 1, time.Second)
	rec := newRecorder()
	c := newClient(t, f)
	run(t, c, rec)
	rec.waitStart(t)
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "gone", http.StatusBadGateway)
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle with ringd gone: %v", err)
	}
}
