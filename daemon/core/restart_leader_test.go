package core

import (
	"errors"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
	"github.com/ringd/ringd/rebalance"
)

// restartLeader is a leader of term 9 (m0) elected with base, the members
// names alive for an hour, its safe wait over, and the events it emits.
func restartLeader(t *testing.T, now time.Time, base partitions.Table, names ...string) (*leaderState, memberTable, *[]Event) {
	opt := Options{Self: "m0", Incarnation: 1, Identity: 1, Partitions: 8, Load: 1.25,
		HeartbeatInterval: 100 * time.Millisecond, Lease: 2 * time.Second, Settle: time.Second}
	members := memberTable{}
	for _, n := range names {
		members[n] = &memberState{MemberInfo: MemberInfo{Name: n, Incarnation: 1, Identity: 1, Alive: true},
			aliveSince: now.Add(-time.Hour)}
	}
	var events []Event
	l := newLeaderState(opt, members, func(e Event) { events = append(events, e) }, now, 9, base,
		election.Config{Voters: base.Voters}, false, map[string]partitions.Report{"m0": {Incarnation: 1}}, fromVotes(now, opt, nil))
	l.holders.safeUntil = now
	return l, members, &events
}

// answered has m1 and m2 acknowledge l's heartbeat of just before at, with
// reports of sequence seq holding nothing.
func answered(l *leaderState, at time.Time, seq uint64) {
	for _, m := range []string{"m1", "m2"} {
		l.acks.lastAck[m] = at.Add(-50 * time.Millisecond)
		l.holders.renew(holderKey{m, 1}, at.Add(-50*time.Millisecond), seq)
		l.holders.report(m, partitions.Report{Incarnation: 1, Seq: seq})
	}
}

// restartBase is a table of term 8 for m0..m2 and 8 partitions, changed by extra.
func restartBase(extra func(*partitions.Table)) partitions.Table {
	t := partitions.Table{ID: partitions.TableID{Term: 8, Version: 3}, Leader: "m9", Members: []string{"m0", "m1", "m2"},
		Voters: []string{el("m0"), el("m1"), el("m2")}, Partitions: make([]partitions.Entry, 8)}
	extra(&t)
	return t
}

// A deadline inherited from another leader's table (its clock) is cut to
// MaxRejoinGrace: a leader whose clock was 10 h ahead does not keep the
// partitions unowned for 10 h at its successor.
func TestInheritedGraceIsBounded(t *testing.T) {
	now := time.Unix(10_000, 0)
	base := restartBase(func(t *partitions.Table) {
		t.Reserved = map[int]string{0: "m1", 1: "m1"}
		t.Restarting = map[string]time.Time{"m1": now.Add(10 * time.Hour)}
	})
	l, members, _ := restartLeader(t, now, base, "m0", "m1", "m2")
	members["m1"].Alive = false // away for its restart
	at := now.Add(2 * MaxRejoinGrace)
	l.acks.lastAck["m2"] = at.Add(-50 * time.Millisecond)
	l.plan(at)
	if l.table.Partitions[0].Owner == "" {
		t.Errorf("%v after the election (twice MaxRejoinGrace) partition 0 is still kept for m1: reserved %v until %v",
			at.Sub(now), l.table.Reserved, l.table.Restarting)
	}
}

// A reservation out of range (decodeEnvelope refuses it; a table from
// elsewhere) is dropped by the next leader: planning does not fail.
func TestInheritedReservationOutOfRangeIsDropped(t *testing.T) {
	now := time.Unix(10_000, 0)
	base := restartBase(func(t *partitions.Table) {
		t.Reserved = map[int]string{99: "m1"}
		t.Restarting = map[string]time.Time{"m1": now.Add(time.Hour)}
	})
	l, _, events := restartLeader(t, now, base, "m0", "m1", "m2")
	at := now.Add(500 * time.Millisecond)
	answered(l, at, 1)
	l.plan(at)
	owned := 0
	for _, e := range l.table.Partitions {
		if e.Owner != "" {
			owned++
		}
	}
	for _, e := range *events {
		if e.Kind == EventPlanFailed && errors.Is(e.Err, rebalance.ErrInvalidConfig) {
			t.Errorf("plan failed: %v; %d of 8 partitions owned", e.Err, owned)
		}
	}
}

// An operator's pin of a kept partition to a member that cannot own does
// not keep the partition from going back to the member it was kept for.
func TestAbsentPinLeavesTheReservation(t *testing.T) {
	now := time.Unix(10_000, 0)
	got := map[string]int{}
	for p := range 8 {
		base := restartBase(func(t *partitions.Table) {
			t.Reserved = map[int]string{p: "m1"}
			t.Pins = map[int]string{p: "m9"}
			t.Restarting = map[string]time.Time{"m1": now.Add(time.Hour)}
		})
		l, _, _ := restartLeader(t, now, base, "m0", "m1", "m2")
		at := now.Add(500 * time.Millisecond)
		answered(l, at, 1)
		l.plan(at)
		got[l.table.Partitions[p].Owner]++
	}
	if got["m1"] != 8 {
		t.Errorf("kept partitions went back to their member only %d times of 8: %v", got["m1"], got)
	}
}

// A reservation without a Restarting entry (for a member that never comes
// back, or the empty name) is dropped by the next leader: the partition does
// not stay unowned for ever.
func TestOrphanReservationIsDropped(t *testing.T) {
	now := time.Unix(10_000, 0)
	base := restartBase(func(t *partitions.Table) { t.Reserved = map[int]string{3: "", 4: "gone"} })
	l, _, _ := restartLeader(t, now, base, "m0", "m1", "m2")
	for i := 1; i <= 100; i++ {
		at := now.Add(time.Duration(i) * time.Minute)
		answered(l, at, uint64(i))
		l.plan(at)
	}
	for _, p := range []int{3, 4} {
		if l.table.Partitions[p].Owner == "" {
			t.Errorf("partition %d unowned after 100 minutes (reserved for %q, restarting %v)", p, l.table.Reserved[p], l.table.Restarting)
		}
	}
}

// A leader that inherited a member's restart entry does not begin it again,
// with a fresh grace, when it ends while the announcing process lingers.
func TestInheritedRestartIsNotBegunTwice(t *testing.T) {
	now := time.Unix(10_000, 0)
	base := restartBase(func(t *partitions.Table) {
		t.Restarting = map[string]time.Time{"m1": now.Add(time.Second)}
	})
	l, members, events := restartLeader(t, now, base, "m0", "m1", "m2")
	members["m1"].Restarting, members["m1"].RejoinGrace, members["m1"].Draining = true, 10*time.Second, true
	l.plan(now.Add(2 * time.Second))
	l.plan(now.Add(2100 * time.Millisecond))
	kinds := []EventKind{}
	for _, e := range *events {
		if e.Kind == EventRestartKept || e.Kind == EventRestartEnded {
			kinds = append(kinds, e.Kind)
		}
	}
	if _, again := l.table.Restarting["m1"]; again {
		t.Errorf("grace ended and began again for the same process: %v, restarting until %v", kinds, l.table.Restarting["m1"])
	}
}
