package main

// The client library against real ringd processes on 127.0.0.1: one
// clientlib.Client per member, in this process, all reporting to one shared
// recorder, through a drain, a join, a leader change, a kill and a restart.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringd/ringd/clientlib"
	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

var ringdBinary string

func TestMain(m *testing.M) {
	code := procluster.RunWithRingd(m, &ringdBinary)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// recorder is shared by the workers of every member: one span per Work
// call, as the application saw it.
type recorder struct {
	mu    sync.Mutex
	spans []*span
}

type span struct {
	member   string
	p        clientlib.Partition
	from, to time.Time
	// deadline is p.Deadline() when the worker returned; cause why its
	// context ended.
	deadline time.Time
	cause    error
}

// handler returns member's Handler.
func (r *recorder) handler(member string) clientlib.Handler {
	return clientlib.WorkerFunc(func(ctx context.Context, p clientlib.Partition) error {
		s := &span{member: member, p: p, from: time.Now()}
		r.mu.Lock()
		r.spans = append(r.spans, s)
		r.mu.Unlock()
		<-ctx.Done()
		r.mu.Lock()
		s.to, s.deadline, s.cause = time.Now(), p.Deadline(), context.Cause(ctx)
		r.mu.Unlock()
		return nil
	})
}

// working maps each partition worked on now to its member.
func (r *recorder) working() map[int]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int]string{}
	for _, s := range r.spans {
		if s.to.IsZero() {
			out[s.p.ID] = s.member
		}
	}
	return out
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

// check reports every worker of a partition that started before an earlier
// one of that partition had returned, and every grant that started with a
// lower token than one before it (or the same token on another member).
func (r *recorder) check() []string {
	spans := r.snapshot()
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var bad []string
	// latest is, per partition, the earlier span that returned last (an
	// unreturned one counts as returning never), and top the one with the
	// highest token.
	latest, top := map[int]span{}, map[int]span{}
	for _, s := range spans {
		if prev, ok := latest[s.p.ID]; ok && (prev.to.IsZero() || s.from.Before(prev.to)) {
			bad = append(bad, fmt.Sprintf("partition %d: %s started token %d at %s while %s worked on token %d until %s",
				s.p.ID, s.member, s.p.Token, s.from.Format("15:04:05.000"), prev.member, prev.p.Token, prev.to.Format("15:04:05.000")))
		}
		if t, ok := top[s.p.ID]; ok && (s.p.Token < t.p.Token || (s.p.Token == t.p.Token && s.member != t.member)) {
			bad = append(bad, fmt.Sprintf("partition %d: %s got token %d after %s had token %d", s.p.ID, s.member, s.p.Token, t.member, t.p.Token))
		}
		if prev, ok := latest[s.p.ID]; !ok || (!prev.to.IsZero() && (s.to.IsZero() || s.to.After(prev.to))) {
			latest[s.p.ID] = s
		}
		if t, ok := top[s.p.ID]; !ok || s.p.Token > t.p.Token {
			top[s.p.ID] = s
		}
	}
	return bad
}

// apps runs one clientlib.Client per member.
type apps struct {
	t       *testing.T
	rec     *recorder
	mu      sync.Mutex
	stop    map[string]func()
	clients map[string]*clientlib.Client
}

func (a *apps) start(m *procluster.Member) {
	c, err := clientlib.New(m.HTTPAddr, clientlib.WithBackoff(20*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		a.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, a.rec.handler(m.Name)) }()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.clients[m.Name] = c
	a.stop[m.Name] = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				a.t.Errorf("%s: Run returned %v", m.Name, err)
			}
		case <-time.After(30 * time.Second):
			a.t.Errorf("%s: Run did not return within 30s", m.Name)
		}
	}
}

func (a *apps) stopAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for name, stop := range a.stop {
		stop()
		delete(a.stop, name)
	}
}

// waitWorking waits until every partition has a worker and cond holds for
// who works on what.
func waitWorking(t *testing.T, rec *recorder, partitions int, what string, cond func(map[int]string) error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		w := rec.working()
		if len(w) < partitions {
			err = fmt.Errorf("%d of %d partitions have a worker", len(w), partitions)
		} else if err = cond(w); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: %v", what, err)
}

func counts(w map[int]string) map[string]int {
	out := map[string]int{}
	for _, m := range w {
		out[m]++
	}
	return out
}

func TestWorkersThroughDrainJoinLeaderChangeKillShutdown(t *testing.T) {
	const partitions = 16
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := procluster.Start(ctx, procluster.Options{Binary: ringdBinary, Members: 3, Partitions: partitions, Dir: t.TempDir(), Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := &recorder{}
	a := &apps{t: t, rec: rec, stop: map[string]func(){}, clients: map[string]*clientlib.Client{}}
	defer a.stopAll()
	for _, m := range c.Members() {
		a.start(m)
	}
	everyone := func(names ...string) func(map[int]string) error {
		return func(w map[int]string) error {
			n := counts(w)
			for _, name := range names {
				if n[name] == 0 {
					return fmt.Errorf("%s works on nothing (%v)", name, n)
				}
			}
			return nil
		}
	}
	waitWorking(t, rec, partitions, "every member to work", everyone("ringd-0", "ringd-1", "ringd-2"))

	// Drain: ringd-2's workers return before the next owners' start.
	if _, err := c.Member("ringd-2").Post(ctx, "/admin/drain", nil); err != nil {
		t.Fatal(err)
	}
	waitWorking(t, rec, partitions, "ringd-2 to be drained", func(w map[int]string) error {
		if n := counts(w)["ringd-2"]; n > 0 {
			return fmt.Errorf("ringd-2 still works on %d", n)
		}
		return nil
	})
	if _, err := c.Member("ringd-2").Post(ctx, "/admin/undrain", nil); err != nil {
		t.Fatal(err)
	}

	// Join.
	m3, err := c.Add(ctx, "ringd-3")
	if err != nil {
		t.Fatal(err)
	}
	a.start(m3)
	waitWorking(t, rec, partitions, "the joiner and the undrained member to work", everyone("ringd-0", "ringd-1", "ringd-2", "ringd-3"))

	// Leader change.
	var cl api.Cluster
	if cl, err = c.Member("ringd-0").Cluster(ctx); err != nil {
		t.Fatal(err)
	}
	to := "ringd-1"
	if cl.Leader == to {
		to = "ringd-2"
	}
	if _, err := c.Member(cl.Leader).Post(ctx, "/admin/leader/transfer", api.TransferRequest{To: to}); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, c, to)

	// Kill a follower's ringd; its app keeps running and must stop each
	// worker before the deadline it was shown, by its own clock.
	victim := "ringd-3"
	killedAt := time.Now()
	if err := c.Member(victim).Kill(); err != nil {
		t.Fatal(err)
	}
	waitWorking(t, rec, partitions, "the survivors to take the killed member's partitions", func(w map[int]string) error {
		if n := counts(w)[victim]; n > 0 {
			return fmt.Errorf("%s still works on %d", victim, n)
		}
		return nil
	})
	for _, s := range rec.snapshot() {
		if s.member != victim || s.to.Before(killedAt) {
			continue
		}
		if !errors.Is(s.cause, clientlib.ErrLeaseExpiring) {
			t.Errorf("%v on the killed member stopped because %v, want ErrLeaseExpiring", s.p, s.cause)
		}
		if !s.to.Before(s.deadline) {
			t.Errorf("%v on the killed member returned at %s, not before its deadline %s", s.p, s.to.Format("15:04:05.000"), s.deadline.Format("15:04:05.000"))
		}
	}

	// Restart it: its app, still running, resumes.
	if err := c.Member(victim).Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitWorking(t, rec, partitions, "the restarted member to work again", everyone(victim))

	// A pod shut down as Kubernetes does: SIGTERM to ringd, and its app
	// waits until it holds nothing before it stops. Every partition goes
	// through the release handshake (revoked, not run out).
	leaving := "ringd-2"
	termAt := time.Now()
	if err := c.Member(leaving).Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	idleCtx, cancelIdle := context.WithTimeout(ctx, 30*time.Second)
	defer cancelIdle()
	if err := a.clients[leaving].WaitIdle(idleCtx); err != nil {
		t.Fatalf("WaitIdle after SIGTERM to %s's ringd: %v", leaving, err)
	}
	idleAfter := time.Since(termAt)
	if err := c.Member(leaving).Wait(idleCtx); err != nil {
		t.Fatalf("%s's ringd after SIGTERM: %v", leaving, err)
	}
	waitWorking(t, rec, partitions, "the others to take the leaving member's partitions", func(w map[int]string) error {
		if n := counts(w)[leaving]; n > 0 {
			return fmt.Errorf("%s still works on %d", leaving, n)
		}
		return nil
	})
	for _, s := range rec.snapshot() {
		if s.member == leaving && s.to.After(termAt) && !errors.Is(s.cause, clientlib.ErrRevoked) {
			t.Errorf("%v on the leaving member stopped because %v, want ErrRevoked (a handshake)", s.p, s.cause)
		}
	}

	a.stopAll()
	for _, s := range rec.snapshot() {
		if s.to.IsZero() {
			t.Errorf("%v on %s still ran after every Run returned", s.p, s.member)
		}
	}
	if bad := rec.check(); len(bad) > 0 {
		t.Fatalf("%d violations:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	t.Logf("%d grants worked on, none overlapping, tokens growing", len(rec.snapshot()))
	for _, cause := range []error{clientlib.ErrRevoked, clientlib.ErrLeaseExpiring} {
		if g := rec.gaps(cause); len(g) > 0 {
			t.Logf("handoffs after %q: %d, gap from the old worker's return to the new one's start: median %v, max %v",
				cause, len(g), g[len(g)/2].Round(time.Millisecond), g[len(g)-1].Round(time.Millisecond))
		}
	}
	t.Logf("pod shutdown: %s's app idle %v after SIGTERM to its ringd", leaving, idleAfter.Round(time.Millisecond))
}

// gaps lists, sorted, the time from a worker's return (for cause) to the
// start of the next worker of its partition on another member.
func (r *recorder) gaps(cause error) []time.Duration {
	spans := r.snapshot()
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var out []time.Duration
	for i, s := range spans {
		if !errors.Is(s.cause, cause) {
			continue
		}
		for _, next := range spans[i+1:] {
			if next.p.ID == s.p.ID {
				if next.member != s.member {
					out = append(out, next.from.Sub(s.to))
				}
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func waitLeader(t *testing.T, c *procluster.Cluster, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cl, err := c.Member(want).Cluster(context.Background()); err == nil && cl.Leader == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not become leader within 30s", want)
}
