package simcluster

import (
	"time"

	"github.com/ringd/ringd/daemon/core"
)

// Timing is the protocol timing of a test cluster: the one place the
// simulated clusters here and the in-memory daemon tests (daemon's
// fastConfig) take their timeouts from, so that a bound derived in one
// suite holds in the other.
type Timing struct {
	// Tick is how often the simulation ticks every member (virtual time).
	Tick time.Duration
	// Options carries the protocol timeouts (HeartbeatInterval,
	// LeaderTimeout, ElectionTimeout, LeaderLease, Lease, Drift,
	// SafetyMargin, Settle, ReleaseTimeout) under the names the core and
	// the daemon's Config give them; its other fields are unset.
	core.Options
}

// Fast is the timing of every cluster test: about ten times faster than the
// daemon's defaults, so that a failover takes a few seconds.
//
// The lease stays well above the failover bound (800 ms) because the
// in-memory daemon tests run it on real clocks: a loaded CI machine may delay
// a renewal by hundreds of milliseconds. The simulation uses the same lease,
// so the bounds it asserts hold for the daemon tests too.
func Fast() Timing {
	return Timing{Tick: 10 * time.Millisecond, Options: core.Options{
		HeartbeatInterval: 50 * time.Millisecond,
		LeaderTimeout:     400 * time.Millisecond,
		ElectionTimeout:   150 * time.Millisecond,
		LeaderLease:       400 * time.Millisecond,
		Lease:             2 * time.Second,
		Drift:             0.05,
		SafetyMargin:      100 * time.Millisecond,
		Settle:            300 * time.Millisecond,
		ReleaseTimeout:    500 * time.Millisecond,
	}}
}

// FastElection is the timing of the bare-election tests (package election):
// faster still, since no lease has to be handed over. LeaderLease stays below
// LeaderTimeout: a follower that acked a heartbeat refuses other candidates
// for longer than the leader trusts that ack. Fields the election does not
// use are zero.
func FastElection() Timing {
	return Timing{Tick: 10 * time.Millisecond, Options: core.Options{
		HeartbeatInterval: 50 * time.Millisecond,
		LeaderTimeout:     300 * time.Millisecond,
		ElectionTimeout:   100 * time.Millisecond,
		LeaderLease:       250 * time.Millisecond,
		Settle:            500 * time.Millisecond,
	}}
}

// ScaleDrift is d as a clock running Drift fast measures it.
func (t Timing) ScaleDrift(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + t.Drift))
}

// LeaseSafe is how long after a member's last renewal its lease surely
// ended: Lease×(1+Drift) + SafetyMargin.
func (t Timing) LeaseSafe() time.Duration { return t.ScaleDrift(t.Lease) + t.SafetyMargin }

// SafeWait is how long a new leader grants nothing it cannot vouch for:
// LeaderLease×(1+Drift) + Lease×(1+Drift) + SafetyMargin
// (docs/architecture.md).
func (t Timing) SafeWait() time.Duration {
	return t.ScaleDrift(t.LeaderLease) + t.LeaseSafe()
}
