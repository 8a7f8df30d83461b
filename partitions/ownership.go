package partitions

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Sentinel errors of ownership.
var (
	// ErrBadTransition: a grant cannot change from one state to another.
	ErrBadTransition = errors.New("partition state change not allowed")
	// ErrNotHeld: the partition is not held by this member.
	ErrNotHeld = errors.New("partition not held by this member")
)

// Pending is a member-side state: the table grants the partition to this
// member but its lease is not valid, so its app may not work on it yet. It is
// reported to the leader like a held grant, so the leader will not give the
// partition away while the member may still take it.
const Pending State = "pending"

// released is the terminal member-side state: the grant is gone for good and
// its token is never taken again.
const released State = "released"

// allowedChanges lists the member-side state changes of one grant. Every
// other change is refused with ErrBadTransition.
var allowedChanges = map[State][]State{
	Unassigned: {Pending, Owned},
	Pending:    {Owned, released},
	Owned:      {Releasing, released},
	Releasing:  {released},
}

func checkChange(from, to State) error {
	for _, s := range allowedChanges[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("%w: %q -> %q", ErrBadTransition, from, to)
}

// Holding is one grant this member has, as reported to the leader.
type Holding struct {
	ID    int    `json:"id"`
	Token uint64 `json:"token"`
	State State  `json:"state"`
	// Until is, in what Visible returns, the instant until which the app
	// may work on the partition: the lease's end, or for a releasing one
	// its release deadline when that comes first (the leader grants it
	// again as soon as it hears of the release). Not sent to the leader.
	Until time.Time `json:"-"`
}

// Report is this member's holdings as sent to the leader. Seq grows with every
// change within one incarnation; Applied is the newest table the member had
// applied when it wrote the report.
type Report struct {
	Incarnation uint64    `json:"incarnation"`
	Seq         uint64    `json:"seq"`
	Applied     TableID   `json:"applied"`
	Items       []Holding `json:"items"`
}

// grant is the member-side state of one partition's grant.
type grant struct {
	token uint64
	state State
	// releasingIndex is the view index at which the app was told to let go;
	// an app acknowledgement at or past it completes the release.
	releasingIndex uint64
	releaseBy      time.Time
}

// Ownership is this member's view of what it holds: its grants from the table,
// their states, and its lease. The app may work on owned and releasing
// partitions only while the lease runs.
type Ownership struct {
	self           string
	incarnation    uint64
	releaseTimeout time.Duration

	table Table
	// tableCopy is a copy of table for readers outside (TableCopy), made
	// at most once per applied table; copied says it is made.
	tableCopy Table
	copied    bool
	// applied: a table was applied (even one without partitions).
	applied    bool
	leaseUntil time.Time
	grants     map[int]*grant
	// releasing counts the grants in state Releasing, so that a Tick
	// without any (nearly every one) need not look at every grant.
	releasing int
	// dropped is, per partition, the highest token this member let go of;
	// such a grant is never taken again, whatever a table says later.
	dropped map[int]uint64

	index       uint64
	holdingsSeq uint64

	// visible caches what Visible returns while the lease runs: the host
	// asks after every input (a few dozen times a second), and it changes
	// only with the grants (holdingsSeq) or the lease's end. visibleSeq is
	// 0 while nothing is cached (holdingsSeq starts at 1).
	visible      []Holding
	visibleSeq   uint64
	visibleUntil time.Time
	// reported caches the items of Report, which change only with the
	// grants: the leader reads its own report on every tick. reportedSeq
	// is 0 while nothing is cached.
	reported    []Holding
	reportedSeq uint64
}

// NewOwnership returns an empty view for one incarnation of a member. Its
// view index starts at firstIndex (at least 1): the daemon starts each
// incarnation above every index an earlier one handed out, so that an app's
// index from before a restart never acknowledges a release it did not see.
func NewOwnership(self string, incarnation uint64, releaseTimeout time.Duration, firstIndex uint64) *Ownership {
	return &Ownership{
		self: self, incarnation: incarnation, releaseTimeout: releaseTimeout,
		grants: map[int]*grant{}, dropped: map[int]uint64{},
		index: max(firstIndex, 1), holdingsSeq: 1,
	}
}

// Index is the view index: it grows whenever what the app sees may change.
func (o *Ownership) Index() uint64 { return o.index }

// Table returns the newest applied table.
func (o *Ownership) Table() Table { return o.table }

// TableCopy returns a copy of the newest applied table that shares nothing
// with the Ownership, for readers on other goroutines. The copy is made
// once per applied table and handed to every caller until the next one:
// callers must not modify it. (A table of P partitions is P entries to
// copy, and the host reads its view after every input.)
func (o *Ownership) TableCopy() Table {
	if !o.copied {
		o.tableCopy, o.copied = o.table.Clone(), true
	}
	return o.tableCopy
}

// LeaseUntil returns when the lease ends.
func (o *Ownership) LeaseUntil() time.Time { return o.leaseUntil }

// LeaseValid reports whether the lease runs at now.
func (o *Ownership) LeaseValid(now time.Time) bool { return now.Before(o.leaseUntil) }

// Bump grows the index without a change of grants (a new leader or term), so
// that watchers see it.
func (o *Ownership) Bump() { o.index++ }

func (o *Ownership) changed() {
	o.index++
	o.holdingsSeq++
}

// Apply takes a newer table. Older or equal tables are ignored (false).
func (o *Ownership) Apply(now time.Time, t Table) bool {
	if o.applied && !o.table.ID.Less(t.ID) {
		return false
	}
	o.applied = true
	o.table = t
	o.copied = false
	o.reconcile(now)
	return true
}

func (o *Ownership) mine(e Entry) bool {
	return e.Owner == o.self && e.Incarnation == o.incarnation
}

// reconcile brings the grants in line with the table and the lease.
func (o *Ownership) reconcile(now time.Time) {
	changed := false
	valid := o.LeaseValid(now)
	for id, g := range o.grants {
		var e Entry
		if id < len(o.table.Partitions) {
			e = o.table.Partitions[id]
		}
		switch {
		case !o.mine(e) || e.Token != g.token:
			// The leader gave it away only after we reported a release or
			// our lease surely ran out; a table from a newer leader may
			// also not know the grant. Either way: let go.
			o.drop(id)
			changed = true
		case e.State == Releasing && g.state == Owned:
			g.state = Releasing
			o.releasing++
			g.releasingIndex = o.index + 1
			// Never before the lease's end as it stands: the app may have
			// been shown that deadline for this partition while it was
			// owned, and may not have polled since (an app that trusts the
			// deadline it was shown must never overlap the next owner).
			g.releaseBy = now.Add(o.releaseTimeout)
			if g.releaseBy.Before(o.leaseUntil) {
				g.releaseBy = o.leaseUntil
			}
			changed = true
		case e.State == Releasing && g.state == Pending:
			// Never started: nothing for the app to finish.
			o.drop(id)
			changed = true
		case g.state == Pending && valid:
			g.state = Owned
			changed = true
		}
	}
	for id, e := range o.table.Partitions {
		if !o.mine(e) || e.State != Owned || o.grants[id] != nil || e.Token <= o.dropped[id] {
			continue
		}
		st := Pending
		if valid {
			st = Owned
		}
		o.grants[id] = &grant{token: e.Token, state: st}
		changed = true
	}
	if changed {
		o.changed()
	}
}

func (o *Ownership) drop(id int) {
	g := o.grants[id]
	if g == nil {
		return
	}
	if g.token > o.dropped[id] {
		o.dropped[id] = g.token
	}
	if g.state == Releasing {
		o.releasing--
	}
	delete(o.grants, id)
}

// Renew extends the lease to until (never shortens it). Pending grants become
// owned when the lease turns valid.
func (o *Ownership) Renew(now, until time.Time) {
	if !until.After(o.leaseUntil) {
		return
	}
	// A lease that ran out is final for the grants it covered, whether or
	// not a Tick noticed it before this renewal: let them go first.
	if o.expire(now) {
		o.changed()
	}
	wasValid := o.LeaseValid(now)
	o.leaseUntil = until
	if !wasValid && o.LeaseValid(now) {
		o.index++
		o.reconcile(now)
	}
}

// Tick ends the lease and overdue releases. It reports whether the grants
// changed (the leader must hear about it).
func (o *Ownership) Tick(now time.Time) bool {
	changed := o.expire(now)
	for id, g := range o.grants {
		if o.releasing == 0 {
			break // nothing (left) to let go of
		}
		if g.state == Releasing && !now.Before(g.releaseBy) {
			o.drop(id)
			changed = true
		}
	}
	if changed {
		o.changed()
	}
	return changed
}

// expire lets go, for good, of every started grant when the lease ran out.
// Grants not yet started stay pending. It reports whether grants changed;
// the caller records the change.
func (o *Ownership) expire(now time.Time) bool {
	if o.LeaseValid(now) {
		return false
	}
	changed := false
	for id, g := range o.grants {
		if g.state != Pending {
			o.drop(id)
			changed = true
		}
	}
	return changed
}

// Ack records that the app saw the view up to index: releases it was told
// about at or before index are complete. It reports whether grants changed.
func (o *Ownership) Ack(index uint64) bool {
	changed := false
	for id, g := range o.grants {
		if g.state == Releasing && g.releasingIndex <= index {
			o.drop(id)
			changed = true
		}
	}
	if changed {
		o.changed()
	}
	return changed
}

// Release completes the release of one partition explicitly (the app's
// acknowledgement). With a token other than 0 it applies only to that grant:
// an acknowledgement for an earlier grant of the partition (say from an app
// that worked for a process of this member that has since restarted) must
// not release a newer one. A partition that is owned but not releasing
// cannot be given back this way: only the leader moves partitions.
func (o *Ownership) Release(id int, token uint64) error {
	g := o.grants[id]
	if g == nil {
		return fmt.Errorf("%w: %d", ErrNotHeld, id)
	}
	if token != 0 && g.token != token {
		return fmt.Errorf("%w: %d with token %d (this member holds token %d)", ErrNotHeld, id, token, g.token)
	}
	if g.state != Releasing {
		return checkChange(g.state, Unassigned)
	}
	o.drop(id)
	o.changed()
	return nil
}

// DropPending lets go, for good, of the pending (never started) grants for
// which stale says so. It reports whether grants changed.
func (o *Ownership) DropPending(stale func(id int, token uint64) bool) bool {
	changed := false
	for id, g := range o.grants {
		if g.state == Pending && stale(id, g.token) {
			o.drop(id)
			changed = true
		}
	}
	if changed {
		o.changed()
	}
	return changed
}

// DropAll lets go of every grant at once (shutdown without drain).
func (o *Ownership) DropAll() {
	if len(o.grants) == 0 {
		return
	}
	for id := range o.grants {
		o.drop(id)
	}
	o.changed()
}

// Report returns the holdings for the leader. Its Items are shared with
// later reports until the grants change: callers must not modify them.
func (o *Ownership) Report() Report {
	if o.reportedSeq != o.holdingsSeq {
		items := make([]Holding, 0, len(o.grants))
		for id, g := range o.grants {
			items = append(items, Holding{ID: id, Token: g.token, State: g.state})
		}
		slices.SortFunc(items, byID)
		o.reported, o.reportedSeq = items, o.holdingsSeq
	}
	return Report{Incarnation: o.incarnation, Seq: o.holdingsSeq, Applied: o.table.ID, Items: o.reported}
}

func byID(a, b Holding) int { return cmp.Compare(a.ID, b.ID) }

// HoldingsSeq identifies the current holdings within this incarnation.
func (o *Ownership) HoldingsSeq() uint64 { return o.holdingsSeq }

// Visible returns what the app may work on at now: owned and releasing grants,
// nothing when the lease does not run. The slice is shared with later calls
// until the grants or the lease change: callers must not modify it.
func (o *Ownership) Visible(now time.Time) []Holding {
	if !o.LeaseValid(now) {
		return []Holding{}
	}
	if o.visibleSeq == o.holdingsSeq {
		if !o.visibleUntil.Equal(o.leaseUntil) {
			// A renewal (several a second): the same grants with new
			// deadlines, in a new slice (the old one may be in use).
			o.visible, o.visibleUntil = o.withDeadlines(slices.Clone(o.visible)), o.leaseUntil
		}
		return o.visible
	}
	out := make([]Holding, 0, len(o.grants))
	for id, g := range o.grants {
		if g.state == Owned || g.state == Releasing {
			out = append(out, Holding{ID: id, Token: g.token, State: g.state})
		}
	}
	slices.SortFunc(out, byID)
	o.visible, o.visibleSeq, o.visibleUntil = o.withDeadlines(out), o.holdingsSeq, o.leaseUntil
	return o.visible
}

// withDeadlines sets each holding's Until: the lease's end, or for a
// releasing one its release deadline when that comes first.
func (o *Ownership) withDeadlines(hs []Holding) []Holding {
	for i := range hs {
		hs[i].Until = o.leaseUntil
		if g := o.grants[hs[i].ID]; hs[i].State == Releasing && g != nil && g.releaseBy.Before(o.leaseUntil) {
			hs[i].Until = g.releaseBy
		}
	}
	return hs
}
