package faults

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

var members = []string{"a", "b", "c", "d", "e"}

var every = []Kind{Pause, Resume, Crash, Restart, RestartDiskless, Partition, Isolate, Cut, Drop, Delay, Drift, Heal}

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
		case Pause, Crash:
			if !running {
				t.Fatalf("draw %d: %v of a member that does not run", i, f)
			}
			if f.Kind == Pause {
				st.paused[f.Member] = true
			} else {
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
			var all []string
			for _, grp := range f.Groups {
				all = append(all, grp...)
			}
			slices.Sort(all)
			if len(f.Groups) < 2 || len(f.Groups) > g.MaxGroups || !slices.Equal(all, members) {
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

// With nothing paused or crashed, a generator of resumes and restarts only
// has Heal to offer.
func TestNothingToDoIsHeal(t *testing.T) {
	g := NewGenerator(rand.New(rand.NewPCG(1, 1)), members, Resume, Restart)
	if f := g.Next(nil); f.Kind != Heal {
		t.Fatalf("got %v, want heal", f)
	}
}
