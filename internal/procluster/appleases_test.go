package procluster

import (
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

func TestAppLeasesHoldDaemonsToTheDeadlinesShown(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	mine := func(held int64, ps ...api.Partition) api.Mine { return api.Mine{HeldMs: held, Partitions: ps} }
	owned := func(id int, tok uint64, left int64) api.Partition {
		return api.Partition{ID: id, Token: tok, State: "owned", LeaseRemainingMs: left}
	}
	releasing := func(id int, tok uint64, left int64) api.Partition {
		return api.Partition{ID: id, Token: tok, State: "releasing", LeaseRemainingMs: left}
	}
	for _, tc := range []struct {
		name      string
		record    func(a *AppLeases)
		violation bool
	}{
		{"a grant after the deadline shown", func(a *AppLeases) {
			a.Record("a", mine(0, owned(1, 10, 1000)), ms(0), ms(5))
			a.Record("b", mine(0, owned(1, 11, 1000)), ms(1001), ms(1002))
		}, false},
		{"a grant before the deadline shown (a's sidecar went silent)", func(a *AppLeases) {
			a.Record("a", mine(0, owned(1, 10, 1000)), ms(0), ms(5))
			a.Record("b", mine(0, owned(1, 11, 1000)), ms(900), ms(950))
		}, true},
		{"held time counts: the deadline is sent + held + remaining", func(a *AppLeases) {
			a.Record("a", mine(500, owned(1, 10, 1000)), ms(0), ms(505))
			a.Record("b", mine(0, owned(1, 11, 1000)), ms(1200), ms(1300))
		}, true},
		{"a release acknowledged early hands over", func(a *AppLeases) {
			a.Record("a", mine(0, owned(1, 10, 1000)), ms(0), ms(5))
			a.Record("a", mine(0, releasing(1, 10, 1000)), ms(100), ms(105))
			a.Record("b", mine(0, owned(1, 11, 1000)), ms(200), ms(210))
		}, false},
		{"an answer without the grant ends it", func(a *AppLeases) {
			a.Record("a", mine(0, owned(1, 10, 1000)), ms(0), ms(5))
			a.Record("a", mine(0), ms(100), ms(105))
			a.Record("b", mine(0, owned(1, 11, 1000)), ms(200), ms(210))
		}, false},
		{"a later answer moves the deadline on", func(a *AppLeases) {
			a.Record("a", mine(0, owned(1, 10, 1000)), ms(0), ms(5))
			a.Record("a", mine(0, owned(1, 10, 1000)), ms(800), ms(805))
			a.Record("b", mine(0, owned(1, 11, 1000)), ms(1500), ms(1510))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAppLeases()
			tc.record(a)
			v := a.Violations()
			if (len(v) > 0) != tc.violation {
				t.Fatalf("violations %v, want any: %v", v, tc.violation)
			}
			if len(v) > 0 && !strings.Contains(v[0], "partition 1") {
				t.Errorf("unhelpful report %q", v[0])
			}
		})
	}
}
