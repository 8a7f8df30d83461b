package main

// Shared by figures a (failover after SIGKILL) and b (planned moves): real
// ringd clusters on loopback, the outside pollers that watch them, and the
// wait for a stable cluster between trials.

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

const (
	// benchPartitions is P for the real-process figures, ringd's default.
	benchPartitions = 271
	// stableHold is how long the leader and every member's partitions must
	// stay the same before a trial starts: several heartbeats at the default
	// 200 ms, so a change still on its way shows.
	stableHold = time.Second
)

// answer is one GET /partitions/mine answer, stamped with the time its
// request was sent and the time the answer came back.
type answer struct {
	member     string
	view       api.Mine
	sent, recv time.Time
}

// deadline is when the member's app must stop working on p according to
// this answer: send time + heldMs + the partition's leaseRemainingMs, the
// rule the API gives apps (counted from the send time, so never later than
// the member's own lease end).
func (a answer) deadline(p api.Partition) time.Time {
	return a.sent.Add(time.Duration(a.view.HeldMs+p.LeaseRemainingMs) * time.Millisecond)
}

// clusterRun names one cluster a figure starts: which ringd ("now" or
// "baseline"), with which flags.
type clusterRun struct {
	// Which is "now" or "baseline", for tables and logs.
	Which  string
	Binary string
	// Profile names the timing flags in Args ("default", "fast").
	Profile string
	Args    []string
	Members int
}

func (r clusterRun) String() string {
	return fmt.Sprintf("%s/%s/%d members", r.Which, r.Profile, r.Members)
}

// startCluster starts r's members (P = benchPartitions), starts their apps
// with runApps (which returns the func that stops them), and waits until the
// cluster is stable. The apps must acknowledge releases, or every move waits
// for --release-timeout. Besides r.Args the members get only what
// procluster.Start always sets: names, loopback addresses, --join,
// --bootstrap-expect, --data-dir and a --cluster-label of their own (Fast is
// off, so no test timings). The caller stops the apps and closes the cluster
// with the returned func.
func startCluster(ctx context.Context, env *Env, r clusterRun, dirName string, runApps func(*procluster.Cluster) (stop func())) (*procluster.Cluster, func(), error) {
	c, err := procluster.Start(ctx, procluster.Options{
		Binary:       r.Binary,
		Members:      r.Members,
		Partitions:   benchPartitions,
		Dir:          filepath.Join(env.Dir, dirName),
		ExtraArgs:    r.Args,
		StartTimeout: time.Minute,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("starting %v: %w", r, err)
	}
	stopApps := runApps(c)
	closeAll := func() {
		stopApps()
		_ = c.Close()
	}
	if err := waitStable(ctx, c, stableTimeout(r.Members)); err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("%v never became stable after start: %w", r, err)
	}
	return c, closeAll, nil
}

// stableTimeout bounds the wait for a stable cluster: generous, since 25
// members share two cores with the rest of the machine.
func stableTimeout(members int) time.Duration {
	return time.Minute + time.Duration(members)*4*time.Second
}

// topRanked is the member every election ends with when all priorities are
// equal: ring order is priority, then name, and ringd-0 sorts first.
const topRanked = "ringd-0"

// waitStable waits until every running member agrees on the leader, the
// leader is the top-ranked member (so a restarted one is not about to take
// over by preemption in the middle of the next trial), every member owns at
// least one partition (so each has something to hand over), every partition
// is listed by exactly one member, and all of that held for stableHold.
func waitStable(ctx context.Context, c *procluster.Cluster, timeout time.Duration) error {
	_, _, err := c.WaitSettled(ctx, nil, stableHold, timeout, func(s procluster.Snapshot) error {
		if l := procluster.Leader(s); l != topRanked {
			return fmt.Errorf("leader is %q, waiting for %s", l, topRanked)
		}
		for _, n := range s.Names() {
			if len(s[n].Partitions) == 0 {
				return fmt.Errorf("%s owns nothing yet", n)
			}
		}
		return nil
	})
	return err
}

// pollMembers polls GET /partitions/mine of each named member every `every`
// (each member on its own goroutine, so a slow one holds up nobody), each
// request bounded by timeout, and hands every answer to record, which must
// be safe for concurrent use; one member's answers come in the order they
// were sent. stop ends the polling and waits for it.
func pollMembers(ctx context.Context, c *procluster.Cluster, names []string, every, timeout time.Duration, record func(answer)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, name := range names {
		m := c.Member(name)
		wg.Go(func() {
			t := time.NewTimer(0)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				sent := time.Now()
				rctx, rcancel := context.WithTimeout(ctx, timeout)
				v, err := m.Mine(rctx)
				rcancel()
				if err == nil {
					record(answer{member: name, view: v, sent: sent, recv: time.Now()})
				}
				t.Reset(max(0, time.Until(sent.Add(every))))
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// goalCell states a p99 goal and whether d meets it.
func goalCell(d Dist, goal time.Duration) string {
	verdict := "met"
	switch {
	case d.N == 0:
		verdict = "not measured"
	case d.P99 > goal.Seconds():
		verdict = "missed"
	}
	return fmt.Sprintf("p99 ≤ %.2f s: %s", goal.Seconds(), verdict)
}
