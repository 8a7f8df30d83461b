package simnet

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

// newNet returns a network with the given nodes.
func newNet(seed int64, names ...string) *Network[int] {
	n := New[int](seed)
	for _, name := range names {
		n.AddNode(name)
	}
	return n
}

// drain advances far enough for everything in flight to arrive.
func drain[M any](n *Network[M]) []Delivery[M] {
	return n.Advance(n.Now().Add(time.Hour))
}

func msgs[M any](ds []Delivery[M]) []M {
	out := make([]M, len(ds))
	for i, d := range ds {
		out[i] = d.Msg
	}
	return out
}

// trace renders deliveries so that runs can be compared.
func trace[M any](ds []Delivery[M]) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s>%s:%v@%d\n", d.From, d.To, d.Msg, d.At.Sub(epoch))
	}
	return b.String()
}

// chaosRun drives a network through a workload whose timing comes from the
// harness Rand, with random delays and drops, and returns the deliveries.
func chaosRun(seed int64) string {
	names := []string{"a", "b", "c"}
	n := newNet(seed, names...)
	n.SetDefaultDelay(1*ms, 40*ms)
	n.SetDrop("a", "b", 0.2)
	n.SetDrop("c", "a", 0.5)
	n.SetDelay("b", "c", 0, 100*ms)
	r := n.Rand()
	var all []Delivery[int]
	for i := range 2000 {
		from, to := names[r.IntN(3)], names[r.IntN(3)]
		n.Send(from, to, i)
		if r.IntN(4) == 0 {
			all = append(all, n.Advance(n.Now().Add(time.Duration(r.IntN(20))*ms))...)
		}
	}
	all = append(all, drain(n)...)
	return trace(all)
}

func TestDeterminism(t *testing.T) {
	first := chaosRun(42)
	if first == "" {
		t.Fatal("workload delivered nothing")
	}
	if again := chaosRun(42); again != first {
		t.Fatal("same seed and same calls gave different deliveries")
	}
	if other := chaosRun(43); other == first {
		t.Fatal("different seeds gave identical deliveries despite random delays and drops")
	}
}

func TestRandomDelayReorders(t *testing.T) {
	reordered, kept := 0, 0
	for seed := range int64(200) {
		n := newNet(seed, "a", "b")
		n.SetDelay("a", "b", 0, 10*ms)
		n.Send("a", "b", 1)
		n.Send("a", "b", 2)
		got := msgs(drain(n))
		switch {
		case slices.Equal(got, []int{2, 1}):
			reordered++
		case slices.Equal(got, []int{1, 2}):
			kept++
		default:
			t.Fatalf("seed %d: got %v, want both messages", seed, got)
		}
	}
	if reordered == 0 || kept == 0 {
		t.Fatalf("over 200 seeds: %d reordered, %d in order; want some of each", reordered, kept)
	}
}

func TestFixedDelayKeepsOrder(t *testing.T) {
	for _, delay := range []time.Duration{0, 5 * ms} {
		t.Run(delay.String(), func(t *testing.T) {
			n := newNet(1, "a", "b")
			n.SetDefaultDelay(delay, delay)
			want := make([]int, 100)
			for i := range want {
				want[i] = i
				n.Send("a", "b", i)
			}
			if delay > 0 {
				if early := n.Advance(epoch.Add(delay - 1)); len(early) != 0 {
					t.Fatalf("%d messages delivered before their delay", len(early))
				}
			}
			ds := n.Advance(epoch.Add(delay))
			if got := msgs(ds); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for _, d := range ds {
				if !d.At.Equal(epoch.Add(delay)) {
					t.Fatalf("delivered at %v, want %v", d.At, epoch.Add(delay))
				}
			}
		})
	}
}

// TestDeliveryOrder checks Advance against a plain sort: every batch comes in
// (due time, send order), nothing is early, nothing is lost, and every delay
// lies in its range.
func TestDeliveryOrder(t *testing.T) {
	const lo, hi = 3 * ms, 70 * ms
	n := newNet(7, "a", "b", "c")
	n.SetDefaultDelay(lo, hi)
	r := n.Rand()
	sentAt := map[int]time.Time{}
	seen := map[int]bool{}
	next := 0
	for range 300 {
		for range r.IntN(5) {
			sentAt[next] = n.Now()
			n.Send("a", []string{"b", "c"}[r.IntN(2)], next)
			next++
		}
		prevNow := n.Now()
		target := prevNow.Add(time.Duration(r.IntN(30)) * ms)
		ds := n.Advance(target)
		if !n.Now().Equal(target) {
			t.Fatalf("Now() = %v after Advance(%v)", n.Now(), target)
		}
		sorted := slices.IsSortedFunc(ds, func(x, y Delivery[int]) int {
			if c := x.At.Compare(y.At); c != 0 {
				return c
			}
			return x.Msg - y.Msg // messages are numbered in send order
		})
		if !sorted {
			t.Fatalf("batch not in (due, send) order: %s", trace(ds))
		}
		for _, d := range ds {
			if seen[d.Msg] {
				t.Fatalf("message %d delivered twice", d.Msg)
			}
			seen[d.Msg] = true
			delay := d.At.Sub(sentAt[d.Msg])
			if delay < lo || delay > hi {
				t.Fatalf("message %d delayed %v, want within [%v, %v]", d.Msg, delay, lo, hi)
			}
			if d.At.After(target) || !d.At.After(prevNow) {
				t.Fatalf("message %d at %v outside step (%v, %v]", d.Msg, d.At, prevNow, target)
			}
		}
	}
	for _, d := range drain(n) {
		seen[d.Msg] = true
	}
	if len(seen) != next {
		t.Fatalf("delivered %d of %d messages", len(seen), next)
	}
}

// reach reports, for each ordered pair of nodes, whether a message sent now
// gets through.
func reach(n *Network[int], names ...string) map[string]bool {
	got := map[string]bool{}
	i := 0
	sent := map[int]string{}
	for _, from := range names {
		for _, to := range names {
			if from == to {
				continue
			}
			sent[i] = from + to
			n.Send(from, to, i)
			i++
		}
	}
	for _, d := range drain(n) {
		got[sent[d.Msg]] = true
	}
	return got
}

func TestCutIsOneWay(t *testing.T) {
	n := newNet(1, "a", "b")
	n.Cut("a", "b")
	got := reach(n, "a", "b")
	if got["ab"] || !got["ba"] {
		t.Fatalf("after Cut(a, b): a->b %v, b->a %v; want false, true", got["ab"], got["ba"])
	}
	if s := n.Stats(); s.Blocked != 1 {
		t.Fatalf("Blocked = %d, want 1", s.Blocked)
	}
}

func TestInFlightMessagesSurviveCut(t *testing.T) {
	n := newNet(1, "a", "b")
	n.SetDefaultDelay(10*ms, 10*ms)
	n.Send("a", "b", 1)
	n.Cut("a", "b")
	n.Send("a", "b", 2)
	if got := msgs(drain(n)); !slices.Equal(got, []int{1}) {
		t.Fatalf("got %v, want [1]: the message on the wire arrives, the later one does not", got)
	}
}

func TestPartitionAndHeal(t *testing.T) {
	n := newNet(1, "a", "b", "c", "d", "e")
	n.SetDefaultDelay(1*ms, 5*ms)
	n.Partition([]string{"a", "b"}, []string{"c", "d"})
	got := reach(n, "a", "b", "c", "d", "e")
	want := map[string]bool{"ab": true, "ba": true, "cd": true, "dc": true}
	if len(got) != len(want) {
		t.Fatalf("reachable pairs %v, want %v", got, want)
	}
	for pair := range want {
		if !got[pair] {
			t.Fatalf("reachable pairs %v, want %v", got, want)
		}
	}

	// A node added later is in no group: isolated.
	n.AddNode("f")
	if got := reach(n, "a", "f"); len(got) != 0 {
		t.Fatalf("node added after Partition reached: %v", got)
	}

	n.Heal()
	if got := reach(n, "a", "b", "c", "d", "e", "f"); len(got) != 30 {
		t.Fatalf("after Heal %d of 30 pairs reachable: %v", len(got), got)
	}
	// Heal keeps the default delay.
	n.Send("a", "b", 99)
	if ds := n.Advance(n.Now()); len(ds) != 0 {
		t.Fatalf("default delay lost by Heal: delivered %v at once", msgs(ds))
	}
}

func TestIsolateAndSelfLink(t *testing.T) {
	n := newNet(1, "a", "b", "c")
	n.Isolate("a")
	got := reach(n, "a", "b", "c")
	if got["ab"] || got["ba"] || got["ac"] || got["ca"] || !got["bc"] || !got["cb"] {
		t.Fatalf("with a isolated: %v", got)
	}
	n.Send("a", "a", 7)
	if got := msgs(drain(n)); !slices.Equal(got, []int{7}) {
		t.Fatalf("isolated node's message to itself: got %v, want [7]", got)
	}
}

func TestDropFraction(t *testing.T) {
	const sends = 10_000
	for _, frac := range []float64{0, 0.1, 0.3, 0.9, 1} {
		for seed := range int64(3) {
			n := newNet(seed, "a", "b")
			n.SetDrop("a", "b", frac)
			for i := range sends {
				n.Send("a", "b", i)
				n.Send("b", "a", i) // the other direction is unaffected
			}
			s := n.Stats()
			got := float64(s.Dropped) / sends
			// 0.03 is more than six standard deviations at p = 0.3.
			if math.Abs(got-frac) > 0.03 || ((frac == 0 || frac == 1) && got != frac) {
				t.Fatalf("fraction %v seed %d: dropped %v", frac, seed, got)
			}
			if d := len(drain(n)); d != 2*sends-s.Dropped {
				t.Fatalf("fraction %v seed %d: delivered %d, want %d", frac, seed, d, 2*sends-s.Dropped)
			}
		}
	}
}

func TestFilter(t *testing.T) {
	n := newNet(1, "a", "b")
	var seen []int
	n.SetFilter(func(from, to string, msg int) bool {
		seen = append(seen, msg)
		return msg%2 == 0
	})
	for i := range 6 {
		n.Send("a", "b", i)
	}
	if got := msgs(drain(n)); !slices.Equal(got, []int{0, 2, 4}) {
		t.Fatalf("got %v, want even messages only", got)
	}
	if !slices.Equal(seen, []int{0, 1, 2, 3, 4, 5}) || n.Stats().Filtered != 3 {
		t.Fatalf("filter saw %v, Filtered = %d", seen, n.Stats().Filtered)
	}
	n.SetFilter(nil)
	n.Send("a", "b", 1)
	if got := msgs(drain(n)); !slices.Equal(got, []int{1}) {
		t.Fatalf("after SetFilter(nil) got %v", got)
	}
}

func TestPauseHoldsAndResumeDelivers(t *testing.T) {
	n := newNet(1, "a", "b", "c")
	n.SetDefaultDelay(10*ms, 10*ms)
	n.Pause("b")
	if !n.Paused("b") || n.Paused("a") {
		t.Fatal("Paused reports the wrong nodes")
	}
	clockBefore := n.NodeNow("b")
	for i := range 3 {
		n.Send("a", "b", i)
		n.Send("a", "c", 100+i)
		n.Advance(n.Now().Add(20 * ms))
	}
	n.Send("c", "b", 3) // due after the resume: delivered normally
	n.Advance(n.Now().Add(5 * ms))
	if got := n.Stats(); got.InFlight != 4 {
		t.Fatalf("InFlight = %d while paused, want 4", got.InFlight)
	}
	if d := n.NodeNow("b").Sub(clockBefore); d != 65*ms {
		t.Fatalf("paused node's clock moved %v, want 65ms", d)
	}
	resumedAt := n.Now()
	n.Resume("b")
	if n.Paused("b") {
		t.Fatal("still paused after Resume")
	}
	ds := n.Advance(n.Now())
	if got := msgs(ds); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("after Resume got %v, want held [0 1 2]", got)
	}
	for _, d := range ds {
		if !d.At.Equal(resumedAt) {
			t.Fatalf("held message delivered at %v, want resume time %v", d.At, resumedAt)
		}
	}
	if got := msgs(drain(n)); !slices.Equal(got, []int{3}) {
		t.Fatalf("later message: got %v, want [3]", got)
	}
}

func TestPausedNodeOnlyHoldsItsOwnMessages(t *testing.T) {
	n := newNet(1, "a", "b", "c")
	n.Pause("b")
	n.Send("a", "c", 1)
	n.Send("a", "b", 2)
	n.Send("b", "c", 3) // a paused node's earlier sends are on the wire
	if got := msgs(n.Advance(n.Now())); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("got %v, want [1 3]", got)
	}
}

func TestCrashAndRestart(t *testing.T) {
	n := newNet(1, "a", "b")
	n.SetDefaultDelay(10*ms, 10*ms)
	n.Send("a", "b", 1) // in flight to b: lost at the crash
	n.Send("b", "a", 2) // in flight from b: still arrives
	n.Pause("b")
	n.Send("a", "b", 3)
	n.Advance(n.Now().Add(10 * ms)) // 3 and 1 are now held for paused b
	n.Send("a", "b", 4)
	n.Crash("b")
	if !n.Crashed("b") || n.Paused("b") {
		t.Fatalf("after Crash: Crashed %v Paused %v, want true false", n.Crashed("b"), n.Paused("b"))
	}
	n.Send("a", "b", 5)
	n.Send("b", "a", 6)
	if got := msgs(drain(n)); len(got) != 0 {
		t.Fatalf("after crash got %v, want nothing", got)
	}
	n.Restart("b")
	n.Send("a", "b", 7)
	n.Send("b", "a", 8)
	if got := msgs(drain(n)); !slices.Equal(got, []int{7, 8}) {
		t.Fatalf("after Restart got %v, want [7 8]", got)
	}
	s := n.Stats()
	if s.Lost != 5 || s.Delivered != 3 || s.InFlight != 0 {
		t.Fatalf("stats %+v, want Lost 5 (1, 3, 4, 5, 6), Delivered 3", s)
	}
}

func TestUnknownNodes(t *testing.T) {
	n := newNet(1, "a")
	n.Send("a", "nobody", 1)
	n.Send("nobody", "a", 2)
	if got := drain(n); len(got) != 0 || n.Stats().Lost != 2 {
		t.Fatalf("got %v, Lost %d; want nothing delivered, 2 lost", got, n.Stats().Lost)
	}
}

func TestDrift(t *testing.T) {
	n := newNet(1, "fast", "slow", "exact")
	n.SetDrift("fast", 0.1)
	n.SetDrift("slow", -0.1)
	start := map[string]time.Time{}
	for _, name := range []string{"fast", "slow", "exact"} {
		start[name] = n.NodeNow(name)
		if !start[name].Equal(n.Now()) {
			t.Fatalf("%s starts at %v, want global %v", name, start[name], n.Now())
		}
	}
	for i := 1; i <= 10; i++ {
		n.Advance(n.Now().Add(time.Second))
		want := map[string]time.Duration{
			"fast":  time.Duration(i) * 1100 * ms,
			"slow":  time.Duration(i) * 900 * ms,
			"exact": time.Duration(i) * time.Second,
		}
		for name, w := range want {
			if got := n.NodeNow(name).Sub(start[name]); got != w {
				t.Fatalf("after %ds %s saw %v pass, want %v", i, name, got, w)
			}
		}
	}

	// Changing the drift continues from the current reading.
	before := n.NodeNow("fast")
	n.SetDrift("fast", -0.5)
	if got := n.NodeNow("fast"); !got.Equal(before) {
		t.Fatalf("SetDrift moved the clock from %v to %v", before, got)
	}
	n.Advance(n.Now().Add(2 * time.Second))
	if got := n.NodeNow("fast").Sub(before); got != time.Second {
		t.Fatalf("at drift -0.5, 2s global gave %v local, want 1s", got)
	}
}

func TestDriftNeverGoesBackward(t *testing.T) {
	n := newNet(3, "x")
	r := n.Rand()
	last := n.NodeNow("x")
	for range 10_000 {
		if r.IntN(10) == 0 {
			n.SetDrift("x", r.Float64()*1.8-0.9) // in (-0.9, 0.9)
		}
		n.Advance(n.Now().Add(time.Duration(r.Int64N(int64(50 * ms)))))
		now := n.NodeNow("x")
		if now.Before(last) {
			t.Fatalf("clock went back from %v to %v", last, now)
		}
		last = now
	}
}

// TestStatsAddUp checks that every message sent is counted exactly once,
// whatever faults it met.
func TestStatsAddUp(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	n := newNet(9, names...)
	n.SetDefaultDelay(0, 30*ms)
	r := n.Rand()
	for step := range 3000 {
		switch r.IntN(40) {
		case 0:
			n.Cut(names[r.IntN(4)], names[r.IntN(4)])
		case 1:
			n.SetDrop(names[r.IntN(4)], names[r.IntN(4)], r.Float64())
		case 2:
			n.Partition(names[:2], names[2:3])
		case 3:
			n.Heal()
		case 4:
			n.Pause(names[r.IntN(4)])
		case 5:
			n.Resume(names[r.IntN(4)])
		case 6:
			n.Crash(names[r.IntN(4)])
		case 7:
			n.Restart(names[r.IntN(4)])
		case 8:
			n.SetFilter(func(_, _ string, m int) bool { return m%3 != 0 })
		case 9:
			n.SetFilter(nil)
		}
		n.Send(names[r.IntN(4)], names[r.IntN(4)], step)
		n.Advance(n.Now().Add(time.Duration(r.IntN(10)) * ms))
		s := n.Stats()
		if sum := s.Delivered + s.Dropped + s.Blocked + s.Filtered + s.Lost + s.InFlight; sum != s.Sent {
			t.Fatalf("step %d: counters %+v add up to %d, not Sent", step, s, sum)
		}
	}
	s := n.Stats()
	if s.Delivered == 0 || s.Dropped == 0 || s.Blocked == 0 || s.Filtered == 0 || s.Lost == 0 {
		t.Fatalf("workload did not exercise every outcome: %+v", s)
	}
}

func TestMisusePanics(t *testing.T) {
	cases := map[string]func(n *Network[int]){
		"advance backwards": func(n *Network[int]) { n.Advance(n.Now().Add(-1)) },
		"negative delay":    func(n *Network[int]) { n.SetDefaultDelay(-1, 0) },
		"max below min":     func(n *Network[int]) { n.SetDelay("a", "b", 2*ms, ms) },
		"drop above one":    func(n *Network[int]) { n.SetDrop("a", "b", 1.5) },
		"drop NaN":          func(n *Network[int]) { n.SetDrop("a", "b", math.NaN()) },
		"drift -1":          func(n *Network[int]) { n.SetDrift("a", -1) },
		"unknown clock":     func(n *Network[int]) { n.NodeNow("zz") },
		"pause unknown":     func(n *Network[int]) { n.Pause("zz") },
		"crash unknown":     func(n *Network[int]) { n.Crash("zz") },
		"node in 2 groups":  func(n *Network[int]) { n.Partition([]string{"a"}, []string{"a", "b"}) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("did not panic")
				}
			}()
			f(newNet(1, "a", "b"))
		})
	}
}

func BenchmarkSendAdvance(b *testing.B) {
	n := newNet(1, "a", "b", "c")
	n.SetDefaultDelay(ms, 50*ms)
	// Keep about a thousand messages in flight.
	for i := range 1000 {
		n.Send("a", "b", i)
	}
	b.ResetTimer()
	for i := range b.N {
		n.Send("b", "c", i)
		n.Advance(n.Now().Add(25 * time.Microsecond))
	}
}

func TestDelayRangeIsInclusive(t *testing.T) {
	n := newNet(1, "a", "b")
	n.SetDelay("a", "b", 5, 6) // nanoseconds
	seen := map[time.Duration]int{}
	for i := range 200 {
		n.Send("a", "b", i)
	}
	for _, d := range drain(n) {
		seen[d.At.Sub(epoch)]++
	}
	if len(seen) != 2 || seen[5] == 0 || seen[6] == 0 {
		t.Fatalf("delays drawn from [5ns, 6ns]: %v; want both ends", seen)
	}
}

func TestHarnessRand(t *testing.T) {
	draws := func(seed int64) []uint64 {
		r := New[int](seed).Rand()
		out := make([]uint64, 8)
		for i := range out {
			out[i] = r.Uint64()
		}
		return out
	}
	if !slices.Equal(draws(1), draws(1)) {
		t.Fatal("same seed gave different harness draws")
	}
	if slices.Equal(draws(1), draws(2)) {
		t.Fatal("different seeds gave the same harness draws")
	}

	// Harness draws do not shift the network's delays.
	run := func(harnessDraws int) string {
		n := newNet(3, "a", "b")
		n.SetDefaultDelay(0, time.Second)
		for range harnessDraws {
			n.Rand().Uint64()
		}
		for i := range 50 {
			n.Send("a", "b", i)
		}
		return trace(drain(n))
	}
	if run(0) != run(17) {
		t.Fatal("drawing from Rand changed the network's delays")
	}
}
