package core

import (
	"testing"
	"time"
)

// TestViewMembersFollowEveryChange: View's member list is kept between
// changes (memberViewCache), so every change that shows in it must show at
// once: a member coming, dying, changing its priority or incarnation, this
// member draining. Between changes, views share one list.
func TestViewMembersFollowEveryChange(t *testing.T) {
	now := time.Unix(10_000, 0)
	c := New(Options{Self: "a", Incarnation: 1, Identity: 1, Partitions: 4, Load: 1.25, Voters: 3,
		HeartbeatInterval: 100 * time.Millisecond, LeaderTimeout: time.Second, ElectionTimeout: time.Second,
		LeaderLease: time.Second, Lease: 2 * time.Second, SafetyMargin: 100 * time.Millisecond,
		DeadMemberTimeout: time.Minute}, Durable{})
	find := func(v View, name string) (MemberView, bool) {
		for _, m := range v.Members {
			if m.Name == name {
				return m, true
			}
		}
		return MemberView{}, false
	}
	b := MemberInfo{Name: "b", Incarnation: 1, Identity: 2, Alive: true}
	c.SetMembers(now, []MemberInfo{b})
	v1 := c.View(now)
	if m, ok := find(v1, "b"); !ok || !m.Alive {
		t.Fatalf("b joined: view members %+v", v1.Members)
	}
	if v2 := c.View(now); &v2.Members[0] != &v1.Members[0] {
		t.Errorf("nothing changed, yet the member list was built again")
	}
	c.SetMembers(now, []MemberInfo{b}) // gossip woke the host for nothing that shows here
	if v2 := c.View(now); &v2.Members[0] != &v1.Members[0] {
		t.Errorf("the same members again, yet the member list was built again")
	}
	for _, step := range []struct {
		what  string
		apply func()
		check func(View) bool
	}{
		{"b's priority changes", func() { b.Priority = 7; c.SetMembers(now, []MemberInfo{b}) },
			func(v View) bool { m, _ := find(v, "b"); return m.Priority == 7 }},
		{"b restarts", func() { b.Incarnation = 2; c.SetMembers(now, []MemberInfo{b}) },
			func(v View) bool { m, _ := find(v, "b"); return m.Incarnation == 2 }},
		{"b dies", func() { b.Alive = false; c.SetMembers(now, []MemberInfo{b}) },
			func(v View) bool { m, _ := find(v, "b"); return !m.Alive }},
		{"b is no longer gossiped but alive before", func() {
			b.Alive = true
			c.SetMembers(now, []MemberInfo{b})
			c.SetMembers(now, nil)
		}, func(v View) bool { m, _ := find(v, "b"); return !m.Alive }},
		{"this member drains", func() { c.SetDraining(true) },
			func(v View) bool { m, _ := find(v, "a"); return m.Draining }},
		{"b is forgotten after the dead-member timeout, on a tick", func() {
			now = now.Add(2 * time.Minute)
			c.Tick(now)
		}, func(v View) bool { _, ok := find(v, "b"); return !ok }},
	} {
		step.apply()
		if v := c.View(now); !step.check(v) {
			t.Errorf("%s: view members %+v", step.what, v.Members)
		}
	}
}
