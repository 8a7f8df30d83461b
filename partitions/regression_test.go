// Regression tests for two defects found while writing this package's
// tests: a lapsed lease resumed by a Renew that came before any Tick, and
// Apply taking an older table after one without partitions.

package partitions

import (
	"reflect"
	"testing"
	"time"
)

// A lapsed lease must let go of the started grants for good whether or not
// a Tick ran between the lease end and the next renewal. Before the fix only
// Tick did it, so Renew (or Apply then Renew) after a lapse resumed the old
// grants with their old tokens. The daemon core renews before it ticks
// (onHeartbeat, and the leader's self-renewal in flush), so the first input
// after a lapse can do exactly this.
func TestKnownBugRenewAfterLapseResumesGrants(t *testing.T) {
	cases := []struct {
		name  string
		table Table // at 2s, after own(5), own(6) at 1s
	}{
		{"owned", tbl(1, 2, own(5), own(6))},
		{"releasing", tbl(1, 2, rel(5), own(6))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			build := func() *Ownership {
				o := NewOwnership(self, selfInc, 24*time.Hour, 1)
				o.Renew(t0, at(lease))
				mustApply(t, o, at(1*time.Second), tbl(1, 1, own(5), own(6)))
				mustApply(t, o, at(2*time.Second), c.table)
				return o
			}
			now := at(lease + time.Second) // the lease ended at 10s
			renewed := now.Add(lease)

			ticked := build()
			ticked.Tick(now)
			ticked.Renew(now, renewed)

			unticked := build()
			unticked.Renew(now, renewed)
			unticked.Tick(now)

			if got, want := unticked.Report().Items, ticked.Report().Items; !reflect.DeepEqual(got, want) {
				t.Errorf("Renew after the lapse, then Tick: holdings %v; Tick, then Renew: %v", got, want)
			}
			if got := unticked.Visible(now); len(got) != 0 {
				t.Errorf("grants that lapsed at %v are visible again after a renewal: %v", lease, got)
			}
		})
	}
}

// Apply must ignore older and equal tables, also when the newest table it
// took had no rows. Today the guard is skipped whenever the current table
// has no partitions, so any table is taken after such a one, and
// Report().Applied goes back.
func TestKnownBugApplyAfterEmptyTable(t *testing.T) {
	cases := []struct {
		name string
		id   TableID
	}{
		{"equal", TableID{2, 5}},
		{"older version", TableID{2, 4}},
		{"older term", TableID{1, 9}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := leased()
			mustApply(t, o, t0, tbl(2, 5)) // a table without rows
			if o.Apply(at(1*time.Second), tbl(c.id.Term, c.id.Version, own(1))) {
				t.Errorf("Apply(%v) after 2.5 = true, want false", c.id)
			}
			if got := o.Report().Applied; got != (TableID{2, 5}) {
				t.Errorf("Report().Applied = %v, want 2.5", got)
			}
			wantItems(t, o)
		})
	}
}
