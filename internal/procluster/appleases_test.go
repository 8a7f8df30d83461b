package procluster

import (
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

var appT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ms is appT0 plus n milliseconds.
func ms(n int) time.Time { return appT0.Add(time.Duration(n) * time.Millisecond) }

// mine is an answer held held ms by the server, listing ps.
func mine(held int64, ps ...api.Partition) api.Mine { return api.Mine{HeldMs: held, Partitions: ps} }

// ownedLeft and releasingLeft list partition id under tok with left ms to go.
func ownedLeft(id int, tok uint64, left int64) api.Partition {
	return api.Partition{ID: id, Token: tok, State: "owned", LeaseRemainingMs: left}
}

func releasingLeft(id int, tok uint64, left int64) api.Partition {
	return api.Partition{ID: id, Token: tok, State: "releasing", LeaseRemainingMs: left}
}

// AppLeases turns each answer into the deadlines the app works to; the
// ownership checker's lease model (ownercheck.ObserveLeases) judges them.
func TestAppLeasesHoldDaemonsToTheDeadlinesShown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		record    func(a *AppLeases)
		violation bool
	}{
		{"a grant after the deadline shown", func(a *AppLeases) {
			a.Record("a", mine(0, ownedLeft(1, 10, 1000)), ms(0), ms(5))
			a.Record("b", mine(0, ownedLeft(1, 11, 1000)), ms(1001), ms(1002))
		}, false},
		{"a grant before the deadline shown (a's sidecar went silent)", func(a *AppLeases) {
			a.Record("a", mine(0, ownedLeft(1, 10, 1000)), ms(0), ms(5))
			a.Record("b", mine(0, ownedLeft(1, 11, 1000)), ms(900), ms(950))
		}, true},
		{"held time counts: the deadline is sent + held + remaining", func(a *AppLeases) {
			a.Record("a", mine(500, ownedLeft(1, 10, 1000)), ms(0), ms(505))
			a.Record("b", mine(0, ownedLeft(1, 11, 1000)), ms(1200), ms(1300))
		}, true},
		{"a release acknowledged early hands over", func(a *AppLeases) {
			a.Record("a", mine(0, ownedLeft(1, 10, 1000)), ms(0), ms(5))
			a.Record("a", mine(0, releasingLeft(1, 10, 1000)), ms(100), ms(105))
			a.Record("b", mine(0, ownedLeft(1, 11, 1000)), ms(200), ms(210))
		}, false},
		{"a release shown for the first time is not worked on", func(a *AppLeases) {
			a.Record("a", mine(0, releasingLeft(1, 10, 1000)), ms(0), ms(5))
			a.Record("b", mine(0, ownedLeft(1, 11, 1000)), ms(200), ms(210))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAppLeases(4)
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

func TestAppLeasesReports(t *testing.T) {
	a := NewAppLeases(4)
	a.Record("a", mine(0, ownedLeft(1, 10, 1000)), ms(0), ms(5))
	a.Record("b", mine(0, ownedLeft(1, 11, 1000)), ms(900), ms(950))
	a.Record("b", mine(0), ms(1100), ms(1110))
	a.Record("b", mine(0, ownedLeft(1, 11, 1000)), ms(1200), ms(1210))
	v := a.Violations()
	if len(v) != 2 {
		t.Fatalf("violations %q, want b's overlap with a, then b's token shown again", v)
	}
	if want := "partition 1: the app of a worked on token 10 until " + ms(1000).Format("15:04:05.000") +
		", the app of b on token 11 from " + ms(950).Format("15:04:05.000") + " (overlap 50ms)"; v[0] != want {
		t.Errorf("got %q\nwant %q", v[0], want)
	}
	if !strings.HasPrefix(v[1], "apps: dropped grant held again on p1: b p1 token 11") {
		t.Errorf("got %q, want b's relisting", v[1])
	}
	if got := a.Grants(); got != 3 {
		t.Errorf("Grants() = %d, want 3 (a's, and b's twice)", got)
	}
}
