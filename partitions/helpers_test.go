package partitions

import (
	"reflect"
	"testing"
	"time"
)

// Time is a value here: every test counts from t0.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	self    = "ringd-0"
	selfInc = uint64(7)
	peer    = "ringd-1"
	relTO   = 5 * time.Second
	lease   = 10 * time.Second
)

func at(d time.Duration) time.Time { return t0.Add(d) }

// Table entries as the leader writes them.
func own(tok uint64) Entry { return Entry{Owner: self, Incarnation: selfInc, Token: tok, State: Owned} }
func rel(tok uint64) Entry {
	return Entry{Owner: self, Incarnation: selfInc, Token: tok, State: Releasing}
}
func otherInc(tok uint64) Entry {
	return Entry{Owner: self, Incarnation: selfInc + 1, Token: tok, State: Owned}
}
func theirs(tok uint64) Entry { return Entry{Owner: peer, Incarnation: 1, Token: tok, State: Owned} }
func free() Entry             { return Entry{} }

func tbl(term, version uint64, es ...Entry) Table {
	return Table{
		ID:         TableID{Term: term, Version: version},
		Leader:     peer,
		Members:    []string{self, peer},
		Partitions: es,
	}
}

func newOwn() *Ownership { return NewOwnership(self, selfInc, relTO, 1) }

// leased returns a view whose lease runs from t0 to t0+lease.
func leased() *Ownership {
	o := newOwn()
	o.Renew(t0, at(lease))
	return o
}

func h(id int, tok uint64, st State) Holding { return Holding{ID: id, Token: tok, State: st} }

func wantItems(t *testing.T, o *Ownership, want ...Holding) {
	t.Helper()
	if want == nil {
		want = []Holding{}
	}
	if got := o.Report().Items; !reflect.DeepEqual(got, want) {
		t.Fatalf("Report().Items = %v, want %v", got, want)
	}
}

func wantVisible(t *testing.T, o *Ownership, now time.Time, want ...Holding) {
	t.Helper()
	if want == nil {
		want = []Holding{}
	}
	// Deadlines (Holding.Until) are checked by TestVisibleDeadlines and the
	// property test.
	if got := withoutDeadlines(o.Visible(now)); !reflect.DeepEqual(got, want) {
		t.Fatalf("Visible(%v) = %v, want %v", now.Sub(t0), got, want)
	}
}

func mustApply(t *testing.T, o *Ownership, now time.Time, tb Table) {
	t.Helper()
	if !o.Apply(now, tb) {
		t.Fatalf("Apply(%v) = false, want the table taken (current %v)", tb.ID, o.Table().ID)
	}
}
