package procluster

import (
	"slices"
	"strings"
	"testing"

	"github.com/ringd/ringd/clientlib/api"
)

// view fabricates a member's GET /partitions/mine listing ids as owned, except
// those wrapped in releasing(id). Other negative ids are listed as they are.
func view(node, leader string, ids ...int) api.Mine {
	v := api.Mine{Node: node, Leader: leader, Index: 1, Term: 1, LeaseRemainingMs: 1000, Partitions: []api.Partition{}}
	for _, id := range ids {
		state := "owned"
		if id <= -1000 {
			id, state = -(id + 1000), "releasing"
		}
		v.Partitions = append(v.Partitions, api.Partition{ID: id, Token: uint64(id + 1), State: state})
	}
	return v
}

// releasing marks id as releasing for view.
func releasing(id int) int { return -(id + 1000) }

func TestOwnersMissing(t *testing.T) {
	s := Snapshot{
		"a": view("a", "a", 0, 2, 3),
		"b": view("b", "a", 1, 3, releasing(5)),
		"c": view("c", "a", 3, 6, 6),
	}
	owners := Owners(s)
	if got := owners[3]; !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("owners of 3 = %v", got)
	}
	if got := owners[5]; !slices.Equal(got, []string{"b"}) {
		t.Errorf("owners of 5 (releasing) = %v, want [b]", got)
	}
	if got := owners[6]; !slices.Equal(got, []string{"c", "c"}) {
		t.Errorf("owners of 6 = %v, want c twice", got)
	}
	if got := Missing(s, 8); !slices.Equal(got, []int{4, 7}) {
		t.Errorf("Missing = %v, want [4 7]", got)
	}
	if got := Missing(Snapshot{}, 3); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("Missing of nothing = %v", got)
	}
}

func TestCheckCoverage(t *testing.T) {
	full := Snapshot{
		"a": view("a", "a", 0, 3),
		"b": view("b", "a", 1, releasing(4)),
		"c": view("c", "a", 2, 5),
	}
	tests := []struct {
		name    string
		s       Snapshot
		members []string
		want    string // "" for no error, else a part of the error
	}{
		{"disjoint and full", full, nil, ""},
		{"releasing counts as listed", full, []string{"a", "b", "c"}, ""},
		{"a partition nobody lists", Snapshot{"a": view("a", "a", 0, 3), "b": view("b", "a", 1, 4), "c": view("c", "a", 2)},
			nil, "1 partitions listed by nobody: [5]"},
		{"two members list one", Snapshot{"a": view("a", "a", 0, 3, 4), "b": view("b", "a", 1, releasing(4)), "c": view("c", "a", 2, 5)},
			nil, "partition 4 listed by a and b"},
		{"one member lists one twice", Snapshot{"a": view("a", "a", 0, 3, 3), "b": view("b", "a", 1, 4), "c": view("c", "a", 2, 5)},
			nil, "partition 3 listed by a and a"},
		{"id out of range", Snapshot{"a": view("a", "a", 0, 3, 6), "b": view("b", "a", 1, 4), "c": view("c", "a", 2, 5)},
			nil, "a lists partition 6, outside 0..5"},
		{"negative id", Snapshot{"a": view("a", "a", 0, 3, -1), "b": view("b", "a", 1, 4), "c": view("c", "a", 2, 5)},
			nil, "a lists partition -1"},
		{"a member without a view", full, []string{"a", "b", "c", "d"}, "no view from d"},
		{"a view from another node", Snapshot{"a": view("b", "a", 0, 3), "b": view("b", "a", 1, 4), "c": view("c", "a", 2, 5)},
			nil, `a answers as "b"`},
		{"only the given members count", full, []string{"a", "c"}, "listed by nobody: [1 4]"},
		{"views of others are ignored", Snapshot{"a": view("a", "a", 0, 1, 2), "b": view("b", "a", 3, 4, 5), "x": view("x", "a", 0, 1)},
			[]string{"a", "b"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCoverage(tt.s, tt.members, 6)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckCoverage = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckCoverage = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestCheckAgreementAndLeader(t *testing.T) {
	tests := []struct {
		name    string
		s       Snapshot
		members []string
		leader  string
		want    string
	}{
		{"agree", Snapshot{"a": view("a", "b", 0, 1), "b": view("b", "b", 2, 3)}, nil, "b", ""},
		{"leaders differ", Snapshot{"a": view("a", "a", 0, 1), "b": view("b", "b", 2, 3)}, nil, "", "no common leader"},
		{"a member without a leader", Snapshot{"a": view("a", "", 0, 1), "b": view("b", "b", 2, 3)}, nil, "", `a→""`},
		{"leader not among the members", Snapshot{"a": view("a", "z", 0, 1), "b": view("b", "z", 2, 3)}, nil, "z", "leader z is not one of a, b"},
		{"coverage still checked", Snapshot{"a": view("a", "a", 0), "b": view("b", "a", 2, 3)}, nil, "a", "listed by nobody: [1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Leader(tt.s); got != tt.leader {
				t.Errorf("Leader = %q, want %q", got, tt.leader)
			}
			err := CheckAgreement(tt.s, tt.members, 4)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckAgreement = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckAgreement = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestMoved(t *testing.T) {
	before := Snapshot{"a": view("a", "a", 0, 1, 2), "b": view("b", "a", 3, 4, 5)}
	// c joins and takes 2 and 5; 4 is releasing on b (still b's).
	after := Snapshot{"a": view("a", "a", 0, 1), "b": view("b", "a", 3, releasing(4)), "c": view("c", "a", 2, 5)}
	if got := Moved(before, after, 6); !slices.Equal(got, []int{2, 5}) {
		t.Errorf("Moved = %v, want [2 5]", got)
	}
	if got := Moved(before, before, 6); len(got) != 0 {
		t.Errorf("Moved to itself = %v", got)
	}
	// Listed twice or by nobody is "no owner": it moved unless it was so before too.
	odd := Snapshot{"a": view("a", "a", 0, 1, 3), "b": view("b", "a", 3, 4, 5)}
	if got := Moved(before, odd, 6); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("Moved to a snapshot with a gap and a double = %v, want [2 3]", got)
	}
	if got := Moved(odd, odd, 6); len(got) != 0 {
		t.Errorf("Moved between equal odd snapshots = %v", got)
	}
}

func TestFingerprintIgnoresOrderButNotState(t *testing.T) {
	a := Snapshot{"a": view("a", "a", 2, 0, 1)}
	b := Snapshot{"a": view("a", "a", 0, 1, 2)}
	c := Snapshot{"a": view("a", "a", 0, 1, releasing(2))}
	if fingerprint(a) != fingerprint(b) {
		t.Errorf("order changes the fingerprint: %q vs %q", fingerprint(a), fingerprint(b))
	}
	if fingerprint(b) == fingerprint(c) {
		t.Errorf("a state change keeps the fingerprint %q", fingerprint(b))
	}
	d := Snapshot{"a": view("a", "b", 0, 1, 2)}
	if fingerprint(b) == fingerprint(d) {
		t.Errorf("a leader change keeps the fingerprint %q", fingerprint(b))
	}
	// The snapshot itself is left as it was.
	if ids := []int{a["a"].Partitions[0].ID, a["a"].Partitions[1].ID}; !slices.Equal(ids, []int{2, 0}) {
		t.Errorf("fingerprint reordered the view: %v", ids)
	}
}
