package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/partitions"
)

func TestCountCoverage(t *testing.T) {
	covered, doubles := countCoverage(5, [][]int{{0, 1}, {1, 2}, {4, 9, -1}, nil})
	if covered != 3 || doubles != 1 {
		t.Errorf("covered %d, doubles %d; want 3 (0, 2, 4) and 1 (1)", covered, doubles)
	}
}

// TestTableSpreads: a table's spread runs from its first application to the
// last member applying it or a newer table; a member that skipped it for a
// newer one counts at that one; a member that started after it was
// published does not count; a member that never caught up makes it late.
func TestTableSpreads(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	id := func(v uint64) partitions.TableID { return partitions.TableID{Term: 9, Version: v} }
	table := func(v uint64, members ...string) partitions.Table {
		return partitions.Table{ID: id(v), Members: members, Partitions: make([]partitions.Entry, 4)}
	}
	l := newTableLog()
	l.applied("a", table(1, "a", "b"), at(0)) // leader publishes v1 ...
	l.applied("b", table(1, "a", "b"), at(40))
	l.applied("c", table(1, "a", "b"), at(70))
	l.applied("a", table(2, "a", "b", "c"), at(100)) // ... and v2, admitting c
	l.applied("c", table(2, "a", "b", "c"), at(130))
	l.applied("a", table(3, "a", "b", "c"), at(200))
	l.applied("b", table(3, "a", "b", "c"), at(350)) // b skipped v2
	l.applied("d", table(3, "a", "b", "c"), at(360)) // d started after v1, v2
	l.applied("c", table(3, "a", "b", "c"), at(400))
	l.applied("a", table(4, "a", "b", "c"), at(500)) // nobody else got v4
	l.applied("x", partitions.Table{}, at(10))       // no table yet: ignored

	if got, ok := l.firstListing("c"); !ok || got != id(2) {
		t.Errorf("first table listing c: %v, %v; want %v", got, ok, id(2))
	}
	if _, ok := l.firstListing("z"); ok {
		t.Error("found a table listing a member no table lists")
	}
	if d, ok := l.spread(id(2), []string{"a", "b", "c"}); !ok || d != 250*time.Millisecond {
		t.Errorf("spread of v2: %v, %v; want 250ms (b applied v3 at 350)", d, ok)
	}
	if _, ok := l.spread(id(4), []string{"a", "b", "c"}); ok {
		t.Error("v4 counted as everywhere though only its leader applied it")
	}
	took, late := l.spreads(at(100), []string{"a", "b", "c", "d"})
	want := []time.Duration{250 * time.Millisecond, 200 * time.Millisecond}
	if late != 1 || len(took) != len(want) || took[0] != want[0] || took[1] != want[1] {
		t.Errorf("spreads from v2: %v with %d late; want %v (v2, v3; d, which started after both were published, is left out) and 1 late (v4)", took, late, want)
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tringbench\nVmPeak:\t 2000 kB\nVmRSS:\t    1536 kB\nThreads:\t9\n"
	got, err := parseVmRSS(strings.NewReader(status))
	if err != nil || got != 1536<<10 {
		t.Errorf("parseVmRSS = %d, %v; want %d", got, err, 1536<<10)
	}
	if _, err := parseVmRSS(strings.NewReader("Name:\tx\n")); err == nil {
		t.Error("no error without a VmRSS line")
	}
}
