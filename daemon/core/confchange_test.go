package core

import (
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/partitions"
)

// confFixture is a leader's view for confChange: m0 leads in term 9 with
// voters m0..m2; members m0..m3 are alive (for an hour), answer heartbeats
// and applied the leader's table 9.3. Cases change what they test.
type confFixture struct {
	now     time.Time
	opt     Options
	leaving bool
	table   partitions.Table
	joint   uint64
	gossip  memberTable
	acks    ackTracker
}

const confTerm = 9

func el(name string) string { return ElectionName(name, 1) }

func newConfFixture() *confFixture {
	elected := time.Unix(10_000, 0)
	f := &confFixture{
		now: elected.Add(20 * time.Second),
		opt: Options{Self: "m0", Identity: 1, Voters: 3, HeartbeatInterval: 100 * time.Millisecond,
			LeaderLease: time.Second, Lease: 2 * time.Second, Settle: time.Second,
			DeadVoterTimeout: 10 * time.Second, DeadMemberTimeout: time.Minute},
		table: partitions.Table{ID: partitions.TableID{Term: confTerm, Version: 3},
			Members: []string{"m0", "m1", "m2", "m3"}, Voters: []string{el("m0"), el("m1"), el("m2")}},
		gossip: memberTable{},
	}
	f.acks = newAckTracker(elected, confTerm, "m0", f.gossip)
	for _, name := range []string{"m0", "m1", "m2", "m3"} {
		f.addMember(name)
		if name != "m0" {
			f.answer(name, f.now.Add(-50*time.Millisecond), 3)
		}
	}
	return f
}

// addMember adds a member alive for an hour, under identity 1.
func (f *confFixture) addMember(name string) *memberState {
	m := &memberState{MemberInfo: MemberInfo{Name: name, Incarnation: 1, Identity: 1, Alive: true},
		aliveSince: f.now.Add(-time.Hour)}
	f.gossip[name] = m
	return m
}

// answer records an ack of member name (identity 1) at at, having applied
// version of this term's table.
func (f *confFixture) answer(name string, at time.Time, version uint64) {
	f.acks.ack(at, name, el(name), partitions.TableID{Term: confTerm, Version: version})
}

// die marks member name dead for d.
func (f *confFixture) die(name string, d time.Duration) {
	m := f.gossip[name]
	m.Alive, m.deadSince = false, f.now.Add(-d)
}

func (f *confFixture) change() *confChange {
	return &confChange{now: f.now, opt: f.opt, leaving: f.leaving, table: f.table, jointVersion: f.joint,
		gossip: f.gossip, acks: &f.acks}
}

func TestVoterChanges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *confFixture)
		step  voterStep
		// voters is the new set, for startChange.
		voters []string
	}{
		{name: "steady", step: keepVoters},
		{name: "leaving voter replaced at once", setup: func(f *confFixture) { f.gossip["m2"].Leaving = true },
			step: startChange, voters: []string{el("m0"), el("m1"), el("m3")}},
		{name: "leaving leader removed without a replacement", setup: func(f *confFixture) {
			f.leaving = true
			f.table.Members = []string{"m0", "m1", "m2"}
		}, step: startChange, voters: []string{el("m1"), el("m2")}},
		{name: "dead voter kept within its timeout", setup: func(f *confFixture) { f.die("m2", 5*time.Second) },
			step: keepVoters},
		{name: "dead voter replaced after its timeout", setup: func(f *confFixture) { f.die("m2", 15*time.Second) },
			step: startChange, voters: []string{el("m0"), el("m1"), el("m3")}},
		{name: "dead voter kept to stay at three voters", setup: func(f *confFixture) {
			f.die("m2", 15*time.Second)
			f.die("m3", time.Second)
		}, step: keepVoters},
		{name: "voter back under a new identity replaced at once", setup: func(f *confFixture) {
			f.gossip["m2"].Identity = 2
		}, step: startChange, voters: []string{el("m0"), el("m1"), el("m3")}},
		{name: "voter silent to the leader counts as dead", setup: func(f *confFixture) {
			f.acks.lastAck["m2"] = f.now.Add(-11 * time.Second)
			f.acks.voterAck[el("m2")] = f.now.Add(-11 * time.Second)
		}, step: startChange, voters: []string{el("m0"), el("m1"), el("m3")}},
		{name: "candidate that has not caught up stays out", setup: func(f *confFixture) {
			f.gossip["m2"].Leaving = true
			f.acks.applied[el("m3")] = partitions.TableID{Term: confTerm - 1, Version: 7}
		}, step: startChange, voters: []string{el("m0"), el("m1")}},
		{name: "draining candidate stays out", setup: func(f *confFixture) {
			f.gossip["m2"].Leaving = true
			f.gossip["m3"].Draining = true
		}, step: startChange, voters: []string{el("m0"), el("m1")}},
		{name: "candidate in its hold-down stays out", setup: func(f *confFixture) {
			f.gossip["m2"].Leaving = true
			f.gossip["m3"].aliveSince = f.now.Add(-f.opt.Settle / 2)
		}, step: startChange, voters: []string{el("m0"), el("m1")}},
		{name: "candidates join keeping the count odd", setup: func(f *confFixture) {
			f.opt.Voters = 5
			f.table.Voters = []string{el("m0")}
		}, step: startChange, voters: []string{el("m0"), el("m1"), el("m2")}},
		{name: "candidates join best-ranked first", setup: func(f *confFixture) {
			f.opt.Voters = 5
			f.table.Voters = []string{el("m0")}
			f.gossip["m3"].Priority = 1
		}, step: startChange, voters: []string{el("m0"), el("m1"), el("m3")}},
		{name: "no change while a live voter has not answered lately", setup: func(f *confFixture) {
			f.gossip["m1"].Leaving = true
			f.acks.voterAck[el("m2")] = f.now.Add(-time.Second)
		}, step: keepVoters},
		{name: "excess voters demoted lowest-ranked first", setup: func(f *confFixture) {
			f.addMember("m4")
			f.answer("m4", f.now.Add(-50*time.Millisecond), 3)
			f.table.Members = append(f.table.Members, "m4")
			f.table.Voters = []string{el("m0"), el("m1"), el("m2"), el("m3"), el("m4")}
		}, step: startChange, voters: []string{el("m0"), el("m1"), el("m2")}},
		{name: "dead voters dropped until the set has a live majority", setup: func(f *confFixture) {
			// m1 and m2 died a moment ago, m3 leaves: of {m0, m1, m2}
			// only the leader answers, and there is no candidate.
			f.die("m1", 2*time.Second)
			f.die("m2", time.Second)
			f.gossip["m3"].Leaving = true
		}, step: startChange, voters: []string{el("m0")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newConfFixture()
			if tc.setup != nil {
				tc.setup(f)
			}
			d := f.change().voters()
			if d.step != tc.step || !slices.Equal(d.voters, tc.voters) {
				t.Errorf("decision %v %v, want %v %v", d.step, d.voters, tc.step, tc.voters)
			}
		})
	}
}

func TestVoterChangeInFlight(t *testing.T) {
	// A change from {m0, m1, m2} to {m0, m1, m3} started at version 4.
	inFlight := func(f *confFixture) {
		f.table.Voters = []string{el("m0"), el("m1"), el("m3")}
		f.table.PrevVoters = []string{el("m0"), el("m1"), el("m2")}
		f.joint = 4
	}
	for _, tc := range []struct {
		name  string
		setup func(f *confFixture)
		step  voterStep
	}{
		{name: "waits for acks of the change", step: keepVoters},
		{name: "finishes on majorities of both", setup: func(f *confFixture) {
			f.answer("m1", f.now, 4)
			f.answer("m3", f.now, 4)
		}, step: finishChange},
		{name: "waits for a majority of the new voters", setup: func(f *confFixture) {
			f.answer("m2", f.now, 4) // with the leader, a majority of the old ones
		}, step: keepVoters},
		{name: "an older term's tables prove nothing", setup: func(f *confFixture) {
			for _, name := range []string{"m1", "m2", "m3"} {
				f.acks.ack(f.now, name, el(name), partitions.TableID{Term: confTerm - 1, Version: 9})
			}
		}, step: keepVoters},
		{name: "a change this leader did not start is not finished by it", setup: func(f *confFixture) {
			f.joint = 0
			f.answer("m1", f.now, 4)
			f.answer("m3", f.now, 4)
		}, step: keepVoters},
		{name: "a leader outside the new voters hands over instead of finishing", setup: func(f *confFixture) {
			f.table.Voters = []string{el("m1"), el("m2"), el("m3")}
			f.answer("m1", f.now, 4)
			f.answer("m2", f.now, 4)
			f.answer("m3", f.now, 4)
		}, step: keepVoters},
		{name: "a leader outside the new voters finishes when nobody could take over", setup: func(f *confFixture) {
			f.table.Voters = []string{el("m1"), el("m2"), el("m3")}
			for _, name := range []string{"m1", "m2", "m3"} {
				f.answer(name, f.now, 4)
				f.gossip[name].Draining = true
			}
		}, step: finishChange},
		{name: "a leader outside the new voters goes back when its successor died", setup: func(f *confFixture) {
			// {m0} -> {m1}: m1 acknowledged the joint table, then crashed.
			f.table.Voters = []string{el("m1")}
			f.table.PrevVoters = []string{el("m0")}
			f.answer("m1", f.now.Add(-f.opt.LeaderLease), 4)
			f.die("m1", f.opt.LeaderLease/2)
		}, step: revertChange},
		{name: "goes back when the new voters lost their majority", setup: func(f *confFixture) {
			f.acks.voterAck[el("m1")] = f.now.Add(-f.opt.LeaderLease)
			f.acks.voterAck[el("m3")] = f.now.Add(-f.opt.LeaderLease)
			f.table.Voters = []string{el("m0"), el("m1"), el("m3")}
			f.table.PrevVoters = []string{el("m0"), el("m2"), el("m1")}
		}, step: revertChange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newConfFixture()
			inFlight(f)
			if tc.setup != nil {
				tc.setup(f)
			}
			if d := f.change().voters(); d.step != tc.step {
				t.Errorf("decision %v %v, want %v", d.step, d.voters, tc.step)
			}
		})
	}
}

func TestMemberListChanges(t *testing.T) {
	f := newConfFixture()
	f.table.Members = []string{"m0", "m1", "m2", "m3", "old"}
	young := f.addMember("young")
	young.aliveSince = f.now.Add(-f.opt.Settle / 2)
	f.addMember("settled").aliveSince = f.now.Add(-2 * f.opt.Settle)
	f.addMember("old")
	f.die("old", 2*f.opt.DeadMemberTimeout)
	f.die("m3", time.Second)
	f.table.Voters = []string{el("m0"), el("m1"), el("gone")}
	got := f.change().members()
	// m2 is no voter now but stays a member; gone is a voter gossip does
	// not know; old is dead too long; young is in its hold-down.
	want := []string{"gone", "m0", "m1", "m2", "m3", "settled"}
	if !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
}
