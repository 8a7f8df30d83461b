package core

import (
	"sort"
	"time"

	"github.com/ringd/ringd/partitions"
)

// holderKey names one process: a member name and its incarnation.
type holderKey struct {
	name string
	inc  uint64
}

// holderView is what the leader knows a process may hold.
type holderView struct {
	// known: the process reported its holdings in this term.
	known   bool
	seq     uint64
	applied partitions.TableID
	items   map[int]partitions.Holding
	// lastRenew is when this leader last accepted a renewal from it.
	lastRenew time.Time
	// boundUntil, when set, replaces the safe-wait floor for this process:
	// the previous leader's own holdings end by then (bound).
	boundUntil time.Time
	// renewed is the ack sequence of that renewal, echoed in heartbeats.
	renewed uint64
}

// holderTracker is one leader term's knowledge of what every process may
// still hold, from holdings reports, heartbeat acks and the renewals it
// granted. It answers the leader's safety questions: may a process still
// work on a partition (mayHold), did it let one go (releasedBy).
type holderTracker struct {
	views map[holderKey]*holderView
	// safeUntil is the end of the term's safe wait: by then every renewal
	// an older leader granted has run out (Options.safeWait).
	safeUntil time.Time
	// leaseSafe is how long after a renewal the lease surely ended
	// (Options.leaseSafe).
	leaseSafe time.Duration
	// proofs counts the changes that may prove a release (a view's items,
	// applied table or known flag): releasedBy can turn true only after
	// one, so the leader looks for releases only then (freeReleased).
	proofs uint64
}

func newHolderTracker(safeUntil time.Time, leaseSafe time.Duration) holderTracker {
	return holderTracker{views: map[holderKey]*holderView{}, safeUntil: safeUntil, leaseSafe: leaseSafe}
}

// view returns the view of process k, creating an empty one.
func (ht *holderTracker) view(k holderKey) *holderView {
	h := ht.views[k]
	if h == nil {
		h = &holderView{}
		ht.views[k] = h
	}
	return h
}

// report records a holdings report of member name; older ones (by sequence)
// are ignored.
func (ht *holderTracker) report(name string, r partitions.Report) {
	h := ht.view(holderKey{name, r.Incarnation})
	if h.known && r.Seq <= h.seq {
		// Same holdings, written after applying a newer table: that proves
		// releases too. Without it a member (or the leader itself) whose
		// holdings do not change when it applies a new leader's table never
		// proves it let go of the entries it dropped before, and those
		// partitions stay assigned to it forever.
		if r.Seq == h.seq && h.applied.Less(r.Applied) {
			h.applied = r.Applied
			ht.proofs++
		}
		return
	}
	ht.proofs++
	h.known = true
	h.seq = r.Seq
	h.applied = r.Applied
	h.items = make(map[int]partitions.Holding, len(r.Items))
	for _, it := range r.Items {
		h.items[it.ID] = it
	}
}

// appliedTable records an ack of process k: its holdings sequence and the
// table it applied. With holdings the leader knows unchanged, that is the
// known report written again after applying the newer table (see report).
func (ht *holderTracker) appliedTable(k holderKey, holdingsSeq uint64, table partitions.TableID) {
	if h := ht.views[k]; h != nil && h.known && holdingsSeq == h.seq && h.applied.Less(table) {
		h.applied = table
		ht.proofs++
	}
}

// renew records that the leader renewed process k's lease at now, answering
// its renewal request ackSeq (0 for the leader's own lease). Renewing a
// process whose holdings are not known yet is safe: until it reports,
// mayHold treats it as holding anything, so it blocks every grant instead
// of losing its lease during a failover.
func (ht *holderTracker) renew(k holderKey, now time.Time, ackSeq uint64) {
	h := ht.view(k)
	h.lastRenew = now
	h.renewed = ackSeq
}

// heartbeatFields are what a heartbeat to process k carries about it: the
// renewal request granted, and the holdings sequence known (known false
// while the process has not reported).
func (ht *holderTracker) heartbeatFields(k holderKey) (renewed, holdingsSeq uint64, known bool) {
	h := ht.views[k]
	if h == nil {
		return 0, 0, false
	}
	return h.renewed, h.seq, h.known
}

// bound records that process k (the previous leader, which has not
// reported) holds nothing after until.
func (ht *holderTracker) bound(k holderKey, until time.Time) {
	ht.view(k).boundUntil = until
}

// heldUntil is when the process surely holds nothing any more.
func (ht *holderTracker) heldUntil(h *holderView) time.Time {
	floor := ht.safeUntil
	if !h.boundUntil.IsZero() {
		floor = h.boundUntil
	}
	if until := h.lastRenew.Add(ht.leaseSafe); !h.lastRenew.IsZero() && until.After(floor) {
		return until
	}
	return floor
}

// mayHold reports whether process k may still work on partition p.
func (ht *holderTracker) mayHold(now time.Time, k holderKey, p int) bool {
	h := ht.views[k]
	if h == nil {
		// Never heard from in this term: only an older leader could have
		// renewed it, and that ran out by the safe-wait floor.
		return now.Before(ht.safeUntil)
	}
	if !now.Before(ht.heldUntil(h)) {
		return false
	}
	if !h.known {
		return true
	}
	_, ok := h.items[p]
	return ok
}

// othersMayHold reports whether any process but grantee may still work on
// partition p.
func (ht *holderTracker) othersMayHold(now time.Time, p int, grantee holderKey) bool {
	for k := range ht.views {
		if k != grantee && ht.mayHold(now, k, p) {
			return true
		}
	}
	return false
}

// mayHoldAnything reports whether process k's lease may still run. What
// gossip says does not matter: a process this leader never renewed holds
// nothing after the safe wait, whether it crashed a moment ago (and gossip
// has not noticed yet) or is cut off, and a grant it lost with its lease is
// never taken up again.
func (ht *holderTracker) mayHoldAnything(now time.Time, k holderKey) bool {
	h := ht.views[k]
	if h == nil {
		return now.Before(ht.safeUntil)
	}
	return now.Before(ht.heldUntil(h))
}

// releasedBy reports whether process k proved it let go of partition p,
// granted to it with token and listed from table listedIn on: a report
// written after it applied that table, without p (or with another token).
// A report that predates the grant proves nothing.
func (ht *holderTracker) releasedBy(k holderKey, p int, token uint64, listedIn partitions.TableID) bool {
	return ht.views[k].released(p, token, listedIn)
}

// released is releasedBy for the process h is the view of (nil: never
// reported).
func (h *holderView) released(p int, token uint64, listedIn partitions.TableID) bool {
	if h == nil || !h.known {
		return false
	}
	if h.applied.Less(listedIn) {
		return false
	}
	it, ok := h.items[p]
	return !ok || it.Token != token
}

// keys lists the tracked processes by name, then incarnation.
func (ht *holderTracker) keys() []holderKey {
	keys := make([]holderKey, 0, len(ht.views))
	for k := range ht.views {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].name < keys[j].name || keys[i].name == keys[j].name && keys[i].inc < keys[j].inc
	})
	return keys
}
