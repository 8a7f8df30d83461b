package partitions

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOwnershipRandomOps drives views through seeded random sequences of
// Apply (newer, equal and older tables), Renew, Tick, Ack, Release, Bump and
// DropAll at non-decreasing times, and checks the invariants after every
// step against a small model kept beside it. A failure names the seed and
// the step; rerun one with -run 'TestOwnershipRandomOps/seed=N$'.
func TestOwnershipRandomOps(t *testing.T) {
	const seeds, steps = 300, 250
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			newRandomRun(t, seed).run(steps)
		})
	}
}

const randParts = 6

type pair struct {
	id    int
	token uint64
}

type randomRun struct {
	t   *testing.T
	rng *rand.Rand
	o   *Ownership
	now time.Time
	log []string

	// The model.
	newest    Table // newest table the view should have taken
	hasNewest bool
	tokens    [randParts]uint64 // the last token the "leader" issued per partition
	// dropped holds every (partition, token) the view held and let go of;
	// maxDropped the highest dropped token per partition.
	dropped    map[pair]bool
	maxDropped [randParts]uint64
	// marked is, per releasing grant, when it was marked (its release
	// timeout runs from there) and the index range its releasingIndex
	// must lie in: after the index before the change, at most the index
	// after it.
	marked map[pair]releaseMark
}

type releaseMark struct {
	at     time.Time
	lo, hi uint64
	// by is the release deadline: the release timeout after at, but never
	// before the lease's end at that moment (a deadline the app may have
	// been shown while the partition was owned).
	by time.Time
}

func newRandomRun(t *testing.T, seed uint64) *randomRun {
	return &randomRun{
		t:       t,
		rng:     rand.New(rand.NewPCG(seed, 0x5eed)),
		o:       NewOwnership(self, selfInc, relTO, 1),
		now:     t0,
		dropped: map[pair]bool{},
		marked:  map[pair]releaseMark{},
	}
}

func (r *randomRun) fail(format string, args ...any) {
	r.t.Helper()
	tail := r.log
	if len(tail) > 12 {
		tail = tail[len(tail)-12:]
	}
	r.t.Fatalf("step %d: %s\nlast steps:\n  %s", len(r.log), fmt.Sprintf(format, args...),
		strings.Join(tail, "\n  "))
}

func (r *randomRun) run(steps int) {
	for range steps {
		if r.rng.IntN(2) == 0 {
			r.now = r.now.Add(time.Duration(r.rng.IntN(3000)) * time.Millisecond)
		}
		beforeItems := r.o.Report().Items
		beforeVisible := withoutDeadlines(r.o.Visible(r.now))
		beforeIndex, beforeSeq := r.o.Index(), r.o.HoldingsSeq()

		switch n := r.rng.IntN(100); {
		case n < 35:
			r.applyNewer()
		case n < 45:
			r.applyStale()
		case n < 65:
			r.renew()
		case n < 80:
			r.tick(beforeItems)
		case n < 89:
			r.ack(beforeItems)
		case n < 97:
			r.release(beforeItems)
		case n < 99:
			r.step("Bump")
			r.o.Bump()
			if r.o.Index() <= beforeIndex {
				r.fail("Bump left the index at %d", r.o.Index())
			}
		default:
			r.step("DropAll")
			r.o.DropAll()
			if len(r.o.Report().Items) != 0 {
				r.fail("DropAll left %v", r.o.Report().Items)
			}
		}
		r.check(beforeItems, beforeVisible, beforeIndex, beforeSeq)
	}
}

func (r *randomRun) step(format string, args ...any) {
	r.log = append(r.log, fmt.Sprintf("@%v ", r.now.Sub(t0))+fmt.Sprintf(format, args...))
}

// randomEntries derives the next table's rows from the newest one, as a
// leader would, with some rows an honest leader would not write (an old
// token offered again) to show they are refused.
func (r *randomRun) randomEntries() []Entry {
	es := make([]Entry, randParts)
	copy(es, r.newest.Partitions)
	for p := range es {
		if r.rng.IntN(10) >= 4 {
			continue
		}
		switch r.rng.IntN(9) {
		case 0, 1:
			r.tokens[p]++
			es[p] = own(r.tokens[p])
		case 2:
			if es[p].Owner == self {
				es[p].State = Releasing
			}
		case 3:
			if es[p].Owner == self {
				es[p].State = Owned
			}
		case 4:
			// An old token offered again.
			if r.tokens[p] > 0 {
				es[p] = own(1 + r.rng.Uint64N(r.tokens[p]))
			}
		case 5:
			r.tokens[p]++
			es[p] = theirs(r.tokens[p])
		case 6:
			r.tokens[p]++
			es[p] = otherInc(r.tokens[p])
		case 7:
			es[p] = free()
		case 8:
			r.tokens[p]++
			es[p] = rel(r.tokens[p])
		}
	}
	return es
}

func (r *randomRun) applyNewer() {
	id := r.newest.ID
	switch {
	case !r.hasNewest:
		id = TableID{Term: 1 + r.rng.Uint64N(3), Version: r.rng.Uint64N(3)}
	case r.rng.IntN(5) == 0:
		id = TableID{Term: id.Term + 1, Version: r.rng.Uint64N(3)}
	default:
		id.Version += 1 + r.rng.Uint64N(2)
	}
	tb := tbl(id.Term, id.Version, r.randomEntries()...)
	r.step("Apply %v %v", id, tb.Partitions)
	if !r.o.Apply(r.now, tb) {
		r.fail("Apply(%v) over %v = false, want true", id, r.newest.ID)
	}
	r.newest, r.hasNewest = tb, true
}

func (r *randomRun) applyStale() {
	if !r.hasNewest {
		return
	}
	id := r.newest.ID
	switch r.rng.IntN(3) {
	case 0: // equal
	case 1:
		if id.Version == 0 {
			return
		}
		id.Version = r.rng.Uint64N(id.Version)
	case 2:
		if id.Term == 0 {
			return
		}
		id = TableID{Term: r.rng.Uint64N(id.Term), Version: id.Version + 1 + r.rng.Uint64N(5)}
	}
	tb := tbl(id.Term, id.Version, r.randomEntries()...)
	r.step("Apply stale %v %v", id, tb.Partitions)
	before := r.o.Report()
	if r.o.Apply(r.now, tb) {
		r.fail("Apply(%v) over %v = true, want it ignored", id, r.newest.ID)
	}
	if after := r.o.Report(); !reflect.DeepEqual(before, after) {
		r.fail("an ignored table changed the report %+v -> %+v", before, after)
	}
}

func (r *randomRun) renew() {
	until := r.now.Add(time.Duration(r.rng.IntN(14000)-2000) * time.Millisecond)
	r.step("Renew until %v", until.Sub(t0))
	old := r.o.LeaseUntil()
	r.o.Renew(r.now, until)
	want := old
	if until.After(old) {
		want = until
	}
	if !r.o.LeaseUntil().Equal(want) {
		r.fail("Renew(%v) over %v: LeaseUntil = %v, want %v", until.Sub(t0), old.Sub(t0), r.o.LeaseUntil().Sub(t0), want.Sub(t0))
	}
}

func (r *randomRun) tick(before []Holding) {
	r.step("Tick")
	changed := r.o.Tick(r.now)
	if got := r.o.Report().Items; changed == reflect.DeepEqual(got, before) {
		r.fail("Tick = %v but holdings went %v -> %v", changed, before, got)
	}
	valid := r.o.LeaseValid(r.now)
	after := map[pair]bool{}
	for _, it := range r.o.Report().Items {
		after[pair{it.ID, it.Token}] = true
	}
	for _, it := range before {
		if it.State == Pending && !after[pair{it.ID, it.Token}] {
			r.fail("Tick dropped %v: a grant not yet started stays pending", it)
		}
	}
	for _, it := range r.o.Report().Items {
		if !valid && it.State != Pending {
			r.fail("after Tick past the lease end %v still holds %v", r.o.LeaseUntil().Sub(t0), it)
		}
		if m, ok := r.marked[pair{it.ID, it.Token}]; ok && it.State == Releasing && !r.now.Before(m.by) {
			r.fail("after Tick, %v marked releasing at %v outlived its release deadline %v", it, m.at.Sub(t0), m.by.Sub(t0))
		}
	}
}

func (r *randomRun) ack(before []Holding) {
	idx := r.rng.Uint64N(r.o.Index() + 3)
	r.step("Ack %d (index %d)", idx, r.o.Index())
	r.o.Ack(idx)
	after := map[pair]bool{}
	for _, it := range r.o.Report().Items {
		after[pair{it.ID, it.Token}] = true
	}
	for _, it := range before {
		p := pair{it.ID, it.Token}
		m := r.marked[p]
		switch {
		case it.State != Releasing && !after[p]:
			r.fail("Ack(%d) dropped %v, which was not releasing", idx, it)
		case it.State != Releasing:
		case idx >= m.hi && after[p]:
			r.fail("Ack(%d) kept %v, told to the app at index %d", idx, it, m.hi)
		case idx < m.lo && !after[p]:
			r.fail("Ack(%d) completed the release of %v, told to the app only at index >= %d", idx, it, m.lo)
		}
	}
}

func (r *randomRun) release(before []Holding) {
	id := r.rng.IntN(randParts+2) - 1
	if len(before) > 0 && r.rng.IntN(2) == 0 {
		id = before[r.rng.IntN(len(before))].ID
	}
	r.step("Release %d", id)
	err := r.o.Release(id, 0)
	var held *Holding
	for i := range before {
		if before[i].ID == id {
			held = &before[i]
		}
	}
	switch {
	case held == nil:
		if !errors.Is(err, ErrNotHeld) {
			r.fail("Release(%d) of a partition not held = %v, want ErrNotHeld", id, err)
		}
	case held.State != Releasing:
		if !errors.Is(err, ErrBadTransition) {
			r.fail("Release(%d) of %v = %v, want ErrBadTransition", id, *held, err)
		}
	default:
		if err != nil {
			r.fail("Release(%d) of %v = %v, want nil", id, *held, err)
		}
		for _, it := range r.o.Report().Items {
			if it.ID == id {
				r.fail("Release(%d) returned nil but the view still holds %v", id, it)
			}
		}
	}
}

// check asserts the invariants after one step.
func (r *randomRun) check(beforeItems, beforeVisible []Holding, beforeIndex, beforeSeq uint64) {
	o := r.o
	if o.Index() < beforeIndex {
		r.fail("Index went back %d -> %d", beforeIndex, o.Index())
	}
	if o.HoldingsSeq() < beforeSeq {
		r.fail("HoldingsSeq went back %d -> %d", beforeSeq, o.HoldingsSeq())
	}

	rep := o.Report()
	if rep.Seq != o.HoldingsSeq() || rep.Incarnation != selfInc {
		r.fail("Report() = seq %d inc %d, want seq %d inc %d", rep.Seq, rep.Incarnation, o.HoldingsSeq(), selfInc)
	}
	if rep.Applied != r.newest.ID {
		r.fail("Report().Applied = %v, want the newest table %v", rep.Applied, r.newest.ID)
	}
	if o.Table().ID != r.newest.ID {
		r.fail("Table().ID = %v, want the newest table %v", o.Table().ID, r.newest.ID)
	}
	if !reflect.DeepEqual(rep.Items, beforeItems) && rep.Seq <= beforeSeq {
		r.fail("holdings changed %v -> %v but Seq stayed %d", beforeItems, rep.Items, rep.Seq)
	}
	// Report, Visible and TableCopy keep what they return while nothing
	// changed (see the Seq check above): what they return must still be
	// what the grants and the table are now.
	if fresh := grantsNow(o); !reflect.DeepEqual(rep.Items, fresh) {
		r.fail("Report().Items = %v, but the grants are %v", rep.Items, fresh)
	}
	releasing := 0
	for _, g := range o.grants {
		if g.state == Releasing {
			releasing++
		}
	}
	if o.releasing != releasing {
		r.fail("%d grants counted as releasing, %d are", o.releasing, releasing)
	}
	if tc := o.TableCopy(); !reflect.DeepEqual(tc, o.Table()) {
		r.fail("TableCopy() = %+v, but the table is %+v", tc, o.Table())
	}

	valid := o.LeaseValid(r.now)
	var started []Holding
	for i, it := range rep.Items {
		if i > 0 && rep.Items[i-1].ID >= it.ID {
			r.fail("Report items not sorted by id, or repeated: %v", rep.Items)
		}
		p := pair{it.ID, it.Token}
		if r.dropped[p] {
			r.fail("dropped grant %v is back as %v", p, it)
		}
		if it.Token <= r.maxDropped[it.ID] {
			r.fail("%v holds a token not above the dropped %d", it, r.maxDropped[it.ID])
		}
		if it.ID < 0 || it.ID >= len(r.newest.Partitions) {
			r.fail("%v is not in the newest table %v", it, r.newest.ID)
		}
		e := r.newest.Partitions[it.ID]
		if e.Owner != self || e.Incarnation != selfInc || e.Token != it.Token {
			r.fail("%v held but the newest table %v has %+v", it, r.newest.ID, e)
		}
		switch it.State {
		case Pending:
			if valid {
				r.fail("%v pending while the lease runs until %v", it, o.LeaseUntil().Sub(t0))
			}
			if e.State != Owned {
				r.fail("%v pending but the table has %+v", it, e)
			}
		case Owned:
			if e.State != Owned {
				r.fail("%v owned but the table has %+v", it, e)
			}
			started = append(started, it)
		case Releasing:
			if e.State == Unassigned {
				r.fail("%v releasing but the table has %+v", it, e)
			}
			if _, ok := r.marked[p]; !ok {
				// Newly releasing: its releasingIndex lies in (before, now].
				by := r.now.Add(relTO)
				if by.Before(o.LeaseUntil()) {
					by = o.LeaseUntil()
				}
				r.marked[p] = releaseMark{at: r.now, lo: beforeIndex + 1, hi: o.Index(), by: by}
				if ri := o.grants[it.ID].releasingIndex; ri <= beforeIndex || ri > o.Index() {
					r.fail("%v marked releasing with releasingIndex %d, want in (%d, %d]", it, ri, beforeIndex, o.Index())
				}
			}
			started = append(started, it)
		default:
			r.fail("%v has a state a report must not carry", it)
		}
	}

	vis := o.Visible(r.now)
	if vis == nil {
		r.fail("Visible returned nil")
	}
	if !valid && len(vis) != 0 {
		r.fail("Visible = %v with the lease ended at %v", vis, o.LeaseUntil().Sub(t0))
	}
	// Each visible holding's deadline is the lease, or for a releasing one
	// the earlier of the lease and its release deadline.
	for _, h := range vis {
		want := o.LeaseUntil()
		if g := o.grants[h.ID]; g != nil && h.State == Releasing && g.releaseBy.Before(want) {
			want = g.releaseBy
		}
		if !h.Until.Equal(want) {
			r.fail("%v: deadline %v, want %v", h, h.Until.Sub(t0), want.Sub(t0))
		}
	}
	vis = withoutDeadlines(vis)
	if valid && !reflect.DeepEqual(vis, nonNil(started)) {
		r.fail("Visible = %v, want the owned and releasing holdings %v", vis, started)
	}
	if !reflect.DeepEqual(vis, beforeVisible) && o.Index() <= beforeIndex {
		r.fail("the app's view changed %v -> %v but Index stayed %d", beforeVisible, vis, o.Index())
	}

	// Record what was let go of in this step.
	now := map[pair]bool{}
	for _, it := range rep.Items {
		now[pair{it.ID, it.Token}] = true
	}
	for _, it := range beforeItems {
		p := pair{it.ID, it.Token}
		if !now[p] {
			r.dropped[p] = true
			if it.Token > r.maxDropped[it.ID] {
				r.maxDropped[it.ID] = it.Token
			}
		}
	}
}

func nonNil(hs []Holding) []Holding {
	if hs == nil {
		return []Holding{}
	}
	return hs
}

// withoutDeadlines returns hs with Until cleared, to compare with reports.
// grantsNow lists the grants as they are, without any cache.
func grantsNow(o *Ownership) []Holding {
	out := []Holding{}
	for id, g := range o.grants {
		out = append(out, Holding{ID: id, Token: g.token, State: g.state})
	}
	slices.SortFunc(out, byID)
	return out
}

func withoutDeadlines(hs []Holding) []Holding {
	out := make([]Holding, len(hs))
	for i, h := range hs {
		h.Until = time.Time{}
		out[i] = h
	}
	return out
}
