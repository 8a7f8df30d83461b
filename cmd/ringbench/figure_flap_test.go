package main

import (
	"strings"
	"testing"

	"github.com/ringd/ringd/clientlib/api"
)

// flapTable builds a table of version v whose partition p is owned by the
// member named by owners[p] ('-' for nobody).
func flapTable(v uint64, leader, owners string) api.Table {
	t := api.Table{Term: 1, TableVersion: v, Leader: leader}
	for p, o := range strings.Split(owners, " ") {
		e := api.Entry{ID: p, Owner: o, State: "owned"}
		if o == "-" {
			e.Owner, e.State = "", ""
		}
		t.Partitions = append(t.Partitions, e)
	}
	return t
}

func TestAnalyseFlap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tables []api.Table
		want   flapResult
	}{
		{"nothing happens", []api.Table{flapTable(1, "a", "a f b"), flapTable(2, "a", "a f b")},
			flapResult{FinalShare: 1}},
		{"held out after failing once", []api.Table{
			flapTable(1, "a", "a f f b"),
			flapTable(2, "a", "a - - b"), // freed
			flapTable(3, "a", "a a b b"), // granted elsewhere: the same change
		}, flapResult{Changes: 1, Versions: 1, Moves: 2}},
		{"back once, then gone again", []api.Table{
			flapTable(1, "a", "a f f b"),
			flapTable(2, "a", "a a b b"),
			flapTable(3, "a", "a f b b"), // back over two versions
			flapTable(4, "a", "a f f b"),
			flapTable(5, "", "a f f b"),  // a member that knows no leader
			flapTable(6, "b", "a a b b"), // and gone, under a new leader
		}, flapResult{Changes: 3, Versions: 4, BackAndForth: 2, Moves: 6, LeaderChanges: 1}},
		{"a leader re-elected is an election, not a change of leader", []api.Table{
			flapTable(1, "a", "a f"),
			{Term: 2, TableVersion: 1, Leader: "a", Partitions: flapTable(1, "a", "a f").Partitions},
		}, flapResult{Elections: 1, FinalShare: 1}},
		{"a stable member's partition moving twice is not the flaky member's doing", []api.Table{
			flapTable(1, "a", "a b f"),
			flapTable(2, "a", "b b f"),
			flapTable(3, "a", "a b f"),
		}, flapResult{Moves: 2, FinalShare: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := analyseFlap(tc.tables, "f"); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTableRecorderOrdersAndDeduplicates(t *testing.T) {
	var r tableRecorder
	for _, tt := range []api.Table{flapTable(3, "a", "a"), flapTable(1, "a", "a"), flapTable(3, "a", "a"),
		{Term: 2, TableVersion: 1, Partitions: []api.Entry{{}}}} {
		r.add(tt)
	}
	var got []uint64
	for _, tt := range r.tables() {
		got = append(got, tt.Term*100+tt.TableVersion)
	}
	if want := []uint64{101, 103, 201}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("tables in order %v, want %v", got, want)
	}
}
