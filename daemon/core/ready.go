package core

import (
	"slices"
	"time"

	"github.com/ringd/ringd/election"
)

// Ready is everything the host must do after it fed the core an input
// (New, SetMembers, Step, Tick, AppAck, Release, Transfer, SetDraining,
// SetLeaving, SetTermFloor). It is the host's whole contract with the core:
//
//  1. Persist. When Durable is not nil, write it to stable storage (fsync)
//     before anything in Messages leaves the process: a vote, an
//     acknowledgement or a configuration the member would not remember
//     after a restart could elect two leaders. If the write fails, drop
//     Messages (the protocol retries; losing messages is always safe), go
//     on with steps 3 to 5, and do not call Advance: the next Ready offers
//     the state again. A host without stable storage skips this step and
//     still calls Advance.
//  2. Send Messages, in order. Reliable ones over the stream channel, the
//     rest best-effort. Losing, delaying or reordering any of them is safe.
//  3. Record Events (metrics, logs). They are informational.
//  4. Announce HasTable in gossip once it is true (MemberInfo.HasTable), so
//     that members without a table never form a cluster beside this one.
//  5. Publish: read View and show it to the app. The view may change with
//     every input and with time alone (the lease runs out).
//  6. Call Advance(r) with this Ready once its Durable is stored.
//
// Ready may be called when nothing happened; it then returns a Ready with
// nothing to do. Calling it again before Advance does not repeat Messages or
// Events: they are handed out once.
type Ready struct {
	// Durable is the state to persist before sending; nil when it did not
	// change since the last Advance.
	Durable *Durable
	// Messages are the peer messages to send, after Durable is stored.
	Messages []Outgoing
	// Events are what the core did since the last Ready.
	Events []Event
	// HasTable: this member belongs to a cluster (see Core.HasTable).
	HasTable bool
}

// Empty reports whether r asks nothing of the host but to publish.
func (r Ready) Empty() bool {
	return r.Durable == nil && len(r.Messages) == 0 && len(r.Events) == 0
}

// Ready returns what the host must do now (see Ready) and hands out the
// pending messages and events.
func (c *Core) Ready() Ready {
	r := Ready{Messages: c.out, Events: c.events, HasTable: c.HasTable()}
	c.out, c.events = nil, nil
	if d := c.durable(); !d.equal(c.stored) || !c.storedOnce {
		// A copy: the host may keep or change it without touching the
		// configuration the core votes by.
		d = d.clone()
		r.Durable = &d
	}
	return r
}

// Advance tells the core that the host did what r asked: r.Durable, when
// set, is on stable storage.
func (c *Core) Advance(r Ready) {
	if r.Durable != nil {
		c.stored, c.storedOnce = r.Durable.clone(), true
	}
}

// durable is the state to keep across restarts now.
func (c *Core) durable() Durable {
	hs, _ := c.el.HardState()
	b := c.acked.bounds
	return Durable{Version: DurableVersion, Identity: c.opt.Identity, Election: hs, Config: c.saved, Bounds: &b}
}

func (d Durable) equal(o Durable) bool {
	return d.Version == o.Version && d.Identity == o.Identity && d.Election == o.Election &&
		d.Config.Table == o.Config.Table && slices.Equal(d.Config.Voters, o.Config.Voters) &&
		slices.Equal(d.Config.PrevVoters, o.Config.PrevVoters) &&
		(d.Bounds == nil) == (o.Bounds == nil) && (d.Bounds == nil || *d.Bounds == *o.Bounds)
}

func (d Durable) clone() Durable {
	d.Config.Voters = slices.Clone(d.Config.Voters)
	d.Config.PrevVoters = slices.Clone(d.Config.PrevVoters)
	if d.Bounds != nil {
		b := *d.Bounds
		d.Bounds = &b
	}
	return d
}

// SetTermFloor sets the lowest term a campaign may use. The daemon passes
// the wall clock in milliseconds, so that terms, and the fencing tokens made
// from them, keep growing across a restart of the whole cluster.
func (c *Core) SetTermFloor(floor uint64) { c.el.SetTermFloor(floor) }

// Status is the election's state (role, term, leader).
func (c *Core) Status() election.Status { return c.el.Status() }

// IsLeader reports whether this member leads with a valid leader lease at
// now.
func (c *Core) IsLeader(now time.Time) bool { return c.el.IsLeader(now) }
