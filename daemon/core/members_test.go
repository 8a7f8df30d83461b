package core

import (
	"slices"
	"testing"
	"time"
)

func TestHoldDownGrowsWithFlapsAndIsForgiven(t *testing.T) {
	settle := time.Second
	back := time.Unix(10_000, 0)
	for _, tc := range []struct {
		flaps int
		want  time.Duration
	}{{0, settle}, {1, 2 * settle}, {3, 8 * settle}, {4, 16 * settle}, {9, 16 * settle}} {
		m := &memberState{aliveSince: back, flaps: tc.flaps}
		if got := m.holdDown(back, settle); got != tc.want {
			t.Errorf("%d flaps: hold-down %v, want %v", tc.flaps, got, tc.want)
		}
	}
	m := &memberState{aliveSince: back, flaps: 2}
	if got := m.holdDown(back.Add(40*settle), settle); got != 4*settle || m.flaps != 2 {
		t.Errorf("alive for ten hold-downs: %v with %d flaps, want 4s and the flaps kept", got, m.flaps)
	}
	if got := m.holdDown(back.Add(40*settle+1), settle); got != settle || m.flaps != 0 {
		t.Errorf("alive for more than ten hold-downs: %v with %d flaps, want 1s and the flaps forgiven", got, m.flaps)
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
