package core_test

import (
	"testing"
	"time"

	"github.com/ringd/ringd/daemon/core"
)

// aloneOptions are loneOptions for a member that may bootstrap a one-member
// cluster by itself.
func aloneOptions() core.Options {
	o := loneOptions()
	o.BootstrapAlone = true
	return o
}

// TestReadyContract checks what core.Ready promises its host: the first
// Ready carries the state to store; the state is offered until Advance says
// it is stored, while messages and events are handed out once; and the
// state handed out is the host's copy.
func TestReadyContract(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := core.New(aloneOptions(), core.Durable{})
	c.SetMembers(now, []core.MemberInfo{{Name: "a", Incarnation: 1, Identity: 1, Alive: true}})

	first := c.Ready()
	if first.Durable == nil || first.Durable.Identity != 1 {
		t.Fatalf("first Ready: Durable = %+v, want this member's identity to store", first.Durable)
	}

	// Run the lone member, never calling Advance, until it leads and has
	// stored a configuration: every Ready must keep offering the state.
	var last core.Ready
	for i := 0; i < 100 && !(c.IsLeader(now) && c.HasTable()); i++ {
		now = now.Add(10 * time.Millisecond)
		c.Tick(now)
		last = c.Ready()
		if last.Durable == nil {
			t.Fatalf("step %d: Ready stopped offering the state before any Advance", i)
		}
	}
	if !c.IsLeader(now) || len(last.Durable.Config.Voters) == 0 {
		t.Fatalf("lone member did not lead with a stored configuration: %+v", last.Durable)
	}

	// Messages and events are handed out once, even without Advance.
	again := c.Ready()
	if len(again.Messages) != 0 || len(again.Events) != 0 {
		t.Fatalf("a second Ready repeated %d messages and %d events", len(again.Messages), len(again.Events))
	}

	// The host's copy is its own: changing it does not change what the
	// core votes by or offers next.
	want := again.Durable.Config.Voters[0]
	again.Durable.Config.Voters[0] = "changed-by-host"
	if got := c.Ready().Durable.Config.Voters[0]; got != want {
		t.Fatalf("after the host changed its copy the core offers voter %q, want %q", got, want)
	}

	// Once stored, the same state is not offered again.
	r := c.Ready()
	c.Advance(r)
	if d := c.Ready().Durable; d != nil {
		t.Fatalf("after Advance Ready offers the unchanged state again: %+v", d)
	}
}
