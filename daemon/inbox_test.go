package daemon

import (
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

// TestVotersElectionMessagesJumpTheQueue: a leader whose loop is behind on
// hundreds of members' acknowledgements must still see its voters' acks in
// time to keep its lease, so their election messages go to a lane the loop
// empties first.
func TestVotersElectionMessagesJumpTheQueue(t *testing.T) {
	d := &Daemon{inbox: make(chan *core.Envelope, 16), urgent: make(chan *core.Envelope, 16),
		metrics: newMetrics(), log: hclog.NewNullLogger()}
	// As publish sets it from the newest table: voters are election
	// names, a change in flight counts its previous voters too.
	voters := voterSet(partitions.Table{Voters: []string{"v1@k3", "x@1"}, PrevVoters: []string{"v2@9z", "x@1"}})
	d.voterNames.Store(&voters)
	for _, name := range []string{"v1", "v2", "x"} {
		if !d.isVoter(name) {
			t.Fatalf("%s is not a voter; voter set %v", name, voters)
		}
	}
	g := &delegate{d: d}
	deliver := func(env core.Envelope) {
		t.Helper()
		b, err := encodeEnvelope(env, core.ProtocolVersion)
		if err != nil {
			t.Fatal(err)
		}
		g.NotifyMsg(b)
	}
	ack := func(from string) core.Envelope {
		return core.Envelope{From: from, Election: &election.Message{Type: election.MsgHeartbeatAck, From: from + "@1", Term: 7}}
	}
	deliver(ack("m1"))                                  // a member's ack
	deliver(core.Envelope{From: "v1", WantTable: true}) // a voter's message that is no election message
	deliver(ack("m2"))                                  // another member's ack
	deliver(ack("v2"))                                  // a voter's ack
	deliver(core.Envelope{From: "v1", Election: &election.Message{Type: election.MsgVoteResponse, From: "v1@1", Term: 7, Granted: true}})

	if len(d.urgent) != 2 || len(d.inbox) != 3 {
		t.Fatalf("urgent lane %d, inbox %d: want the 2 voter election messages urgent, the other 3 in the inbox", len(d.urgent), len(d.inbox))
	}
	var order []string
	for env := d.nextQueued(); env != nil; env = d.nextQueued() {
		order = append(order, env.From)
	}
	want := []string{"v2", "v1", "m1", "v1", "m2"}
	if len(order) != len(want) {
		t.Fatalf("took %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("took %v, want %v: the voters' election messages first, each lane in arrival order", order, want)
		}
	}

	// Nothing known about voters yet (no table): everything waits in order.
	d.voterNames.Store(nil)
	deliver(ack("v1"))
	if len(d.urgent) != 0 || len(d.inbox) != 1 {
		t.Fatalf("before any configuration: urgent %d, inbox %d; want everything in the inbox", len(d.urgent), len(d.inbox))
	}
}
