package ownercheck

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/partitions"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func h(id int, token uint64) partitions.Holding {
	return partitions.Holding{ID: id, Token: token, State: partitions.Owned}
}

// obs is one observation of one member in a scripted history.
type obs struct {
	ms     int
	member string
	hold   []partitions.Holding
}

func run(c *Checker, history []obs) {
	for _, o := range history {
		c.Observe(at(o.ms), o.member, o.hold)
	}
}

func TestViolations(t *testing.T) {
	tests := []struct {
		name    string
		history []obs
		want    []Kind
	}{
		{
			name: "two members overlap",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10)}},
				{0, "b", nil},
				{100, "a", []partitions.Holding{h(0, 10)}},
				{100, "b", []partitions.Holding{h(0, 11)}},
				{200, "a", nil},
				{200, "b", []partitions.Holding{h(0, 11)}},
			},
			want: []Kind{DoubleOwner},
		},
		{
			name: "back-to-back handoff touches but does not overlap",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10)}},
				{0, "b", nil},
				{100, "a", nil},
				{100, "b", []partitions.Holding{h(0, 11)}},
				{200, "a", nil},
				{200, "b", []partitions.Holding{h(0, 11)}},
			},
		},
		{
			name: "handoff with a gap",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10)}},
				{100, "a", nil},
				{150, "b", []partitions.Holding{h(0, 11)}},
			},
		},
		{
			name: "overlap on another partition only counts there",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10), h(1, 20)}},
				{0, "b", []partitions.Holding{h(2, 30)}},
				{50, "b", []partitions.Holding{h(1, 21), h(2, 30)}},
			},
			want: []Kind{DoubleOwner},
		},
		{
			name: "token goes down across a handoff",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10)}},
				{100, "a", nil},
				{200, "b", []partitions.Holding{h(0, 9)}},
			},
			want: []Kind{TokenOrder},
		},
		{
			name: "token repeats for another member",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10)}},
				{100, "a", nil},
				{200, "b", []partitions.Holding{h(0, 10)}},
			},
			want: []Kind{TokenOrder},
		},
		{
			name: "same member and token held again after a gap: a dropped token came back",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10)}},
				{100, "a", nil},
				{200, "a", []partitions.Holding{h(0, 10)}},
			},
			want: []Kind{Relisted},
		},
		{
			name: "same member regranted with a higher token",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10)}},
				{100, "a", []partitions.Holding{h(0, 12)}},
			},
		},
		{
			name: "same member regranted with a lower token",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10)}},
				{100, "a", []partitions.Holding{h(0, 8)}},
			},
			want: []Kind{TokenOrder},
		},
		{
			name: "one member, two tokens at once",
			history: []obs{
				{0, "a", []partitions.Holding{h(0, 10), h(0, 11)}},
			},
			want: []Kind{TwoTokens},
		},
		{
			name: "token order is by start, not by end",
			history: []obs{
				// b's grant started later than a's but with a lower token,
				// although a's ended first.
				{0, "a", []partitions.Holding{h(0, 10)}},
				{0, "b", nil},
				{100, "a", nil},
				{300, "b", []partitions.Holding{h(0, 5)}},
			},
			want: []Kind{TokenOrder},
		},
		{
			name: "partition out of range",
			history: []obs{
				{0, "a", []partitions.Holding{h(4, 1), h(-1, 1)}},
			},
			want: []Kind{BadPartition, BadPartition},
		},
		{
			name: "an open interval overlaps a later start",
			history: []obs{
				{0, "a", []partitions.Holding{h(3, 10)}},
				{500, "b", []partitions.Holding{h(3, 11)}},
			},
			want: []Kind{DoubleOwner},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(4)
			run(c, tc.history)
			got := c.Violations()
			if len(got) != len(tc.want) {
				t.Fatalf("got %s, want kinds %v", Summary(got, 10), tc.want)
			}
			for i, v := range got {
				if v.Kind != tc.want[i] {
					t.Errorf("violation %d: got %v, want %v", i, v, tc.want[i])
				}
			}
		})
	}
}

func TestDoubleOwnerNamesBothIntervals(t *testing.T) {
	c := New(1)
	run(c, []obs{
		{0, "a", []partitions.Holding{h(0, 10)}},
		{100, "b", []partitions.Holding{h(0, 11)}},
		{150, "a", nil},
	})
	vs := c.Violations()
	if len(vs) != 1 {
		t.Fatalf("got %s, want one", Summary(vs, 10))
	}
	v := vs[0]
	if v.First.Member != "a" || v.Second.Member != "b" || !v.First.Until.Equal(at(150)) || !v.Second.Open() {
		t.Errorf("got %v", v)
	}
	if s := v.String(); !strings.Contains(s, "double owner on p0") || !strings.Contains(s, "open") {
		t.Errorf("String() = %q", s)
	}
}

func TestIntervalsMergeObservations(t *testing.T) {
	c := New(2)
	for ms := 0; ms <= 100; ms += 10 {
		c.Observe(at(ms), "a", []partitions.Holding{h(1, 7)})
	}
	c.Observe(at(110), "a", nil)
	c.Observe(at(120), "a", []partitions.Holding{h(1, 8)})
	got := c.Intervals(1)
	want := []Interval{
		{Member: "a", Partition: 1, Token: 7, From: at(0), Until: at(110)},
		{Member: "a", Partition: 1, Token: 8, From: at(120)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("interval %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if len(c.Intervals(0)) != 0 || c.Intervals(5) != nil {
		t.Errorf("unexpected intervals for p0 or p5")
	}
	// Observing one member leaves another's intervals alone.
	c.Observe(at(130), "b", nil)
	if got := c.Intervals(1); len(got) != 2 || !got[1].Open() {
		t.Errorf("b's observation ended a's interval: %v", got)
	}
}

func TestCoverageGaps(t *testing.T) {
	c := New(3)
	run(c, []obs{
		// p0: a until 100, b from 400 (gap of 300ms).
		// p1: a all along.
		// p2: nobody after 200 (open gap at the end).
		{0, "a", []partitions.Holding{h(0, 1), h(1, 1), h(2, 1)}},
		{0, "b", nil},
		{100, "a", []partitions.Holding{h(1, 1), h(2, 1)}},
		{200, "a", []partitions.Holding{h(1, 1)}},
		{400, "b", []partitions.Holding{h(0, 2)}},
		{1000, "a", []partitions.Holding{h(1, 1)}},
		{1000, "b", []partitions.Holding{h(0, 2)}},
	})
	gaps := c.CoverageGaps(at(0), 250*time.Millisecond)
	if len(gaps) != 2 {
		t.Fatalf("got %v, want p0's and p2's gaps", gaps)
	}
	if g := gaps[0]; g.Partition != 0 || !g.From.Equal(at(100)) || !g.Until.Equal(at(400)) || g.Open {
		t.Errorf("p0 gap: got %v", g)
	}
	if g := gaps[1]; g.Partition != 2 || !g.From.Equal(at(200)) || !g.Until.Equal(at(1000)) || !g.Open {
		t.Errorf("p2 gap: got %v", g)
	}
	// A bound above the gap hides it; a later since clips it.
	if gaps := c.CoverageGaps(at(0), 300*time.Millisecond); len(gaps) != 1 || gaps[0].Partition != 2 {
		t.Errorf("bound 300ms: got %v, want only p2's", gaps)
	}
	if gaps := c.CoverageGaps(at(300), 250*time.Millisecond); len(gaps) != 1 || gaps[0].Partition != 2 ||
		!gaps[0].From.Equal(at(300)) {
		t.Errorf("since 300ms: got %v, want p2's from 300ms", gaps)
	}
	if gaps := c.CoverageGaps(at(0), time.Second); len(gaps) != 0 {
		t.Errorf("bound 1s: got %v", gaps)
	}
}

func TestCoverageAcrossOverlappingOwners(t *testing.T) {
	// Coverage counts any owner, also during a (violating) overlap, and a
	// gap that starts before since counts only from since.
	c := New(1)
	run(c, []obs{
		{0, "a", []partitions.Holding{h(0, 1)}},
		{50, "b", []partitions.Holding{h(0, 2)}},
		{100, "a", nil},
		{300, "b", nil},
		{900, "a", []partitions.Holding{h(0, 3)}},
		{1000, "a", []partitions.Holding{h(0, 3)}},
	})
	gaps := c.CoverageGaps(at(0), 100*time.Millisecond)
	if len(gaps) != 1 || !gaps[0].From.Equal(at(300)) || !gaps[0].Until.Equal(at(900)) {
		t.Fatalf("got %v, want one gap [300ms, 900ms)", gaps)
	}
	if gaps := c.CoverageGaps(at(800), 50*time.Millisecond); len(gaps) != 1 || gaps[0].Len() != 100*time.Millisecond {
		t.Errorf("since 800ms: got %v, want 100ms", gaps)
	}
}

func TestObserveBackwardsPanics(t *testing.T) {
	c := New(1)
	c.Observe(at(100), "a", nil)
	defer func() {
		if recover() == nil {
			t.Errorf("no panic for an observation back in time")
		}
	}()
	c.Observe(at(50), "a", nil)
}

func TestSummary(t *testing.T) {
	c := New(1)
	run(c, []obs{
		{0, "a", []partitions.Holding{h(0, 3)}},
		{0, "b", []partitions.Holding{h(0, 2)}},
		{0, "c", []partitions.Holding{h(0, 1)}},
	})
	vs := c.Violations()
	if len(vs) != 3 {
		t.Fatalf("got %s, want 3 double owners", Summary(vs, 10))
	}
	s := Summary(vs, 2)
	if !strings.HasPrefix(s, "3 violation(s)") || !strings.Contains(s, "and 1 more") {
		t.Errorf("Summary = %q", s)
	}
}

// TestAgainstBruteForce compares the checker with a simple reference on
// random histories: pairwise comparison of all intervals for the violations,
// and a millisecond-by-millisecond scan for the coverage gaps.
func TestAgainstBruteForce(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		const parts = 3
		members := []string{"a", "b", "c"}
		c := New(parts)
		ms, first := 0, -1
		for step := 0; step < 40; step++ {
			ms += rng.IntN(3) * 10 // several observations may share an instant
			if first < 0 {
				first = ms
			}
			for _, m := range members {
				var hold []partitions.Holding
				for p := 0; p < parts; p++ {
					if rng.IntN(3) == 0 {
						hold = append(hold, h(p, uint64(rng.IntN(6))))
					}
				}
				c.Observe(at(ms), m, hold)
			}
		}
		last := ms

		type pair struct{ a, b Interval }
		wantOverlap := map[pair]Kind{}
		wantOrder := map[Interval]bool{}
		wantRelisted := map[Interval]bool{}
		var all []Interval
		for p := 0; p < parts; p++ {
			ivs := c.Intervals(p)
			all = append(all, ivs...)
			for i, x := range ivs {
				for j, y := range ivs {
					if i == j {
						continue
					}
					if i < j && x.overlaps(y) {
						k := DoubleOwner
						if x.Member == y.Member {
							k = TwoTokens
						}
						wantOverlap[pair{x, y}] = k
					}
					if x.From.Before(y.From) && !x.sameGrant(y) && y.Token <= x.Token {
						wantOrder[y] = true
					}
					if x.From.Before(y.From) && x.sameGrant(y) {
						wantRelisted[y] = true
					}
				}
			}
		}
		gotOverlap := map[pair]Kind{}
		gotOrder := map[Interval]bool{}
		gotRelisted := map[Interval]bool{}
		for _, v := range c.Violations() {
			switch v.Kind {
			case Relisted:
				gotRelisted[v.Second] = true
			case DoubleOwner, TwoTokens:
				gotOverlap[pair{v.First, v.Second}] = v.Kind
			case TokenOrder:
				if gotOrder[v.Second] {
					t.Fatalf("seed %d: %v reported twice", seed, v.Second)
				}
				gotOrder[v.Second] = true
			default:
				t.Fatalf("seed %d: unexpected %v", seed, v)
			}
		}
		if len(gotOverlap) != len(wantOverlap) {
			t.Fatalf("seed %d: %d overlaps, reference %d", seed, len(gotOverlap), len(wantOverlap))
		}
		for pr, k := range wantOverlap {
			if gotOverlap[pr] != k {
				t.Fatalf("seed %d: reference overlap %v / %v (%v) not reported", seed, pr.a, pr.b, k)
			}
		}
		if len(gotRelisted) != len(wantRelisted) {
			t.Fatalf("seed %d: %d relisted grants, reference %d", seed, len(gotRelisted), len(wantRelisted))
		}
		if len(gotOrder) != len(wantOrder) {
			t.Fatalf("seed %d: %d token order violations, reference %d", seed, len(gotOrder), len(wantOrder))
		}
		for iv := range wantOrder {
			if !gotOrder[iv] {
				t.Fatalf("seed %d: token order of %v not reported", seed, iv)
			}
		}

		since, bound := rng.IntN(last+1), time.Duration(rng.IntN(5)*10)*time.Millisecond
		var want []Gap
		for p := 0; p < parts; p++ {
			start := -1
			for x := max(since, first); x <= last; x++ {
				held := false
				for _, iv := range all {
					if iv.Partition == p && !at(x).Before(iv.From) && (iv.Open() || at(x).Before(iv.Until)) {
						held = true
						break
					}
				}
				switch {
				case !held && start < 0 && x < last:
					start = x
				case held && start >= 0:
					if g := (Gap{Partition: p, From: at(start), Until: at(x)}); g.Len() > bound {
						want = append(want, g)
					}
					start = -1
				}
			}
			if start >= 0 {
				if g := (Gap{Partition: p, From: at(start), Until: at(last), Open: true}); g.Len() > bound {
					want = append(want, g)
				}
			}
		}
		got := c.CoverageGaps(at(since), bound)
		if len(got) != len(want) {
			t.Fatalf("seed %d: gaps %v, reference %v", seed, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("seed %d: gap %d is %v, reference %v", seed, i, got[i], want[i])
			}
		}
	}
}

// TestAnswersProveOnlyWhatTheyBound feeds answers bounded by the send and
// receive times of their requests: an overlap is reported only when the
// answers prove it, never over a clean handoff seen through racing polls
// (check the checker both ways).
func TestAnswersProveOnlyWhatTheyBound(t *testing.T) {
	type answer struct {
		member     string
		token      uint64 // 0: the answer lists nothing
		sent, recv int
	}
	for _, tc := range []struct {
		name    string
		answers []answer
		want    []Kind
	}{
		{"proven double owner", []answer{
			{"a", 5, 0, 1}, {"b", 6, 2, 3}, {"a", 5, 10, 11}, {"b", 6, 12, 13},
		}, []Kind{DoubleOwner}},
		{"handoff seen through racing polls", []answer{
			// a is polled just before it lets go, b just after it got p:
			// one round lists p twice, but nothing proves an overlap.
			{"a", 5, 0, 1}, {"a", 5, 10, 11}, {"b", 6, 12, 13}, {"b", 6, 20, 21},
		}, nil},
		{"one answer each proves no instant", []answer{
			{"a", 5, 0, 10}, {"b", 6, 0, 10},
		}, nil},
		{"exact answers at one instant overlap", []answer{
			{"a", 5, 0, 0}, {"b", 6, 0, 0}, {"a", 5, 10, 10}, {"b", 6, 10, 10},
		}, []Kind{DoubleOwner}},
		{"token went down", []answer{
			{"a", 9, 0, 1}, {"a", 9, 10, 11}, {"b", 3, 20, 21}, {"b", 3, 30, 31},
		}, []Kind{TokenOrder}},
		{"token went down, the lower one seen once", []answer{
			{"a", 9, 0, 1}, {"a", 9, 10, 11}, {"b", 3, 20, 21},
		}, []Kind{TokenOrder}},
		{"token order unproven when the earlier grant was seen once", []answer{
			{"a", 9, 0, 30}, {"b", 3, 20, 21}, {"b", 3, 40, 41},
		}, nil},
		{"a dropped grant listed again", []answer{
			{"a", 5, 0, 1}, {"a", 0, 10, 11}, {"a", 5, 20, 21},
		}, []Kind{Relisted}},
		{"one answer inside another member's proven interval", []answer{
			// a held p all of [1, 40); b held it at some instant of [20, 21].
			{"a", 5, 0, 1}, {"b", 6, 20, 21}, {"a", 5, 40, 41},
		}, []Kind{DoubleOwner}},
		{"the first answer of a longer grant inside the proven interval", []answer{
			{"a", 5, 0, 1}, {"b", 6, 20, 21}, {"a", 5, 40, 41}, {"b", 6, 60, 61},
		}, []Kind{DoubleOwner}},
		{"one answer straddling the end of the proven interval", []answer{
			// a may have let go at 40 and b taken p at 41.
			{"a", 5, 0, 1}, {"a", 5, 40, 41}, {"b", 6, 39, 42},
		}, nil},
		{"one answer straddling the start of the proven interval", []answer{
			{"b", 5, 0, 2}, {"a", 6, 1, 3}, {"a", 6, 40, 41},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(8)
			for _, a := range tc.answers {
				var hold []partitions.Holding
				if a.token != 0 {
					hold = []partitions.Holding{h(3, a.token)}
				}
				c.ObserveAnswer(a.member, at(a.sent), at(a.recv), hold)
			}
			var got []Kind
			for _, v := range c.Violations() {
				got = append(got, v.Kind)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("violations %s, want kinds %v", Summary(c.Violations(), 5), tc.want)
			}
		})
	}
}

func TestAnswerReceivedBeforeSentPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an answer received before its request was sent")
		}
	}()
	New(1).ObserveAnswer("a", at(10), at(5), nil)
}

// TestSingleAnswerInsideProvenInterval: a second token seen once inside the
// first one's proven interval is two tokens at once, and the grant seen in
// one answer only is shown with the window it was held in.
func TestSingleAnswerInsideProvenInterval(t *testing.T) {
	c := New(1)
	c.ObserveAnswer("a", at(0), at(1), []partitions.Holding{h(0, 5)})
	c.ObserveAnswer("a", at(20), at(21), []partitions.Holding{h(0, 5), h(0, 6)})
	c.ObserveAnswer("a", at(40), at(41), []partitions.Holding{h(0, 5)})
	vs := c.Violations()
	if len(vs) != 1 || vs[0].Kind != TwoTokens {
		t.Fatalf("got %s, want two tokens at once", Summary(vs, 5))
	}
	if got, want := vs[0].Second.String(), "a p0 token 6 held at an instant in [00:00:00.020, 00:00:00.021]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := c.Intervals(0); len(got) != 1 || got[0].Token != 5 {
		t.Errorf("Intervals = %v, want only token 5's: one answer proves no stretch", got)
	}
}

// TestAnswersAgainstBruteForce compares the overlap check over answers with
// its definition on random histories: two grants overlap for certain when,
// wherever in its [sent, recv] window each answer was taken, the two were
// held at a common instant. A grant is held at least from its earliest to
// its latest listing instant (a grant let go of is never taken again), and,
// as for exact intervals, touching at one instant is a handoff, not an
// overlap. The reference tries every whole millisecond of every window.
func TestAnswersAgainstBruteForce(t *testing.T) {
	type window struct{ sent, recv int }
	type run struct {
		member    string
		partition int
		token     uint64
		windows   []window
	}
	type span struct{ first, last int }
	// spans lists every (first, last) listing instant a run allows.
	spans := func(r run) map[span]bool {
		out := map[span]bool{}
		var walk func(i, first, last int)
		walk = func(i, first, last int) {
			if i == len(r.windows) {
				out[span{first, last}] = true
				return
			}
			for x := r.windows[i].sent; x <= r.windows[i].recv; x++ {
				walk(i+1, min(first, x), max(last, x))
			}
		}
		walk(0, 1<<30, -1)
		return out
	}
	type grant struct {
		member    string
		partition int
		token     uint64
		sent      int // the sending of the run's first answer
	}
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		const parts = 2
		c := New(parts)
		var runs []run
		for _, m := range []string{"a", "b", "c"} {
			cur := [parts]uint64{}
			open := [parts]map[uint64]int{{}, {}} // token -> index in runs
			ms := rng.IntN(6)
			for n := 2 + rng.IntN(4); n > 0; n-- {
				w := window{ms, ms + rng.IntN(3)}
				ms += 1 + rng.IntN(8)
				var hold []partitions.Holding
				for p := range parts {
					if rng.IntN(3) == 0 {
						cur[p] = uint64(rng.IntN(3)) // 0: not held
					}
					listed := map[uint64]bool{}
					for _, tok := range []uint64{cur[p], uint64(rng.IntN(8))} {
						if tok == 0 || tok > 2 || listed[tok] {
							continue // the second token only now and then
						}
						listed[tok] = true
						hold = append(hold, h(p, tok))
						if i, ok := open[p][tok]; ok {
							runs[i].windows = append(runs[i].windows, w)
						} else {
							open[p][tok] = len(runs)
							runs = append(runs, run{m, p, tok, []window{w}})
						}
					}
					for tok := range open[p] {
						if !listed[tok] {
							delete(open[p], tok)
						}
					}
				}
				c.ObserveAnswer(m, at(w.sent), at(w.recv), hold)
			}
		}

		type pair struct{ x, y grant }
		key := func(r run) grant { return grant{r.member, r.partition, r.token, r.windows[0].sent} }
		want := map[pair]Kind{}
		for i, x := range runs {
			for _, y := range runs[i+1:] {
				if x.partition != y.partition || (x.member == y.member && x.token == y.token) {
					continue
				}
				certain := true
				for sx := range spans(x) {
					for sy := range spans(y) {
						if !(sx.first < sy.last && sy.first < sx.last) {
							certain = false
						}
					}
				}
				if certain {
					k := DoubleOwner
					if x.member == y.member {
						k = TwoTokens
					}
					want[pair{key(x), key(y)}] = k
				}
			}
		}
		got := map[pair]Kind{}
		for _, v := range c.Violations() {
			if v.Kind != DoubleOwner && v.Kind != TwoTokens {
				continue
			}
			x := grant{v.First.Member, v.Partition, v.First.Token, int(v.First.seen.Sub(t0) / time.Millisecond)}
			y := grant{v.Second.Member, v.Partition, v.Second.Token, int(v.Second.seen.Sub(t0) / time.Millisecond)}
			if _, ok := want[pair{y, x}]; ok {
				x, y = y, x
			}
			got[pair{x, y}] = v.Kind
		}
		if len(got) != len(want) {
			t.Fatalf("seed %d: overlaps %v, reference %v", seed, got, want)
		}
		for pr, k := range want {
			if got[pr] != k {
				t.Fatalf("seed %d: reference overlap %v / %v (%v) not reported", seed, pr.x, pr.y, k)
			}
		}
	}
}

// TestLeases: an application works on a grant from the answer that shows it
// until the latest deadline shown, or an answer without it.
func TestLeases(t *testing.T) {
	type shown struct {
		member   string
		recv     int
		token    uint64 // 0: the answer lists nothing
		deadline int
	}
	for _, tc := range []struct {
		name  string
		shown []shown
		want  []Kind
	}{
		{"granted after the deadline shown", []shown{
			{"a", 5, 10, 1000}, {"b", 1002, 11, 2000},
		}, nil},
		{"granted before the deadline shown", []shown{
			{"a", 5, 10, 1000}, {"b", 950, 11, 2000},
		}, []Kind{DoubleOwner}},
		{"a later answer moves the deadline on", []shown{
			{"a", 5, 10, 1000}, {"a", 805, 10, 1800}, {"b", 1510, 11, 2500},
		}, []Kind{DoubleOwner}},
		{"an earlier deadline does not shorten the one shown", []shown{
			{"a", 5, 10, 1000}, {"a", 100, 10, 200}, {"b", 500, 11, 2000},
		}, []Kind{DoubleOwner}},
		{"an answer without the grant ends it", []shown{
			{"a", 5, 10, 1000}, {"a", 105, 0, 0}, {"b", 210, 11, 2000},
		}, nil},
		{"shown after its deadline: never worked on", []shown{
			{"a", 1005, 10, 1000}, {"b", 500, 11, 2000},
		}, nil},
		{"a dropped grant shown again", []shown{
			{"a", 5, 10, 1000}, {"a", 105, 0, 0}, {"a", 205, 10, 1200},
		}, []Kind{Relisted}},
		{"token went down", []shown{
			{"a", 5, 10, 100}, {"b", 500, 9, 2000},
		}, []Kind{TokenOrder}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(2)
			for _, s := range tc.shown {
				var leases []partitions.Holding
				if s.token != 0 {
					l := h(1, s.token)
					l.Until = at(s.deadline)
					leases = append(leases, l)
				}
				c.ObserveLeases(s.member, at(s.recv), leases)
			}
			var got []Kind
			for _, v := range c.Violations() {
				got = append(got, v.Kind)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("violations %s, want kinds %v", Summary(c.Violations(), 5), tc.want)
			}
		})
	}
}
