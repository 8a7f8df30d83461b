package procluster

import (
	"fmt"
	"sync"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/ownercheck"
	"github.com/ringd/ringd/partitions"
)

// AppLeases checks ownership the way an application sees it: each member's
// app (RunApps) works on a grant from when it receives an answer of GET
// /partitions/mine that lists it until the earliest of
//
//   - the deadline that answer gave it: request sent + heldMs +
//     leaseRemainingMs of the partition (later answers move it on);
//   - receiving an answer that no longer lists it;
//   - receiving an answer that lists it releasing (the app polls again at
//     once, which acknowledges the release, so it stops working then).
//
// An app that loses its sidecar (killed, stopped, unreachable) keeps working
// until the deadline it was last given, as a real one would. The
// application-lease model of the ownership checker (ownercheck.ObserveLeases)
// judges these intervals: two apps working on one partition at once, one app
// under two tokens, a dropped grant shown again, tokens out of order. This is
// the promise an application relies on, stronger than what the daemons list
// (Proof), because it holds the daemons to every deadline they showed. It is
// safe for concurrent use.
type AppLeases struct {
	mu         sync.Mutex
	partitions int
	check      *ownercheck.Checker
	leases     []partitions.Holding // reused for every answer
}

// NewAppLeases returns an empty check for partitions 0..n-1.
func NewAppLeases(n int) *AppLeases {
	return &AppLeases{partitions: n, check: ownercheck.New(n)}
}

// Record adds one answer member's app got: requested at sent, received at
// recv. One member's answers must be recorded in the order they came.
func (a *AppLeases) Record(member string, v api.Mine, sent, recv time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	base := sent.Add(time.Duration(v.HeldMs) * time.Millisecond)
	a.leases = a.leases[:0]
	for _, p := range v.Partitions {
		if p.State == string(partitions.Releasing) {
			continue // acknowledged at once: the app stops at recv
		}
		a.leases = append(a.leases, partitions.Holding{ID: p.ID, Token: p.Token, State: partitions.State(p.State),
			Until: base.Add(time.Duration(p.LeaseRemainingMs) * time.Millisecond)})
	}
	a.check.ObserveLeases(member, recv, a.leases)
}

// Violations lists, one line each, every breach of the promise the apps
// relied on: above all two apps (or one app under two tokens) that worked on
// a partition at the same time.
func (a *AppLeases) Violations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, v := range a.check.Violations() {
		out = append(out, describeAppViolation(v))
	}
	return out
}

// describeAppViolation says what the apps did; overlaps in their words, with
// how long the apps worked on the partition together.
func describeAppViolation(v ownercheck.Violation) string {
	if v.Kind != ownercheck.DoubleOwner && v.Kind != ownercheck.TwoTokens {
		return "apps: " + v.String()
	}
	x, y := v.First, v.Second // x started no later than y
	const ms = "15:04:05.000" // UTC, as ownercheck prints times
	return fmt.Sprintf("partition %d: the app of %s worked on token %d until %s, the app of %s on token %d from %s (overlap %v)",
		v.Partition, x.Member, x.Token, x.Until.UTC().Format(ms), y.Member, y.Token, y.From.UTC().Format(ms),
		minTime(x.Until, y.Until).Sub(y.From).Round(time.Millisecond))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Grants is how many grants the apps worked on (a grant shown again after
// it ended counts twice).
func (a *AppLeases) Grants() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for p := range a.partitions {
		n += len(a.check.Intervals(p))
	}
	return n
}
