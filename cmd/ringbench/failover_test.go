package main

import (
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// view builds an answer of member listing ids (state owned), each with
// lease ms left, for a request sent at sent and answered 1 ms later.
func view(member string, sent time.Time, leaseMs int64, state string, ids ...int) answer {
	v := api.Mine{Node: member}
	for _, id := range ids {
		v.Partitions = append(v.Partitions, api.Partition{ID: id, Token: uint64(100 + id), State: state, LeaseRemainingMs: leaseMs})
	}
	return answer{member: member, view: v, sent: sent, recv: sent.Add(time.Millisecond)}
}

func TestCoverageTracker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tr := newCoverageTracker(4)
	// Before arming, answers count for nothing.
	tr.observe(view("a", at(-5), 3000, "owned", 0, 1, 2, 3))
	tr.arm(t0, []int{2, 3})
	// Sent before the kill: ignored, even though it covers everything.
	tr.observe(view("a", at(-1), 3000, "owned", 0, 1, 2, 3))
	tr.observe(view("a", at(10), 3000, "owned", 0, 1))
	tr.observe(view("b", at(12), 3000, "owned", 2))
	if all, own, _ := tr.result(); !all.IsZero() || !own.IsZero() {
		t.Fatalf("met too early: all %v own %v", all, own)
	}
	// b's lease on 3 expired before it was received: not held.
	tr.observe(view("b", at(20), 0, "owned", 2, 3))
	if all, _, _ := tr.result(); !all.IsZero() {
		t.Fatalf("an expired listing counted: all at %v", all)
	}
	// Both a and b list 1: not exactly one holder, and a double hint.
	tr.observe(view("b", at(30), 3000, "owned", 1, 2, 3))
	if all, own, doubles := tr.result(); !all.IsZero() || own != at(31) || doubles != 1 {
		t.Fatalf("after double listing: all %v own %v (want %v) doubles %d (want 1)", all, own, at(31), doubles)
	}
	select {
	case <-tr.done:
		t.Fatal("done before every partition had one holder")
	default:
	}
	// Releasing still counts as held: the app may still work on it.
	tr.observe(view("a", at(40), 3000, "releasing", 0))
	all, own, _ := tr.result()
	if all != at(41) || own != at(31) {
		t.Fatalf("all %v (want %v) own %v (want %v)", all, at(41), own, at(31))
	}
	select {
	case <-tr.done:
	default:
		t.Fatal("not done after both conditions held")
	}
	// Later answers change nothing.
	tr.observe(view("a", at(50), 3000, "owned"))
	if a2, o2, _ := tr.result(); a2 != all || o2 != own {
		t.Fatalf("first times moved: all %v own %v", a2, o2)
	}
}

func TestHandoffTracker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tr := newHandoffTracker("v", t0, []int{1, 2})
	// A long-poll sent before the drain and answered after it counts.
	first := view("v", at(-100), 3000, "releasing", 1, 2)
	first.recv = at(2)
	tr.observe(first)
	tr.observe(view("v", at(5), 3000, "releasing", 2)) // acknowledges 1 and 2; 1 is gone
	tr.observe(view("w", at(8), 3000, "owned", 1, 7))
	tr.observe(view("v", at(10), 3000, "owned")) // nothing left
	select {
	case <-tr.done:
		t.Fatal("done before partition 2 was owned elsewhere")
	default:
	}
	// Releasing on another member does not count as a grant.
	tr.observe(view("x", at(12), 3000, "releasing", 2))
	tr.observe(view("x", at(20), 3000, "owned", 2))
	<-tr.done
	o := tr.outcome()
	if o.timedOut || o.moved != 2 || o.total != 11*time.Millisecond || o.allMoved != 21*time.Millisecond {
		t.Fatalf("outcome %+v, want 2 moved, drained in 11ms, all moved in 21ms", o)
	}
	// 1: unlisted at 6, acknowledged at 5, granted at 9; 2: unlisted at 11,
	// acknowledged at 5, granted at 21.
	if !sameDurations(o.unlistToGrant, 3*time.Millisecond, 10*time.Millisecond) {
		t.Fatalf("unlisted→granted %v, want 3ms and 10ms", o.unlistToGrant)
	}
	if !sameDurations(o.ackToGrant, 4*time.Millisecond, 16*time.Millisecond) {
		t.Fatalf("acknowledged→granted %v, want 4ms and 16ms", o.ackToGrant)
	}
}

// sameDurations reports whether got holds exactly want, in any order.
func sameDurations(got []time.Duration, want ...time.Duration) bool {
	if len(got) != len(want) {
		return false
	}
	left := map[time.Duration]int{}
	for _, w := range want {
		left[w]++
	}
	for _, g := range got {
		if left[g] == 0 {
			return false
		}
		left[g]--
	}
	return true
}

func TestGoalCell(t *testing.T) {
	if got := goalCell(Dist{N: 3, P99: 1.5}, 2*time.Second); got != "p99 ≤ 2.00 s: met" {
		t.Fatalf("goalCell = %q", got)
	}
	if got := goalCell(Dist{N: 3, P99: 2.5}, 2*time.Second); got != "p99 ≤ 2.00 s: missed" {
		t.Fatalf("goalCell = %q", got)
	}
	if defaultFollowerGoal != 3650*time.Millisecond {
		t.Fatalf("default follower goal %v, want 3.65s (lease 3s × 1.05 + margin 200ms + 300ms)", defaultFollowerGoal)
	}
}
