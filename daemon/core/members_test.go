package core

import (
	"slices"
	"testing"
	"time"
)

func TestFlapHoldDownGrowsWithFlaps(t *testing.T) {
	base := 30 * time.Second
	for _, tc := range []struct {
		flaps int
		base  time.Duration
		want  time.Duration
	}{
		{0, base, 0}, {1, base, base}, {2, base, 2 * base}, {3, base, 4 * base},
		{5, base, 16 * base}, {9, base, 16 * base}, // capped
		{3, 0, 0}, // damping off
	} {
		if got := flapHoldDown(tc.flaps, tc.base); got != tc.want {
			t.Errorf("flapHoldDown(%d, %v) = %v, want %v", tc.flaps, tc.base, got, tc.want)
		}
	}
}

// alive and dead are what gossip says about member x in incarnation inc.
func alive(inc uint64) MemberInfo { return MemberInfo{Name: "x", Incarnation: inc, Alive: true} }
func dead(inc uint64) MemberInfo  { return MemberInfo{Name: "x", Incarnation: inc} }

func TestReturnsCountFlapsWithinAnIncarnation(t *testing.T) {
	settle, base := 2*time.Second, 30*time.Second
	t0 := time.Unix(10_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m := &memberState{}
	m.observe(at(0), alive(1), base)
	if !m.heldDown(at(1), settle, base) || m.heldDown(at(2), settle, base) {
		t.Fatalf("a new member: held down for settle, then admitted")
	}
	m.observe(at(10), dead(1), base)
	if !m.heldDown(at(11), settle, base) {
		t.Fatalf("a dead member is held down")
	}
	m.observe(at(20), alive(1), base) // flap 1
	if m.returns.flaps != 1 || !m.heldDown(at(20+29), settle, base) || m.heldDown(at(20+30), settle, base) {
		t.Fatalf("after one flap: %d flaps; want held down for %v from the return", m.returns.flaps, base)
	}
	// Asking changes nothing, however long after.
	before := m.returns
	m.heldDown(at(100_000), settle, base)
	if m.returns != before {
		t.Fatalf("heldDown changed the record: %+v -> %+v", before, m.returns)
	}
	m.observe(at(40), dead(1), base)
	m.observe(at(60), alive(1), base) // flap 2
	if m.returns.flaps != 2 || !m.heldDown(at(60+59), settle, base) || m.heldDown(at(60+60), settle, base) {
		t.Fatalf("after two flaps: %d flaps; want held down for %v from the return", m.returns.flaps, 2*base)
	}
	// In for ten hold-downs (10 x 60 s): the next return counts as the first.
	m.observe(at(60+600), dead(1), base)
	m.observe(at(60+700), alive(1), base)
	if m.returns.flaps != 1 {
		t.Fatalf("a return after ten hold-downs in: %d flaps, want 1 (forgiven)", m.returns.flaps)
	}
	// In for just short of ten hold-downs (10 x 30 s), out for long: not
	// forgiven (an outage is no stability).
	m.observe(at(760+299), dead(1), base)
	m.observe(at(760+900), alive(1), base)
	if m.returns.flaps != 2 {
		t.Fatalf("a return within ten hold-downs: %d flaps, want 2", m.returns.flaps)
	}
}

func TestRestartIsNotAFlap(t *testing.T) {
	settle, base := 2*time.Second, 30*time.Second
	t0 := time.Unix(10_000, 0)
	m := &memberState{}
	m.observe(t0, alive(1), base)
	for i := range 3 { // three flaps of incarnation 1
		m.observe(t0.Add(time.Duration(10*i+5)*time.Second), dead(1), base)
		m.observe(t0.Add(time.Duration(10*i+10)*time.Second), alive(1), base)
	}
	if m.returns.flaps != 3 {
		t.Fatalf("%d flaps, want 3", m.returns.flaps)
	}
	// A restart: gossip shows the old process dead, then the new one.
	m.observe(t0.Add(40*time.Second), dead(1), base)
	m.observe(t0.Add(50*time.Second), alive(2), base)
	if m.returns.flaps != 0 || m.heldDown(t0.Add(50*time.Second+settle), settle, base) {
		t.Fatalf("a new incarnation: %d flaps, held down after settle; want a clean start", m.returns.flaps)
	}
	// Straight from one live process to the next, too.
	m.observe(t0.Add(60*time.Second), alive(3), base)
	if m.returns.flaps != 0 || m.returns.out {
		t.Fatalf("a new incarnation while alive: %+v", m.returns)
	}
}

func TestSilenceToTheLeaderIsAnOutage(t *testing.T) {
	settle, base, lease, hiccup := 2*time.Second, 30*time.Second, 3*time.Second, time.Second
	t0 := time.Unix(10_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	heard := func(m *memberState, ms int, quiet time.Duration) {
		m.heardFrom(at(ms), quiet, quiet < lease, lease, hiccup, base)
	}
	m := &memberState{}
	m.observe(at(0), alive(1), base)
	// Quiet for a lease, but within a lease of coming alive: not yet out.
	heard(m, 2900, 3*time.Second)
	if m.returns.out {
		t.Fatal("a new member quiet for less than a lease since it came alive counts as out")
	}
	heard(m, 3000, 0)
	heard(m, 10_000, 7*time.Second) // quiet for a lease, gossip says alive
	if !m.returns.out || !m.heldDown(at(10_000), settle, base) {
		t.Fatalf("quiet for a lease: %+v, want out and held down", m.returns)
	}
	heard(m, 12_000, 0) // answers again
	if m.returns.out || m.returns.flaps != 1 || !m.heldDown(at(12_000+29_000), settle, base) {
		t.Fatalf("back from silence: %+v, want one flap and the flap hold-down", m.returns)
	}
	// One outage seen by gossip and then by the leader counts once: gossip
	// calls it dead, then alive; its first ack comes within a lease.
	m.observe(at(50_000), dead(1), base)
	heard(m, 55_000, 5*time.Second)
	m.observe(at(60_000), alive(1), base)
	heard(m, 60_500, 10*time.Second)
	heard(m, 61_000, 0)
	if m.returns.flaps != 2 {
		t.Fatalf("one outage seen by gossip and the leader: %d flaps, want 2", m.returns.flaps)
	}
}

func TestHiccupRestartsTheFlapHoldDown(t *testing.T) {
	settle, base, lease, hiccup := 2*time.Second, 30*time.Second, 3*time.Second, time.Second
	t0 := time.Unix(10_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m := &memberState{}
	m.observe(at(0), alive(1), base)
	m.observe(at(10), dead(1), base)
	m.observe(at(20), alive(1), base) // flap 1: held down until 50
	m.heardFrom(at(45), 1500*time.Millisecond, true, lease, hiccup, base)
	if m.returns.flaps != 1 || !m.heldDown(at(50), settle, base) || m.heldDown(at(75), settle, base) {
		t.Fatalf("a hiccup at 45 s: %+v; want one flap and the hold-down from 45 s", m.returns)
	}
	// Past its hold-down, a hiccup is nothing: only a lease of silence is.
	m.heardFrom(at(80), 1500*time.Millisecond, true, lease, hiccup, base)
	if m.heldDown(at(80), settle, base) {
		t.Fatal("a hiccup after the hold-down held the member down again")
	}
	// Damping off: no hold-down to restart.
	off := &memberState{}
	off.observe(at(0), alive(1), 0)
	off.observe(at(10), dead(1), 0)
	off.observe(at(20), alive(1), 0)
	off.heardFrom(at(21), 1500*time.Millisecond, true, lease, hiccup, 0)
	if off.heldDown(at(20).Add(settle), settle, 0) {
		t.Fatal("damping off: a hiccup held the member down")
	}
}

func TestDampingOffWaitsSettleOnly(t *testing.T) {
	settle := 2 * time.Second
	t0 := time.Unix(10_000, 0)
	m := &memberState{}
	m.observe(t0, alive(1), 0)
	for i := range 5 {
		m.observe(t0.Add(time.Duration(10*i+5)*time.Second), dead(1), 0)
		m.observe(t0.Add(time.Duration(10*i+10)*time.Second), alive(1), 0)
	}
	back := t0.Add(50 * time.Second)
	if !m.heldDown(back.Add(settle-1), settle, 0) || m.heldDown(back.Add(settle), settle, 0) {
		t.Fatal("damping off: a member back after five flaps should wait settle from its return, no more")
	}
}

func TestSortByRankPutsTheUnreachableLast(t *testing.T) {
	ms := memberTable{}
	for _, m := range []MemberInfo{
		{Name: "a", Identity: 1, Alive: true},
		{Name: "b", Identity: 1, Alive: true, Priority: 2},
		{Name: "c", Identity: 1},              // dead
		{Name: "d", Identity: 2, Alive: true}, // d@1 is an old identity
		{Name: "self", Identity: 1},           // this member: alive whatever gossip says
	} {
		ms[m.Name] = &memberState{MemberInfo: m}
	}
	names := []string{el("unknown"), el("d"), el("c"), el("a"), el("self"), el("b")}
	ms.sortByRank(names, el("self"))
	want := []string{el("b"), el("a"), el("self"), el("c"), el("d"), el("unknown")}
	if !slices.Equal(names, want) {
		t.Errorf("ranked %v, want %v", names, want)
	}
}
