package faults

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

var members = []string{"a", "b", "c", "d", "e"}

var every = []Kind{Pause, Resume, Crash, Restart, RestartDiskless, Reboot, Partition, Isolate, Cut, Drop, Delay, Drift, Heal}

// procs is a State: the members paused and crashed so far.
type procs struct{ paused, crashed map[string]bool }

func (p procs) Paused(n string) bool  { return p.paused[n] }
func (p procs) Crashed(n string) bool { return p.crashed[n] }

func draw(seed uint64, n int) []Fault {
	g := NewGenerator(rand.New(rand.NewPCG(seed, 1)), members, every...)
	st := procs{map[string]bool{}, map[string]bool{}}
	var out []Fault
	for range n {
		f := g.Next(st)
		switch f.Kind {
		case Pause:
			st.paused[f.Member] = true
		case Resume:
			delete(st.paused, f.Member)
		case Crash:
			st.crashed[f.Member] = true
		case Restart, RestartDiskless:
			delete(st.crashed, f.Member)
		}
		out = append(out, f)
	}
	return out
}

func TestSameSeedSameFaults(t *testing.T) {
	if a, b := draw(7, 200), draw(7, 200); !reflect.DeepEqual(a, b) {
		t.Fatal("two generators with one seed drew different faults")
	}
	if a, b := draw(7, 200), draw(8, 200); reflect.DeepEqual(a, b) {
		t.Fatal("two seeds drew the same faults")
	}
}

// Every fault is well-formed and acts on a member in the right state.
func TestFaultsFitTheMembers(t *testing.T) {
	g := NewGenerator(rand.New(rand.NewPCG(3, 1)), members, every...)
	st := procs{map[string]bool{}, map[string]bool{}}
	seen := map[Kind]bool{}
	for i := range 2000 {
		f := g.Next(st)
		seen[f.Kind] = true
		running := !st.paused[f.Member] && !st.crashed[f.Member]
		switch f.Kind {
		case Pause, Crash, Reboot:
			if !running {
				t.Fatalf("draw %d: %v of a member that does not run", i, f)
			}
			switch f.Kind {
			case Pause:
				st.paused[f.Member] = true
			case Crash:
				st.crashed[f.Member] = true
			}
		case Resume:
			if !st.paused[f.Member] {
				t.Fatalf("draw %d: %v of a member not paused", i, f)
			}
			delete(st.paused, f.Member)
		case Restart, RestartDiskless:
			if !st.crashed[f.Member] {
				t.Fatalf("draw %d: %v of a member not crashed", i, f)
			}
			delete(st.crashed, f.Member)
		case Partition:
			if !splitsAll(f.Groups, members) || len(f.Groups) < 2 || len(f.Groups) > g.MaxGroups {
				t.Fatalf("draw %d: %v does not split every member once into 2..%d groups", i, f, g.MaxGroups)
			}
		case Cut:
			if f.From == f.To || f.From == "" {
				t.Fatalf("draw %d: %v is not a link between two members", i, f)
			}
		case Drop, Delay:
			if (f.To == "") != (f.Member != "") || (f.To != "" && f.From == f.To) {
				t.Fatalf("draw %d: %v is neither a link nor a member", i, f)
			}
			if f.Kind == Drop && (f.Fraction < g.MinDrop || f.Fraction > g.MaxDrop) {
				t.Fatalf("draw %d: %v outside [%v, %v]", i, f, g.MinDrop, g.MaxDrop)
			}
			if f.Kind == Delay && (f.MaxDelay < 0 || f.MaxDelay >= g.MaxDelay) {
				t.Fatalf("draw %d: %v outside [0, %v)", i, f, g.MaxDelay)
			}
		case Drift:
			if f.Rate < -g.MaxRate || f.Rate > g.MaxRate {
				t.Fatalf("draw %d: %v beyond ±%v", i, f, g.MaxRate)
			}
		}
		if f.String() == "" {
			t.Fatalf("draw %d: %#v has no description", i, f)
		}
	}
	for _, k := range every {
		if !seen[k] {
			t.Errorf("%v never drawn in 2000 draws", k)
		}
	}
}

// splitsAll reports whether groups hold every member exactly once, each
// group at least one.
func splitsAll(groups [][]string, members []string) bool {
	var all []string
	for _, grp := range groups {
		if len(grp) == 0 {
			return false
		}
		all = append(all, grp...)
	}
	slices.Sort(all)
	return slices.Equal(all, slices.Sorted(slices.Values(members)))
}

// Every side of a partition has a member, however few members there are to
// split: a partition with an empty side would change nothing.
func TestPartitionSidesAreNotEmpty(t *testing.T) {
	for n := 2; n <= 4; n++ {
		for _, maxGroups := range []int{2, 3, 5} {
			g := NewGenerator(rand.New(rand.NewPCG(uint64(n), 1)), members[:n], Partition)
			g.MaxGroups = maxGroups
			sides := map[int]bool{}
			for i := range 500 {
				f := g.Next(nil)
				if !splitsAll(f.Groups, members[:n]) || len(f.Groups) < 2 || len(f.Groups) > min(maxGroups, n) {
					t.Fatalf("%d members, MaxGroups %d, draw %d: %v", n, maxGroups, i, f)
				}
				sides[len(f.Groups)] = true
			}
			if len(sides) != min(maxGroups, n)-1 {
				t.Errorf("%d members, MaxGroups %d: drew %v sides, want every count in 2..%d", n, maxGroups, sides, min(maxGroups, n))
			}
		}
	}
}

// A single member cannot be partitioned: Next falls back to Heal.
func TestNoPartitionOfOneMember(t *testing.T) {
	g := NewGenerator(rand.New(rand.NewPCG(1, 1)), members[:1], Partition)
	if f := g.Next(nil); f.Kind != Heal {
		t.Fatalf("got %v, want heal", f)
	}
}

// With nothing paused or crashed, a generator of resumes and restarts only
// has Heal to offer.
func TestNothingToDoIsHeal(t *testing.T) {
	g := NewGenerator(rand.New(rand.NewPCG(1, 1)), members, Resume, Restart)
	if f := g.Next(nil); f.Kind != Heal {
		t.Fatalf("got %v, want heal", f)
	}
}
