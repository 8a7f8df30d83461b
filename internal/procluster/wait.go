package procluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrTimeout: a Wait* did not see its condition within its timeout.
var ErrTimeout = errors.New("procluster: condition not reached in time")

// snapshotTimeout bounds one member's answer within a snapshot, so a frozen
// member slows a poll by at most this much.
const snapshotTimeout = time.Second

// Snapshot polls GET /partitions/mine of every running member once
// (concurrently) and returns the views that came back; a member that did not
// answer is absent (Poll says why).
func (c *Cluster) Snapshot(ctx context.Context) Snapshot {
	s, _ := c.Poll(ctx, c.Names())
	return s
}

// Poll polls GET /partitions/mine of the named members once, concurrently.
// errs holds, for each member without a view, why.
func (c *Cluster) Poll(ctx context.Context, names []string) (s Snapshot, errs map[string]error) {
	s, errs = make(Snapshot), make(map[string]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		m := c.Member(name)
		if m == nil {
			errs[name] = fmt.Errorf("no member %q", name)
			continue
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
			defer cancel()
			v, err := m.Mine(rctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[name] = err
			} else {
				s[name] = v
			}
		})
	}
	wg.Wait()
	return s, errs
}

// WaitFor polls the members (nil: those running at each poll) until cond
// accepts a snapshot in which every polled member answered. It returns that
// snapshot and how long the wait took. It fails at once with ErrExited when a
// named member's process exits, with ErrTimeout (and the last snapshot, and
// the last reason in the error) after timeout, and with ctx's error when ctx
// ends.
func (c *Cluster) WaitFor(ctx context.Context, members []string, timeout time.Duration, cond func(Snapshot) error) (Snapshot, time.Duration, error) {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last Snapshot
	lastErr := errors.New("not polled yet")
	for wctx.Err() == nil {
		names := members
		if names == nil {
			names = c.Names()
		}
		for _, n := range names {
			m := c.Member(n)
			if m == nil {
				return last, time.Since(start), fmt.Errorf("procluster: no member %q", n)
			}
			if !m.Running() {
				return last, time.Since(start), fmt.Errorf("%s: %w (%v); log tail:\n%s", n, ErrExited, m.Wait(ctx), indent(m.LogTail(20)))
			}
		}
		s, errs := c.Poll(wctx, names)
		if wctx.Err() != nil {
			break // a poll cut short by the deadline decides nothing
		}
		last = s
		if len(errs) > 0 {
			lastErr = pollErrors(errs)
		} else if err := cond(s); err != nil {
			lastErr = err
		} else {
			return s, time.Since(start), nil
		}
		select {
		case <-wctx.Done():
		case <-tick.C:
		}
	}
	if err := ctx.Err(); err != nil {
		return last, time.Since(start), err
	}
	return last, time.Since(start), fmt.Errorf("%w (%v): %w", ErrTimeout, timeout, lastErr)
}

// WaitFullCoverage waits until every partition 0..P-1 is listed (owned or
// releasing) by exactly one of members (nil: the running members) and returns
// how long that took. See WaitFor for the errors.
func (c *Cluster) WaitFullCoverage(ctx context.Context, members []string, timeout time.Duration) (time.Duration, error) {
	_, d, err := c.WaitFor(ctx, members, timeout, func(s Snapshot) error {
		return CheckCoverage(s, nil, c.opt.Partitions)
	})
	return d, err
}

// WaitSettled waits until members (nil: the running members) agree
// (CheckAgreement: one leader among them, every partition listed by exactly
// one), every extra check passes, and the leader and every member's
// partitions and their states stayed the same for hold. It returns the last
// snapshot and the time from the call to the first poll of that unchanged
// stretch: the time the cluster took to converge. See WaitFor for the errors.
func (c *Cluster) WaitSettled(ctx context.Context, members []string, hold, timeout time.Duration, extra ...func(Snapshot) error) (Snapshot, time.Duration, error) {
	start := time.Now()
	var (
		key   string
		since time.Time
	)
	s, _, err := c.WaitFor(ctx, members, timeout, func(s Snapshot) error {
		err := CheckAgreement(s, nil, c.opt.Partitions)
		for _, check := range extra {
			if err != nil {
				break
			}
			err = check(s)
		}
		if err != nil {
			key = ""
			return err
		}
		now := time.Now()
		if k := fingerprint(s); k != key {
			key, since = k, now
		}
		if held := now.Sub(since); held < hold {
			return fmt.Errorf("assignment unchanged for %v, waiting for %v", held.Round(time.Millisecond), hold)
		}
		return nil
	})
	if err != nil {
		return s, time.Since(start), err
	}
	return s, since.Sub(start), nil
}

// fingerprint identifies the leader and every member's partitions and states.
func fingerprint(s Snapshot) string {
	var b strings.Builder
	b.WriteString(Leader(s))
	for _, n := range s.Names() {
		ps := append(s[n].Partitions[:0:0], s[n].Partitions...)
		sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
		fmt.Fprintf(&b, "|%s:", n)
		for _, p := range ps {
			fmt.Fprintf(&b, "%d%s,", p.ID, p.State)
		}
	}
	return b.String()
}

func pollErrors(errs map[string]error) error {
	names := make([]string, 0, len(errs))
	for n := range errs {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("no view from %s: %v", n, errs[n]))
	}
	return errors.New(strings.Join(parts, "; "))
}

// RunApps stands in for each member's application: one goroutine per member
// long-polls its GET /partitions/mine with the index of the last view it got,
// which acknowledges every release at once, as a prompt app (or clientlib)
// would. Without it, releases wait for --release-timeout. It follows restarts.
// The returned stop cancels the pollers and waits for them.
//
// Every answer the apps get is recorded in c.AppLeases(), which checks that
// no two apps worked on a partition at once under the deadlines they were
// shown. Members added later (Add) get an app too.
func (c *Cluster) RunApps(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	leases := c.AppLeases()
	started := map[*Member]bool{}
	startNew := func() {
		for _, m := range c.Members() {
			if !started[m] {
				started[m] = true
				wg.Go(func() { m.runApp(ctx, leases) })
			}
		}
	}
	startNew()
	wg.Go(func() {
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				startNew()
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// AppLeases returns the application-side check that RunApps feeds.
func (c *Cluster) AppLeases() *AppLeases {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.appLeases == nil {
		c.appLeases = NewAppLeases(c.Partitions())
	}
	return c.appLeases
}

func (m *Member) runApp(ctx context.Context, leases *AppLeases) {
	const (
		wait    = 2 * time.Second
		backoff = 100 * time.Millisecond
	)
	var index uint64
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := backoff
		if m.Running() {
			asked := time.Now()
			if v, err := m.MineAfter(ctx, index, wait); err == nil {
				leases.Record(m.Name, v, asked, time.Now())
				// Ask again at once, unless the answer came back early with
				// nothing new (the member ignored the wait): then back off
				// rather than spin.
				if v.Index != index || time.Since(asked) >= wait/2 {
					next = 0
				}
				index = v.Index
			}
		}
		t.Reset(next)
	}
}
