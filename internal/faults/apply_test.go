package faults

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// recorder is a Target that writes down every call.
type recorder struct{ calls []string }

func (r *recorder) add(format string, args ...any) {
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

func (r *recorder) SetDrop(from, to string, f float64) { r.add("drop %s->%s %.1f", from, to, f) }
func (r *recorder) Cut(from, to string)                { r.add("cut %s->%s", from, to) }
func (r *recorder) SetDelay(from, to string, lo, hi time.Duration) {
	r.add("delay %s->%s [%v, %v]", from, to, lo, hi)
}
func (r *recorder) Partition(groups ...[]string)   { r.add("partition %v", groups) }
func (r *recorder) Isolate(name string)            { r.add("isolate %s", name) }
func (r *recorder) Heal()                          { r.add("heal") }
func (r *recorder) Pause(name string)              { r.add("pause %s", name) }
func (r *recorder) Resume(name string)             { r.add("resume %s", name) }
func (r *recorder) Crash(name string)              { r.add("crash %s", name) }
func (r *recorder) Restart(name string, keep bool) { r.add("restart %s keep=%t", name, keep) }
func (r *recorder) SetDrift(name string, rate float64) {
	r.add("drift %s %+.2f", name, rate)
}

var _ Target = (*recorder)(nil)

// Apply gives every fault one meaning for every Target; in particular a
// Drop without To loses messages both ways on every link of its member, a
// Delay without To delays only what its member sends, and a Reboot is a
// crash and a restart with the persisted state.
func TestApply(t *testing.T) {
	abc := []string{"a", "b", "c"}
	cases := []struct {
		f    Fault
		want []string
	}{
		{Fault{Kind: Pause, Member: "a"}, []string{"pause a"}},
		{Fault{Kind: Resume, Member: "a"}, []string{"resume a"}},
		{Fault{Kind: Crash, Member: "b"}, []string{"crash b"}},
		{Fault{Kind: Restart, Member: "b"}, []string{"restart b keep=true"}},
		{Fault{Kind: RestartDiskless, Member: "b"}, []string{"restart b keep=false"}},
		{Fault{Kind: Reboot, Member: "c"}, []string{"crash c", "restart c keep=true"}},
		{Fault{Kind: Partition, Groups: [][]string{{"a"}, {"b", "c"}}}, []string{"partition [[a] [b c]]"}},
		{Fault{Kind: Isolate, Member: "a"}, []string{"isolate a"}},
		{Fault{Kind: Cut, From: "a", To: "b"}, []string{"cut a->b"}},
		{Fault{Kind: Drop, From: "a", To: "b", Fraction: 0.5}, []string{"drop a->b 0.5"}},
		{Fault{Kind: Drop, Member: "b", Fraction: 0.5},
			[]string{"drop b->a 0.5", "drop a->b 0.5", "drop b->c 0.5", "drop c->b 0.5"}},
		{Fault{Kind: Delay, From: "c", To: "a", MaxDelay: time.Second}, []string{"delay c->a [0s, 1s]"}},
		{Fault{Kind: Delay, Member: "b", MaxDelay: time.Second},
			[]string{"delay b->a [0s, 1s]", "delay b->c [0s, 1s]"}},
		{Fault{Kind: Drift, Member: "a", Rate: 0.01}, []string{"drift a +0.01"}},
		{Fault{Kind: Heal}, []string{"heal"}},
	}
	for _, tc := range cases {
		t.Run(tc.f.String(), func(t *testing.T) {
			var r recorder
			Apply(&r, tc.f, abc)
			if !slices.Equal(r.calls, tc.want) {
				t.Fatalf("Apply(%v) called %q, want %q", tc.f, r.calls, tc.want)
			}
		})
	}
}

func TestApplyUnknownKindPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Apply of an unknown kind did not panic")
		}
	}()
	Apply(&recorder{}, Fault{Kind: Kind(99)}, nil)
}
