package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ringd/ringd/internal/procluster"
	"github.com/ringd/ringd/partitions"
)

func init() {
	register(Figure{ID: "b", Title: "Planned move: admin drain (real processes)", Run: runDrain})
}

const (
	// drainTimeout ends a drain whose partitions never all moved.
	drainTimeout = time.Minute
	// appWait is the long-poll wait of the bench's apps.
	appWait = 2 * time.Second
)

// drainOutcome is one drain's measurement.
type drainOutcome struct {
	// unlistToGrant: per moved partition, from the answer in which the old
	// member's app no longer saw it to the answer in which the new member's
	// app saw it owned; ackToGrant: from the poll that acknowledged its
	// release to that same answer.
	unlistToGrant, ackToGrant []time.Duration
	// total: from the drain request to the answer in which the drained
	// member's app saw nothing left; moved: to the last of its partitions
	// seen owned elsewhere.
	total, allMoved time.Duration
	timedOut        bool
	moved           int
}

func runDrain(ctx context.Context, env *Env) (Section, error) {
	begin := time.Now()
	base, err := env.BaselineRingd(ctx)
	if err != nil {
		return Section{}, fmt.Errorf("baseline ringd: %w", err)
	}
	drains := env.Trials(10, 2)
	table := Table{Header: []string{"ringd", "per partition: unlisted on the old member → owned on the new",
		"per partition: release acknowledged → owned on the new", "drain request → drained member owns nothing",
		"drain request → all its partitions owned elsewhere"}}
	var safety, notes []string
	for _, b := range []struct{ which, path string }{{"now", env.Ringd}, {"baseline", base}} {
		run := clusterRun{Which: b.which, Binary: b.path, Profile: "default", Members: 5}
		outs, apps, err := measureDrains(ctx, env, run, drains)
		if err != nil {
			return Section{}, err
		}
		var unlist, ack, total, allMoved []time.Duration
		timeouts, moved := 0, 0
		for _, o := range outs {
			unlist, ack = append(unlist, o.unlistToGrant...), append(ack, o.ackToGrant...)
			moved += o.moved
			if o.timedOut {
				timeouts++
				continue
			}
			total, allMoved = append(total, o.total), append(allMoved, o.allMoved)
		}
		totalCell, movedCell := Durations(total).Seconds(), Durations(allMoved).Seconds()
		if timeouts > 0 {
			timedOut := fmt.Sprintf(" + %d timed out after %v", timeouts, drainTimeout)
			totalCell += timedOut
			movedCell += timedOut
		}
		table.AddRow(b.which, Milliseconds(unlist).Format("%.0f", "ms"), Milliseconds(ack).Format("%.0f", "ms"), totalCell, movedCell)
		v := apps.Violations()
		safety = append(safety, fmt.Sprintf("%v: %d partitions moved in %d drains, %d grants seen by the apps, %d application-lease violations",
			run, moved, len(outs), apps.Grants(), len(v)))
		for _, s := range v {
			notes = append(notes, fmt.Sprintf("Ownership violation (%v): %s", run, s))
		}
	}
	sec := Section{
		Title:   "b. Planned move: admin drain",
		Command: "go run ./cmd/ringbench --figures b",
		Setup: fmt.Sprintf("5 real ringd processes on 127.0.0.1 (internal/procluster), P = %d, default timings (the same flags as profile "+
			"\"default\" of figure a). Beside each member runs an app in the bench process that long-polls GET /partitions/mine "+
			"(?index=, wait %v) and so acknowledges every release with its next poll, sent as soon as an answer arrives. A drain is "+
			"POST /admin/drain on one member; once it owns nothing, POST /admin/undrain and a wait until the cluster is stable again "+
			"(leader %s, every member owning partitions, unchanged for %v). %d drains per ringd, taking the members in turn "+
			"(ringd-1, ringd-2, ..., then the leader %s); ringd now and the baseline (%s) in the same run.",
			benchPartitions, appWait, topRanked, stableHold, drains, topRanked, baselineRef(env)),
		Tables: []Table{table},
	}
	sec.Notes = append(sec.Notes,
		"How it is timed: all times are those of the apps' own polls. Unlisted: the receive time of the first answer of the drained "+
			"member without the partition. Acknowledged: the send time of the poll that carried the index of the first answer showing "+
			"it releasing. Owned on the new member: the receive time of the first answer of another member listing it owned with lease "+
			"time left. Each partition gap is one sample; the drain time is one sample per drain. A gap from unlisted can be "+
			"negative: the two members' answers travel separately.",
		"Double ownership: every answer the apps got went to the application-lease check (procluster.AppLeases: no two apps may "+
			"work on a partition at once under the deadlines they were shown). "+strings.Join(safety, "; ")+".",
		fmt.Sprintf("Figure b took %v in this run.", time.Since(begin).Round(time.Second)),
	)
	sec.Notes = append(sec.Notes, notes...)
	return sec, nil
}

// seconds converts a float number of seconds back to a Duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// measureDrains starts one cluster of run with the bench's apps and drains
// its members in turn.
func measureDrains(ctx context.Context, env *Env, run clusterRun, drains int) ([]drainOutcome, *procluster.AppLeases, error) {
	var (
		mu      sync.Mutex
		tracker *handoffTracker
	)
	leases := procluster.NewAppLeases(benchPartitions)
	record := func(a answer) {
		leases.Record(a.member, a.view, a.sent, a.recv)
		mu.Lock()
		tr := tracker
		mu.Unlock()
		if tr != nil {
			tr.observe(a)
		}
	}
	runApps := func(c *procluster.Cluster) func() { return runAckingApps(ctx, c, record) }
	env.Log.Info("starting cluster", "run", run.String())
	c, closeCluster, err := startCluster(ctx, env, run, fmt.Sprintf("b-%s", run.Which), runApps)
	if err != nil {
		return nil, nil, err
	}
	defer closeCluster()

	var outs []drainOutcome
	for i := range drains {
		victim := fmt.Sprintf("ringd-%d", (i+1)%run.Members)
		m := c.Member(victim)
		before, err := m.Mine(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("%v: reading %s's partitions before the drain: %w", run, victim, err)
		}
		start := time.Now()
		tr := newHandoffTracker(victim, start, procluster.IDs(before))
		mu.Lock()
		tracker = tr
		mu.Unlock()
		if _, err := m.Post(ctx, "/admin/drain", nil); err != nil {
			return nil, nil, fmt.Errorf("%v: draining %s: %w", run, victim, err)
		}
		timer := time.NewTimer(drainTimeout)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, nil, ctx.Err()
		case <-tr.done:
		case <-timer.C:
		}
		timer.Stop()
		mu.Lock()
		tracker = nil
		mu.Unlock()
		o := tr.outcome()
		outs = append(outs, o)
		if o.timedOut {
			env.Log.Warn("drain timed out", "run", run.String(), "member", victim, "drain", i+1, "after", drainTimeout)
		} else {
			g := Durations(o.unlistToGrant)
			env.Log.Info("drain", "run", run.String(), "member", victim, "drain", i+1, "partitions", o.moved,
				"owns_nothing", o.total.Round(time.Millisecond), "all_moved", o.allMoved.Round(time.Millisecond),
				"gap_median", seconds(g.Median).Round(time.Millisecond), "gap_max", seconds(g.P99).Round(time.Millisecond))
		}
		if _, err := m.Post(ctx, "/admin/undrain", nil); err != nil {
			return nil, nil, fmt.Errorf("%v: undraining %s: %w", run, victim, err)
		}
		if err := waitStable(ctx, c, stableTimeout(run.Members)); err != nil {
			return nil, nil, fmt.Errorf("%v: cluster not stable after undraining %s: %w", run, victim, err)
		}
	}
	return outs, leases, nil
}

// runAckingApps runs one app per member, as a prompt application would: it
// long-polls GET /partitions/mine with the index of the last answer it got,
// which acknowledges every release that answer showed, and asks again as
// soon as an answer arrives. Each answer goes to record. The members must
// not restart (the apps do not pass ?incarnation=).
func runAckingApps(ctx context.Context, c *procluster.Cluster, record func(answer)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, m := range c.Members() {
		wg.Go(func() {
			var index uint64
			for ctx.Err() == nil {
				sent := time.Now()
				v, err := m.MineAfter(ctx, index, appWait)
				recv := time.Now()
				if err == nil {
					record(answer{member: m.Name, view: v, sent: sent, recv: recv})
				}
				// Back off after an error, and after an early answer with
				// nothing new, rather than spin.
				if err != nil || (v.Index == index && recv.Sub(sent) < appWait/2) {
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
				if err == nil {
					index = v.Index
				}
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// handoff is what was seen of one partition leaving the drained member.
type handoff struct {
	acked, unlisted, granted time.Time
}

// handoffTracker follows one drain through the apps' answers: when the
// drained member's app acknowledged and stopped seeing each of its
// partitions, when another member's app first saw it owned, and when the
// drained member's app saw nothing left. It is safe for concurrent use.
type handoffTracker struct {
	victim string
	start  time.Time

	mu      sync.Mutex
	moving  map[int]*handoff
	pending []int // listed releasing in the victim's last answer: its next poll acknowledges them
	emptyAt time.Time
	done    chan struct{}
	closed  bool
}

func newHandoffTracker(victim string, start time.Time, ids []int) *handoffTracker {
	t := &handoffTracker{victim: victim, start: start, moving: map[int]*handoff{}, done: make(chan struct{})}
	for _, id := range ids {
		t.moving[id] = &handoff{}
	}
	return t
}

func (t *handoffTracker) observe(a answer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !a.recv.After(t.start) {
		return
	}
	if a.member == t.victim {
		// This poll carried the index of the previous answer, so it
		// acknowledged what that answer showed releasing.
		for _, id := range t.pending {
			if h := t.moving[id]; h != nil && h.acked.IsZero() {
				h.acked = a.sent
			}
		}
		t.pending = t.pending[:0]
		listed := map[int]bool{}
		for _, p := range a.view.Partitions {
			listed[p.ID] = true
			if p.State == string(partitions.Releasing) {
				t.pending = append(t.pending, p.ID)
			}
		}
		for id, h := range t.moving {
			if !listed[id] && h.unlisted.IsZero() {
				h.unlisted = a.recv
			}
		}
		if len(a.view.Partitions) == 0 && t.emptyAt.IsZero() {
			t.emptyAt = a.recv
		}
	} else {
		for _, p := range a.view.Partitions {
			h := t.moving[p.ID]
			if h != nil && h.granted.IsZero() && p.State == string(partitions.Owned) && p.LeaseRemainingMs > 0 {
				h.granted = a.recv
			}
		}
	}
	if t.closed || t.emptyAt.IsZero() {
		return
	}
	for _, h := range t.moving {
		if h.granted.IsZero() {
			return
		}
	}
	t.closed = true
	close(t.done)
}

// outcome returns the drain's figures; a partition not yet moved (or not
// seen unlisted or acknowledged) gives no gap sample.
func (t *handoffTracker) outcome() drainOutcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := drainOutcome{timedOut: !t.closed}
	if !t.emptyAt.IsZero() {
		o.total = t.emptyAt.Sub(t.start)
	}
	for _, h := range t.moving {
		if h.granted.IsZero() {
			continue
		}
		o.moved++
		o.allMoved = max(o.allMoved, h.granted.Sub(t.start))
		if !h.unlisted.IsZero() {
			o.unlistToGrant = append(o.unlistToGrant, h.granted.Sub(h.unlisted))
		}
		if !h.acked.IsZero() {
			o.ackToGrant = append(o.ackToGrant, h.granted.Sub(h.acked))
		}
	}
	return o
}
