package core

import (
	"testing"
	"time"

	"github.com/ringd/ringd/partitions"
)

// The tracker's clock: a term elected at testElected whose safe wait ends 3 s later;
// a renewed lease surely ends 2 s after its renewal.
var (
	testElected   = time.Unix(1_000, 0)
	testSafeWait  = 3 * time.Second
	testLeaseSafe = 2 * time.Second
)

func newTestHolders() holderTracker {
	return newHolderTracker(testElected.Add(testSafeWait), testLeaseSafe)
}

func after(d time.Duration) time.Time { return testElected.Add(d) }

func testReport(inc, seq uint64, applied partitions.TableID, items ...partitions.Holding) partitions.Report {
	return partitions.Report{Incarnation: inc, Seq: seq, Applied: applied, Items: items}
}

func ownedHolding(p int, token uint64) partitions.Holding {
	return partitions.Holding{ID: p, Token: token, State: partitions.Owned}
}

func TestMayHoldUnheardProcessUntilSafeWaitEnds(t *testing.T) {
	ht := newTestHolders()
	k := holderKey{"a", 1}
	if !ht.mayHold(after(testSafeWait-time.Millisecond), k, 0) {
		t.Error("a process never heard from in this term may hold p until the safe wait ends")
	}
	if ht.mayHold(after(testSafeWait), k, 0) {
		t.Error("a process never heard from still holds p after the safe wait")
	}
	if !ht.mayHoldAnything(after(testSafeWait-time.Millisecond), k) {
		t.Error("a process never heard from may hold anything until the safe wait ends")
	}
	if ht.mayHoldAnything(after(testSafeWait), k) {
		t.Error("a process never heard from holds something after the safe wait (alive to gossip or not: this leader never renewed it)")
	}
}

func TestMayHoldRenewedProcess(t *testing.T) {
	ht := newTestHolders()
	k := holderKey{"a", 1}
	renewedAt := after(testSafeWait + time.Second)
	ht.renew(k, renewedAt, 5)
	// Not reported yet: it may hold anything while its lease may run.
	if !ht.mayHold(renewedAt.Add(testLeaseSafe-time.Millisecond), k, 3) {
		t.Error("renewed, not reported: may hold any partition until its lease surely ended")
	}
	if ht.mayHold(renewedAt.Add(testLeaseSafe), k, 3) {
		t.Error("renewed, not reported: still holds after its lease surely ended")
	}
	// Reported: only what it reported.
	ht.report("a", testReport(1, 1, partitions.TableID{}, ownedHolding(2, 1001)))
	if ht.mayHold(renewedAt, k, 3) || !ht.mayHold(renewedAt, k, 2) {
		t.Error("a reported process may hold exactly what it reported")
	}
	if got := ht.heldUntil(ht.views[k]); !got.Equal(renewedAt.Add(testLeaseSafe)) {
		t.Errorf("heldUntil %v, want %v", got, renewedAt.Add(testLeaseSafe))
	}
	// A renewal during the safe wait ends no earlier than the wait.
	early := holderKey{"b", 1}
	ht.renew(early, after(0), 1)
	if got := ht.heldUntil(ht.views[early]); !got.Equal(after(testSafeWait)) {
		t.Errorf("heldUntil of an early renewal %v, want the end of the safe wait %v", got, after(testSafeWait))
	}
	if renewed, seq, known := ht.heartbeatFields(k); renewed != 5 || seq != 1 || !known {
		t.Errorf("heartbeatFields = %d, %d, %v; want 5, 1, true", renewed, seq, known)
	}
	if renewed, seq, known := ht.heartbeatFields(holderKey{"c", 1}); renewed != 0 || seq != 0 || known {
		t.Errorf("heartbeatFields of an unknown process = %d, %d, %v; want zeros", renewed, seq, known)
	}
}

func TestReportsOlderBySequenceAreIgnored(t *testing.T) {
	ht := newTestHolders()
	k := holderKey{"a", 1}
	v1, v2 := partitions.TableID{Term: 9, Version: 1}, partitions.TableID{Term: 9, Version: 2}
	ht.report("a", testReport(1, 4, v1))
	ht.report("a", testReport(1, 3, v2, ownedHolding(0, 9001))) // older holdings
	if ht.mayHold(after(time.Second), k, 0) {
		t.Error("an older report replaced a newer one")
	}
	if h := ht.views[k]; h.applied != v1 {
		t.Errorf("applied %v after an older report, want %v", h.applied, v1)
	}
	// The same holdings written after applying a newer table: the newer
	// table counts (it proves releases).
	ht.report("a", testReport(1, 4, v2))
	if h := ht.views[k]; h.applied != v2 {
		t.Errorf("applied %v after the same report of a newer table, want %v", h.applied, v2)
	}
}

func TestReleasedBy(t *testing.T) {
	k := holderKey{"a", 1}
	listed := partitions.TableID{Term: 9, Version: 5}
	older := partitions.TableID{Term: 9, Version: 4}
	for _, tc := range []struct {
		name string
		// reports in order; none: never reported.
		reports []partitions.Report
		// ackTable, when set, is applied by an ack with the report's seq.
		ackTable partitions.TableID
		want     bool
	}{
		{name: "never reported"},
		{name: "report predates the listing", reports: []partitions.Report{testReport(1, 1, older)}},
		{name: "still holds it", reports: []partitions.Report{testReport(1, 1, listed, ownedHolding(0, 9001))}},
		{name: "let go after the listing", reports: []partitions.Report{testReport(1, 1, listed)}, want: true},
		{name: "holds another token", reports: []partitions.Report{testReport(1, 1, listed, ownedHolding(0, 8001))}, want: true},
		{name: "ack of the listing with unchanged holdings", reports: []partitions.Report{testReport(1, 1, older)},
			ackTable: listed, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ht := newTestHolders()
			for _, r := range tc.reports {
				ht.report("a", r)
			}
			if tc.ackTable != (partitions.TableID{}) {
				ht.appliedTable(k, 1, tc.ackTable)
			}
			if got := ht.releasedBy(k, 0, 9001, listed); got != tc.want {
				t.Errorf("releasedBy = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAckWithOtherHoldingsProvesNothing(t *testing.T) {
	ht := newTestHolders()
	k := holderKey{"a", 1}
	v1, v2 := partitions.TableID{Term: 9, Version: 1}, partitions.TableID{Term: 9, Version: 2}
	ht.report("a", testReport(1, 1, v1, ownedHolding(0, 9001)))
	ht.appliedTable(k, 2, v2) // holdings changed since: the report is stale
	if h := ht.views[k]; h.applied != v1 {
		t.Errorf("applied %v after an ack of other holdings, want %v", h.applied, v1)
	}
}

func TestOthersMayHoldSkipsGrantee(t *testing.T) {
	ht := newTestHolders()
	now := after(testSafeWait + time.Second)
	ht.renew(holderKey{"a", 1}, now, 1)
	ht.report("a", testReport(1, 1, partitions.TableID{}, ownedHolding(0, 9001)))
	ht.renew(holderKey{"b", 1}, now, 1)
	ht.report("b", testReport(1, 1, partitions.TableID{}))
	if ht.othersMayHold(now, 0, holderKey{"a", 1}) {
		t.Error("the grantee's own holding blocks its grant")
	}
	if !ht.othersMayHold(now, 0, holderKey{"b", 1}) {
		t.Error("a holds partition 0, yet it may go to b")
	}
	if ht.othersMayHold(now.Add(testLeaseSafe), 0, holderKey{"b", 1}) {
		t.Error("a's lease surely ended, yet it blocks the grant")
	}
	if !ht.mayHoldAnything(now, holderKey{"a", 1}) || ht.mayHoldAnything(now.Add(testLeaseSafe), holderKey{"a", 1}) {
		t.Error("mayHoldAnything of a reported process follows its lease, not gossip")
	}
}
