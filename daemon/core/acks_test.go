package core

import (
	"testing"
	"time"

	"github.com/ringd/ringd/partitions"
)

func TestAckTrackerResponsive(t *testing.T) {
	elected := time.Unix(10_000, 0)
	lease := 2 * time.Second
	a := newAckTracker(elected, 9, "self", memberTable{"known": &memberState{}})
	a.ack(elected.Add(5*time.Second), "acked", el("acked"), partitions.TableID{})
	for _, tc := range []struct {
		name string
		at   time.Duration
		want bool
	}{
		{"self", time.Hour, true},
		// Known at the election: a lease's grace, as if it had just acked.
		{"known", lease - time.Millisecond, true},
		{"known", lease, false},
		// Unknown at the election: counted from the election too.
		{"unknown", lease - time.Millisecond, true},
		{"unknown", lease, false},
		{"acked", 5*time.Second + lease - time.Millisecond, true},
		{"acked", 5*time.Second + lease, false},
	} {
		if got := a.responsive(elected.Add(tc.at), tc.name, lease); got != tc.want {
			t.Errorf("responsive(%v after the election, %s) = %v, want %v", tc.at, tc.name, got, tc.want)
		}
	}
}

func TestAckTrackerCountsPerIdentity(t *testing.T) {
	elected := time.Unix(10_000, 0)
	a := newAckTracker(elected, 9, "self", memberTable{})
	now := elected.Add(30 * time.Second)
	a.ack(now, "m1", ElectionName("m1", 2), partitions.TableID{Term: 9, Version: 4})
	if a.heardWithin(now, ElectionName("m1", 1), time.Second) {
		t.Error("an ack under identity 2 counts for identity 1")
	}
	if !a.heardWithin(now, ElectionName("m1", 2), time.Second) {
		t.Error("an ack under identity 2 does not count for it")
	}
	if got := a.appliedBy(ElectionName("m1", 1)); got != (partitions.TableID{}) {
		t.Errorf("identity 1 applied %v, want nothing", got)
	}
	if got := a.silentFor(now, ElectionName("m1", 1)); got != 30*time.Second {
		t.Errorf("identity 1 silent for %v, want since the election (30s)", got)
	}
	if got := a.silentFor(now.Add(time.Second), ElectionName("m1", 2)); got != time.Second {
		t.Errorf("identity 2 silent for %v, want 1s", got)
	}
	// A newer table of this term counts, an older one or another term's
	// does not replace it.
	a.ack(now, "m1", ElectionName("m1", 2), partitions.TableID{Term: 9, Version: 3})
	a.ack(now, "m1", ElectionName("m1", 2), partitions.TableID{Term: 8, Version: 99})
	if got := a.appliedBy(ElectionName("m1", 2)); got != (partitions.TableID{Term: 9, Version: 4}) {
		t.Errorf("applied %v, want 9.4", got)
	}
}
