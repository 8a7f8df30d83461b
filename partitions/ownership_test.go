package partitions

import (
	"errors"
	"testing"
	"time"
)

func TestApplyTakesOnlyNewerTables(t *testing.T) {
	cases := []struct {
		name string
		id   TableID
		want bool
	}{
		{"equal", TableID{3, 5}, false},
		{"older version", TableID{3, 4}, false},
		{"older term, higher version", TableID{2, 9}, false},
		{"zero", TableID{0, 0}, false},
		{"newer version", TableID{3, 6}, true},
		{"newer term, lower version", TableID{4, 0}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := leased()
			mustApply(t, o, at(1*time.Second), tbl(3, 5, own(10), free()))
			idx, seq := o.Index(), o.HoldingsSeq()

			// The candidate moves the grant from partition 0 to 1.
			got := o.Apply(at(2*time.Second), tbl(c.id.Term, c.id.Version, free(), own(20)))
			if got != c.want {
				t.Fatalf("Apply(%v) over 3.5 = %v, want %v", c.id, got, c.want)
			}
			if c.want {
				if o.Table().ID != c.id {
					t.Fatalf("Table().ID = %v, want %v", o.Table().ID, c.id)
				}
				wantItems(t, o, h(1, 20, Owned))
				return
			}
			if o.Table().ID != (TableID{3, 5}) {
				t.Fatalf("an ignored table replaced the table: Table().ID = %v", o.Table().ID)
			}
			wantItems(t, o, h(0, 10, Owned))
			if o.Index() != idx || o.HoldingsSeq() != seq {
				t.Fatalf("an ignored table moved index %d->%d, seq %d->%d", idx, o.Index(), seq, o.HoldingsSeq())
			}
		})
	}
}

func TestApplyFirstTable(t *testing.T) {
	o := newOwn()
	if got := o.Table().ID; got != (TableID{}) {
		t.Fatalf("a new view has table %v", got)
	}
	mustApply(t, o, t0, tbl(1, 1, own(3)))
	if got := o.Table().ID; got != (TableID{1, 1}) {
		t.Fatalf("Table().ID = %v, want 1.1", got)
	}
	if got := o.Report().Applied; got != (TableID{1, 1}) {
		t.Fatalf("Report().Applied = %v, want 1.1", got)
	}
}

func TestApplyTakesGrantsForThisIncarnation(t *testing.T) {
	cases := []struct {
		name string
		// leaseUntil is the lease before the table comes at 2s; zero: none.
		leaseUntil time.Time
		entry      Entry
		want       []Holding
		visible    []Holding
	}{
		{"owned, lease valid", at(lease), own(5), []Holding{h(0, 5, Owned)}, []Holding{h(0, 5, Owned)}},
		{"owned, no lease yet", time.Time{}, own(5), []Holding{h(0, 5, Pending)}, nil},
		{"owned, lease ran out", at(1 * time.Second), own(5), []Holding{h(0, 5, Pending)}, nil},
		{"owned, lease ends at this instant", at(2 * time.Second), own(5), []Holding{h(0, 5, Pending)}, nil},
		{"same name, other incarnation", at(lease), otherInc(5), nil, nil},
		{"other member", at(lease), theirs(5), nil, nil},
		{"releasing, never held", at(lease), rel(5), nil, nil},
		{"unassigned", at(lease), free(), nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOwn()
			if !c.leaseUntil.IsZero() {
				o.Renew(t0, c.leaseUntil)
			}
			now := at(2 * time.Second)
			mustApply(t, o, now, tbl(1, 1, c.entry))
			wantItems(t, o, c.want...)
			wantVisible(t, o, now, c.visible...)
		})
	}
}

func TestPendingBecomesOwnedOnRenew(t *testing.T) {
	cases := []struct {
		name  string
		until time.Time // renewal at 2s
		want  State
	}{
		{"lease ends before now", at(1 * time.Second), Pending},
		{"lease ends now", at(2 * time.Second), Pending},
		{"lease runs", at(12 * time.Second), Owned},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOwn()
			mustApply(t, o, at(1*time.Second), tbl(1, 1, own(5), free(), own(6)))
			wantItems(t, o, h(0, 5, Pending), h(2, 6, Pending))
			idx, seq := o.Index(), o.HoldingsSeq()

			now := at(2 * time.Second)
			o.Renew(now, c.until)
			wantItems(t, o, h(0, 5, c.want), h(2, 6, c.want))
			if c.want != Owned {
				wantVisible(t, o, now)
				return
			}
			wantVisible(t, o, now, h(0, 5, Owned), h(2, 6, Owned))
			if o.Index() <= idx {
				t.Fatalf("the app's view changed but Index stayed %d", o.Index())
			}
			if o.HoldingsSeq() <= seq {
				t.Fatalf("holdings changed but HoldingsSeq stayed %d", o.HoldingsSeq())
			}
		})
	}
}

// releasingView returns a view holding partition 0 (token 5) releasing and
// partition 1 (token 6) owned, with the index from before the release.
func releasingView(t *testing.T) (o *Ownership, before uint64) {
	t.Helper()
	o = leased()
	mustApply(t, o, at(1*time.Second), tbl(1, 1, own(5), own(6), free()))
	before = o.Index()
	mustApply(t, o, at(2*time.Second), tbl(1, 2, rel(5), own(6), free()))
	wantItems(t, o, h(0, 5, Releasing), h(1, 6, Owned))
	wantVisible(t, o, at(2*time.Second), h(0, 5, Releasing), h(1, 6, Owned))
	return o, before
}

func TestReleasingIndex(t *testing.T) {
	o, before := releasingView(t)
	ri := o.grants[0].releasingIndex
	if ri <= before {
		t.Fatalf("releasingIndex = %d, want > %d (the index before the table)", ri, before)
	}
	if ri > o.Index() {
		t.Fatalf("releasingIndex = %d is past the current index %d: the app can never ack it", ri, o.Index())
	}
	// Re-marking the same grant releasing in a later table keeps it as it is.
	mustApply(t, o, at(3*time.Second), tbl(1, 3, rel(5), own(6), free()))
	if got := o.grants[0].releasingIndex; got != ri {
		t.Fatalf("a later table moved releasingIndex %d -> %d", ri, got)
	}
}

func TestAckCompletesReleases(t *testing.T) {
	cases := []struct {
		name string
		prep func(o *Ownership)
		// index computes the ack from releasingIndex and the index before.
		index func(o *Ownership, ri, before uint64) uint64
		drop  bool
	}{
		{"zero", nil, func(_ *Ownership, _, _ uint64) uint64 { return 0 }, false},
		{"index before the table", nil, func(_ *Ownership, _, b uint64) uint64 { return b }, false},
		{"one below", nil, func(_ *Ownership, ri, _ uint64) uint64 { return ri - 1 }, false},
		{"at", nil, func(_ *Ownership, ri, _ uint64) uint64 { return ri }, true},
		{"current index", nil, func(o *Ownership, _, _ uint64) uint64 { return o.Index() }, true},
		{"past the current index", nil, func(o *Ownership, _, _ uint64) uint64 { return o.Index() + 10 }, true},
		{"at, after later bumps", func(o *Ownership) { o.Bump(); o.Bump() },
			func(_ *Ownership, ri, _ uint64) uint64 { return ri }, true},
		{"below, after later bumps", func(o *Ownership) { o.Bump(); o.Bump() },
			func(_ *Ownership, ri, _ uint64) uint64 { return ri - 1 }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, before := releasingView(t)
			ri := o.grants[0].releasingIndex
			if c.prep != nil {
				c.prep(o)
			}
			idx, seq := o.Index(), o.HoldingsSeq()
			ack := c.index(o, ri, before)

			if got := o.Ack(ack); got != c.drop {
				t.Fatalf("Ack(%d) with releasingIndex %d = %v, want %v", ack, ri, got, c.drop)
			}
			if !c.drop {
				wantItems(t, o, h(0, 5, Releasing), h(1, 6, Owned))
				if o.Index() != idx || o.HoldingsSeq() != seq {
					t.Fatalf("an Ack that completed nothing moved index %d->%d, seq %d->%d",
						idx, o.Index(), seq, o.HoldingsSeq())
				}
				return
			}
			// The owned partition is never released by an ack.
			wantItems(t, o, h(1, 6, Owned))
			wantVisible(t, o, at(3*time.Second), h(1, 6, Owned))
			if o.Index() <= idx || o.HoldingsSeq() <= seq {
				t.Fatalf("a completed release left index %d->%d, seq %d->%d",
					idx, o.Index(), seq, o.HoldingsSeq())
			}
		})
	}
}

func TestRelease(t *testing.T) {
	pending := func(t *testing.T) *Ownership {
		o := newOwn()
		mustApply(t, o, at(1*time.Second), tbl(1, 1, own(5)))
		return o
	}
	releasing := func(t *testing.T) *Ownership { o, _ := releasingView(t); return o }
	cases := []struct {
		name    string
		setup   func(t *testing.T) *Ownership
		id      int
		wantErr error
		want    []Holding
	}{
		{"releasing", releasing, 0, nil, []Holding{h(1, 6, Owned)}},
		{"owned", releasing, 1, ErrBadTransition, []Holding{h(0, 5, Releasing), h(1, 6, Owned)}},
		{"unassigned", releasing, 2, ErrNotHeld, []Holding{h(0, 5, Releasing), h(1, 6, Owned)}},
		{"past the table", releasing, 99, ErrNotHeld, []Holding{h(0, 5, Releasing), h(1, 6, Owned)}},
		{"negative", releasing, -1, ErrNotHeld, []Holding{h(0, 5, Releasing), h(1, 6, Owned)}},
		{"pending", pending, 0, ErrBadTransition, []Holding{h(0, 5, Pending)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.setup(t)
			idx, seq := o.Index(), o.HoldingsSeq()
			err := o.Release(c.id, 0)
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("Release(%d) = %v, want nil", c.id, err)
				}
			} else {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("Release(%d) = %v, want %v", c.id, err, c.wantErr)
				}
				// The two refusals are distinct.
				for _, other := range []error{ErrBadTransition, ErrNotHeld} {
					if other != c.wantErr && errors.Is(err, other) {
						t.Fatalf("Release(%d) = %v is also %v", c.id, err, other)
					}
				}
			}
			wantItems(t, o, c.want...)
			if c.wantErr != nil && (o.Index() != idx || o.HoldingsSeq() != seq) {
				t.Fatalf("a refused Release moved index %d->%d, seq %d->%d", idx, o.Index(), seq, o.HoldingsSeq())
			}
			if c.wantErr == nil && (o.Index() <= idx || o.HoldingsSeq() <= seq) {
				t.Fatalf("a Release left index %d->%d, seq %d->%d", idx, o.Index(), seq, o.HoldingsSeq())
			}
		})
	}
}

func TestReleaseTwice(t *testing.T) {
	o, _ := releasingView(t)
	if err := o.Release(0, 0); err != nil {
		t.Fatalf("first Release(0) = %v", err)
	}
	if err := o.Release(0, 0); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second Release(0) = %v, want ErrNotHeld", err)
	}
}

func TestReleaseTimeout(t *testing.T) {
	// Marked releasing at 2s with a 5s timeout while the lease ran until
	// 4s; renewed at 3s to run an hour, so only the release timeout can drop
	// it.
	deadline := at(2*time.Second + relTO)
	cases := []struct {
		name string
		now  time.Time
		drop bool
	}{
		{"just before", deadline.Add(-time.Nanosecond), false},
		{"at the deadline", deadline, true},
		{"long after", deadline.Add(time.Minute), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOwn()
			o.Renew(t0, at(4*time.Second))
			mustApply(t, o, at(1*time.Second), tbl(1, 1, own(5), own(6)))
			mustApply(t, o, at(2*time.Second), tbl(1, 2, rel(5), own(6)))
			o.Renew(at(3*time.Second), at(time.Hour))
			idx, seq := o.Index(), o.HoldingsSeq()

			if got := o.Tick(c.now); got != c.drop {
				t.Fatalf("Tick(%v) = %v, want %v", c.now.Sub(t0), got, c.drop)
			}
			if c.drop {
				wantItems(t, o, h(1, 6, Owned))
				if o.Index() <= idx || o.HoldingsSeq() <= seq {
					t.Fatalf("a timed-out release left index %d->%d, seq %d->%d", idx, o.Index(), seq, o.HoldingsSeq())
				}
			} else {
				wantItems(t, o, h(0, 5, Releasing), h(1, 6, Owned))
			}
		})
	}
}

func TestRenewNeverShortens(t *testing.T) {
	o := newOwn()
	steps := []struct {
		now, until, want time.Time
	}{
		{t0, at(10 * time.Second), at(10 * time.Second)},
		{at(1 * time.Second), at(5 * time.Second), at(10 * time.Second)},
		{at(2 * time.Second), at(10 * time.Second), at(10 * time.Second)},
		{at(3 * time.Second), time.Time{}, at(10 * time.Second)},
		{at(4 * time.Second), at(20 * time.Second), at(20 * time.Second)},
		{at(5 * time.Second), at(19 * time.Second), at(20 * time.Second)},
	}
	for i, s := range steps {
		o.Renew(s.now, s.until)
		if !o.LeaseUntil().Equal(s.want) {
			t.Fatalf("step %d: Renew(%v, %v): LeaseUntil = %v, want %v",
				i, s.now.Sub(t0), s.until.Sub(t0), o.LeaseUntil().Sub(t0), s.want.Sub(t0))
		}
	}
	if !o.LeaseValid(at(20*time.Second - time.Nanosecond)) {
		t.Fatal("lease not valid just before its end")
	}
	if o.LeaseValid(at(20 * time.Second)) {
		t.Fatal("lease valid at its end")
	}
}

func TestShorterRenewalKeepsGrants(t *testing.T) {
	o := leased()
	mustApply(t, o, at(1*time.Second), tbl(1, 1, own(5)))
	idx, seq := o.Index(), o.HoldingsSeq()
	o.Renew(at(2*time.Second), at(3*time.Second))
	if o.Tick(at(4 * time.Second)) {
		t.Fatal("Tick inside the lease dropped grants after a shorter renewal")
	}
	wantItems(t, o, h(0, 5, Owned))
	if o.Index() != idx || o.HoldingsSeq() != seq {
		t.Fatalf("a renewal that changed nothing moved index %d->%d, seq %d->%d", idx, o.Index(), seq, o.HoldingsSeq())
	}
}

func TestTickAtLeaseEnd(t *testing.T) {
	cases := []struct {
		name string
		now  time.Time
		drop bool
	}{
		{"just before the end", at(lease - time.Nanosecond), false},
		{"at the end", at(lease), true},
		{"long after", at(time.Hour), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A long release timeout, so only the lease can drop grants.
			o := NewOwnership(self, selfInc, 24*time.Hour, 1)
			o.Renew(t0, at(lease))
			mustApply(t, o, at(1*time.Second), tbl(1, 1, own(1), own(2)))
			mustApply(t, o, at(2*time.Second), tbl(1, 2, own(1), rel(2)))
			idx, seq := o.Index(), o.HoldingsSeq()

			if got := o.Tick(c.now); got != c.drop {
				t.Fatalf("Tick(%v) = %v, want %v", c.now.Sub(t0), got, c.drop)
			}
			if !c.drop {
				wantItems(t, o, h(0, 1, Owned), h(1, 2, Releasing))
				if o.Index() != idx || o.HoldingsSeq() != seq {
					t.Fatalf("a Tick that dropped nothing moved index %d->%d, seq %d->%d", idx, o.Index(), seq, o.HoldingsSeq())
				}
				return
			}
			wantItems(t, o)
			wantVisible(t, o, c.now)
			if o.Index() <= idx || o.HoldingsSeq() <= seq {
				t.Fatalf("the lease end left index %d->%d, seq %d->%d", idx, o.Index(), seq, o.HoldingsSeq())
			}
		})
	}
}

func TestTickAtLeaseEndKeepsPending(t *testing.T) {
	o := NewOwnership(self, selfInc, 24*time.Hour, 1)
	o.Renew(t0, at(lease))
	mustApply(t, o, at(1*time.Second), tbl(1, 1, own(1), own(2), free()))
	mustApply(t, o, at(2*time.Second), tbl(1, 2, own(1), rel(2), free()))
	// The lease ran out at 10s; a table at 11s grants partition 2, which
	// cannot start without a lease.
	mustApply(t, o, at(11*time.Second), tbl(1, 3, own(1), rel(2), own(3)))
	if got := o.Report().Items[2]; got != h(2, 3, Pending) {
		t.Fatalf("a grant taken without a lease is %v, want pending", got)
	}

	if !o.Tick(at(11 * time.Second)) {
		t.Fatal("Tick after the lease end = false, want true")
	}
	wantItems(t, o, h(2, 3, Pending))
	if o.Tick(at(12 * time.Second)) {
		t.Fatal("a second Tick with only pending grants = true, want false")
	}
	wantItems(t, o, h(2, 3, Pending))

	// A new lease starts the pending grant; the dropped ones stay gone.
	o.Renew(at(12*time.Second), at(22*time.Second))
	wantItems(t, o, h(2, 3, Owned))
	wantVisible(t, o, at(12*time.Second), h(2, 3, Owned))
}

func TestVisible(t *testing.T) {
	// Partition 5 is granted at 11s, after the lease ran out at 10s (no Tick
	// yet): it is pending while 0..4 were started under the lease.
	setup := func(t *testing.T) *Ownership {
		o := NewOwnership(self, selfInc, 24*time.Hour, 1)
		o.Renew(t0, at(lease))
		mustApply(t, o, at(1*time.Second),
			tbl(1, 1, own(10), theirs(11), own(12), free(), own(14), free(), own(16), own(17)))
		mustApply(t, o, at(2*time.Second),
			tbl(1, 2, own(10), theirs(11), rel(12), free(), own(14), free(), rel(16), own(17)))
		mustApply(t, o, at(11*time.Second),
			tbl(1, 3, own(10), theirs(11), rel(12), free(), own(14), own(15), rel(16), own(17)))
		wantItems(t, o, h(0, 10, Owned), h(2, 12, Releasing), h(4, 14, Owned),
			h(5, 15, Pending), h(6, 16, Releasing), h(7, 17, Owned))
		return o
	}
	started := []Holding{h(0, 10, Owned), h(2, 12, Releasing), h(4, 14, Owned),
		h(6, 16, Releasing), h(7, 17, Owned)}
	cases := []struct {
		name string
		now  time.Time
		want []Holding
	}{
		// Asked about an instant inside the lease: owned and releasing
		// only, sorted by id; never the pending grant.
		{"lease runs", at(3 * time.Second), started},
		{"last instant of the lease", at(lease - time.Nanosecond), started},
		{"lease end", at(lease), nil},
		{"lease ran out", at(11 * time.Second), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := setup(t)
			// Ask several times: the grants sit in a map, so an unsorted
			// answer would show up.
			for range 20 {
				wantVisible(t, o, c.now, c.want...)
			}
			if got := o.Visible(c.now); got == nil {
				t.Fatal("Visible returned nil; the API promises a list, [] when empty")
			}
		})
	}
}

func TestVisibleNeverRenewed(t *testing.T) {
	o := newOwn()
	mustApply(t, o, t0, tbl(1, 1, own(1), own(2)))
	wantItems(t, o, h(0, 1, Pending), h(1, 2, Pending))
	wantVisible(t, o, t0)
	if o.LeaseValid(t0) {
		t.Fatal("a view that was never renewed has a valid lease")
	}
}

// TestDroppedTokenNeverTakenAgain drops the grant of partition 1 (token 5)
// in every way there is, then offers it again.
func TestDroppedTokenNeverTakenAgain(t *testing.T) {
	start := func(t *testing.T) *Ownership {
		o := leased()
		mustApply(t, o, at(1*time.Second), tbl(1, 1, free(), own(5)))
		return o
	}
	markReleasing := func(t *testing.T, o *Ownership) {
		mustApply(t, o, at(2*time.Second), tbl(1, 2, free(), rel(5)))
	}
	cases := []struct {
		name string
		drop func(t *testing.T) (o *Ownership, now time.Time)
	}{
		{"lease ran out", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			o.Tick(at(lease))
			return o, at(lease)
		}},
		{"ack", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			markReleasing(t, o)
			o.Ack(o.Index())
			return o, at(3 * time.Second)
		}},
		{"release", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			markReleasing(t, o)
			if err := o.Release(1, 0); err != nil {
				t.Fatalf("Release(1) = %v", err)
			}
			return o, at(3 * time.Second)
		}},
		{"release timeout", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			markReleasing(t, o)
			by := o.grants[1].releaseBy
			o.Tick(by)
			return o, by
		}},
		{"newer table leaves it unassigned", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			mustApply(t, o, at(2*time.Second), tbl(1, 2, free(), free()))
			return o, at(2 * time.Second)
		}},
		{"newer table is shorter", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			mustApply(t, o, at(2*time.Second), tbl(1, 2, free()))
			return o, at(2 * time.Second)
		}},
		{"newer table gives it to another member", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			mustApply(t, o, at(2*time.Second), tbl(1, 2, free(), theirs(5)))
			return o, at(2 * time.Second)
		}},
		{"newer table gives it to another incarnation", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			mustApply(t, o, at(2*time.Second), tbl(1, 2, free(), otherInc(5)))
			return o, at(2 * time.Second)
		}},
		{"newer leader's table does not know it", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			mustApply(t, o, at(2*time.Second), tbl(2, 0, free(), free()))
			return o, at(2 * time.Second)
		}},
		{"releasing before it started", func(t *testing.T) (*Ownership, time.Time) {
			o := newOwn()
			mustApply(t, o, at(1*time.Second), tbl(1, 1, free(), own(5)))
			wantItems(t, o, h(1, 5, Pending))
			markReleasing(t, o)
			return o, at(2 * time.Second)
		}},
		{"pending grant left out of a newer table", func(t *testing.T) (*Ownership, time.Time) {
			o := newOwn()
			mustApply(t, o, at(1*time.Second), tbl(1, 1, free(), own(5)))
			mustApply(t, o, at(2*time.Second), tbl(1, 2, free(), free()))
			return o, at(2 * time.Second)
		}},
		{"drop all", func(t *testing.T) (*Ownership, time.Time) {
			o := start(t)
			o.DropAll()
			return o, at(1 * time.Second)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, now := c.drop(t)
			wantItems(t, o)

			// Make sure the lease runs, so nothing but the token decides.
			now = now.Add(time.Second)
			o.Renew(now, now.Add(lease))

			offers := []struct {
				e    Entry
				want []Holding
			}{
				{own(5), nil},                       // the same token
				{own(4), nil},                       // an older one
				{own(5), nil},                       // the same token again, later
				{rel(5), nil},                       // the same token, releasing
				{own(6), []Holding{h(1, 6, Owned)}}, // a new, higher token
			}
			for i, off := range offers {
				mustApply(t, o, now, tbl(9, uint64(i), free(), off.e))
				wantItems(t, o, off.want...)
				wantVisible(t, o, now, off.want...)
			}
		})
	}
}

func TestNewerTokenReplacesHeldGrant(t *testing.T) {
	o := leased()
	mustApply(t, o, at(1*time.Second), tbl(1, 1, own(5)))
	seq := o.HoldingsSeq()
	mustApply(t, o, at(2*time.Second), tbl(1, 2, own(6)))
	wantItems(t, o, h(0, 6, Owned))
	if o.HoldingsSeq() <= seq {
		t.Fatal("a new token did not grow HoldingsSeq")
	}
	// The old token, or an older table's view of it, never comes back.
	mustApply(t, o, at(3*time.Second), tbl(1, 3, own(5)))
	wantItems(t, o)
	mustApply(t, o, at(4*time.Second), tbl(1, 4, own(6)))
	wantItems(t, o)
}

// TestReportAndIndex walks one view through its life and checks, at every
// step, the holdings, Report's Seq and Applied, and the index.
func TestReportAndIndex(t *testing.T) {
	type change int
	const (
		same  change = iota // must not move
		grow                // must grow
		maybe               // may grow
	)
	o := newOwn()
	if r := o.Report(); r.Incarnation != selfInc || len(r.Items) != 0 || r.Applied != (TableID{}) {
		t.Fatalf("a new view reports %+v", r)
	}
	steps := []struct {
		name    string
		now     time.Time
		do      func(o *Ownership, now time.Time)
		items   []Holding
		applied TableID
		seq     change
		index   change
	}{
		{"table without lease", at(1 * time.Second),
			func(o *Ownership, now time.Time) { o.Apply(now, tbl(1, 1, own(1), own(2), free())) },
			[]Holding{h(0, 1, Pending), h(1, 2, Pending)}, TableID{1, 1}, grow, maybe},
		{"lease", at(2 * time.Second),
			func(o *Ownership, now time.Time) { o.Renew(now, now.Add(lease)) },
			[]Holding{h(0, 1, Owned), h(1, 2, Owned)}, TableID{1, 1}, grow, grow},
		{"equal table", at(3 * time.Second),
			func(o *Ownership, now time.Time) { o.Apply(now, tbl(1, 1, free(), free(), own(3))) },
			[]Holding{h(0, 1, Owned), h(1, 2, Owned)}, TableID{1, 1}, same, same},
		{"releasing", at(3 * time.Second),
			func(o *Ownership, now time.Time) { o.Apply(now, tbl(1, 2, rel(1), own(2), free())) },
			[]Holding{h(0, 1, Releasing), h(1, 2, Owned)}, TableID{1, 2}, grow, grow},
		{"older table", at(4 * time.Second),
			func(o *Ownership, now time.Time) { o.Apply(now, tbl(1, 0, free(), free(), own(3))) },
			[]Holding{h(0, 1, Releasing), h(1, 2, Owned)}, TableID{1, 2}, same, same},
		{"bump", at(4 * time.Second),
			func(o *Ownership, _ time.Time) { o.Bump() },
			[]Holding{h(0, 1, Releasing), h(1, 2, Owned)}, TableID{1, 2}, same, grow},
		{"ack", at(5 * time.Second),
			func(o *Ownership, _ time.Time) { o.Ack(o.Index()) },
			[]Holding{h(1, 2, Owned)}, TableID{1, 2}, grow, grow},
		{"new grant", at(6 * time.Second),
			func(o *Ownership, now time.Time) { o.Apply(now, tbl(2, 0, free(), own(2), own(3))) },
			[]Holding{h(1, 2, Owned), h(2, 3, Owned)}, TableID{2, 0}, grow, grow},
		{"newer table, same grants", at(7 * time.Second),
			func(o *Ownership, now time.Time) { o.Apply(now, tbl(2, 1, free(), own(2), own(3))) },
			[]Holding{h(1, 2, Owned), h(2, 3, Owned)}, TableID{2, 1}, maybe, maybe},
		{"tick inside the lease", at(8 * time.Second),
			func(o *Ownership, now time.Time) { o.Tick(now) },
			[]Holding{h(1, 2, Owned), h(2, 3, Owned)}, TableID{2, 1}, same, same},
		{"lease end", at(12 * time.Second),
			func(o *Ownership, now time.Time) { o.Tick(now) },
			nil, TableID{2, 1}, grow, grow},
	}
	for _, s := range steps {
		idx, seq := o.Index(), o.HoldingsSeq()
		s.do(o, s.now)
		t.Logf("%s: index %d->%d seq %d->%d", s.name, idx, o.Index(), seq, o.HoldingsSeq())
		wantItems(t, o, s.items...)
		r := o.Report()
		if r.Applied != s.applied {
			t.Fatalf("%s: Report().Applied = %v, want %v", s.name, r.Applied, s.applied)
		}
		if r.Seq != o.HoldingsSeq() {
			t.Fatalf("%s: Report().Seq = %d but HoldingsSeq() = %d", s.name, r.Seq, o.HoldingsSeq())
		}
		if r.Incarnation != selfInc {
			t.Fatalf("%s: Report().Incarnation = %d, want %d", s.name, r.Incarnation, selfInc)
		}
		for _, c := range []struct {
			what       string
			before, at uint64
			want       change
		}{{"Seq", seq, r.Seq, s.seq}, {"Index", idx, o.Index(), s.index}} {
			switch {
			case c.at < c.before:
				t.Fatalf("%s: %s went back %d -> %d", s.name, c.what, c.before, c.at)
			case c.want == same && c.at != c.before:
				t.Fatalf("%s: %s moved %d -> %d, want unchanged", s.name, c.what, c.before, c.at)
			case c.want == grow && c.at == c.before:
				t.Fatalf("%s: %s stayed %d, want it to grow", s.name, c.what, c.at)
			}
		}
	}
}

func TestBump(t *testing.T) {
	o := leased()
	mustApply(t, o, at(1*time.Second), tbl(1, 1, own(1)))
	for range 3 {
		idx, seq := o.Index(), o.HoldingsSeq()
		o.Bump()
		if o.Index() <= idx {
			t.Fatalf("Bump left the index at %d", o.Index())
		}
		if o.HoldingsSeq() != seq {
			t.Fatalf("Bump moved HoldingsSeq %d -> %d", seq, o.HoldingsSeq())
		}
		wantItems(t, o, h(0, 1, Owned))
	}
}

func TestTransitionsAsData(t *testing.T) {
	// Every state change the code performs is listed; released is final.
	for _, c := range []struct{ from, to State }{
		{Unassigned, Pending}, {Unassigned, Owned},
		{Pending, Owned}, {Pending, released},
		{Owned, Releasing}, {Owned, released},
		{Releasing, released},
	} {
		if err := checkChange(c.from, c.to); err != nil {
			t.Errorf("checkChange(%q, %q) = %v, want allowed", c.from, c.to, err)
		}
	}
	for _, c := range []struct{ from, to State }{
		{Owned, Pending}, {Releasing, Owned}, {Releasing, Pending},
		{released, Owned}, {released, Pending}, {released, Releasing},
		{Pending, Releasing}, {Owned, Unassigned}, {Unassigned, Releasing},
	} {
		err := checkChange(c.from, c.to)
		if !errors.Is(err, ErrBadTransition) {
			t.Errorf("checkChange(%q, %q) = %v, want ErrBadTransition", c.from, c.to, err)
		}
	}
}

// TestVisibleDeadlines: an owned partition may be worked on until the lease
// ends; a releasing one until its release deadline when that comes first
// (the leader gives it away as soon as the member reports the release, which
// it does at that deadline), never past the lease.
func TestVisibleDeadlines(t *testing.T) {
	o := NewOwnership(self, selfInc, 5*time.Second, 1)
	o.Renew(at(0), at(4*time.Second))
	o.Apply(at(0), tbl(1, 1, own(5), own(6)))
	o.Apply(at(time.Second), tbl(1, 2, rel(5), own(6)))
	o.Renew(at(2*time.Second), at(10*time.Second))
	for _, h := range o.Visible(at(2 * time.Second)) {
		want := at(10 * time.Second)
		if h.ID == 0 {
			want = at(6 * time.Second) // release timeout after it was told
		}
		if !h.Until.Equal(want) {
			t.Errorf("p%d (%s): may be worked on until %v, want %v", h.ID, h.State, h.Until.Sub(t0), want.Sub(t0))
		}
	}
	// A release deadline past the lease's end is cut to the lease.
	o = NewOwnership(self, selfInc, time.Minute, 1)
	o.Renew(at(0), at(10*time.Second))
	o.Apply(at(0), tbl(1, 1, own(5)))
	o.Apply(at(time.Second), tbl(1, 2, rel(5)))
	if vs := o.Visible(at(time.Second)); len(vs) != 1 || !vs[0].Until.Equal(at(10*time.Second)) {
		t.Errorf("Visible = %v, want p0 until the lease's end at 10s", vs)
	}
	// A release timeout shorter than the lease never cuts a deadline the app
	// was already shown: while owned, p0 was good until 10s (the lease), so
	// it is released no earlier, even with a 2s release timeout.
	o = NewOwnership(self, selfInc, 2*time.Second, 1)
	o.Renew(at(0), at(10*time.Second))
	o.Apply(at(0), tbl(1, 1, own(5)))
	o.Apply(at(time.Second), tbl(1, 2, rel(5)))
	if o.Tick(at(9 * time.Second)); len(o.Visible(at(9*time.Second))) != 1 {
		t.Errorf("p0 released at 9s, before the 10s deadline shown while it was owned")
	}
}

// TestReleaseWithTokenOnlyThatGrant: an explicit release naming a token lets
// go only of that grant; one naming an earlier grant of the partition (an app
// of a process that restarted) changes nothing.
func TestReleaseWithTokenOnlyThatGrant(t *testing.T) {
	o := leased()
	mustApply(t, o, at(time.Second), tbl(1, 1, own(6)))
	mustApply(t, o, at(time.Second), tbl(1, 2, rel(6)))
	if err := o.Release(0, 5); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("Release(0, token 5) = %v, want ErrNotHeld (it holds token 6)", err)
	}
	wantItems(t, o, h(0, 6, Releasing))
	if err := o.Release(0, 6); err != nil {
		t.Fatalf("Release(0, token 6) = %v", err)
	}
	wantItems(t, o)
}
