// Package ownercheck judges an ownership history against ringd's promise.
//
// A test observes, on one global test clock, what every member's application
// may work on (the partitions it owns or is releasing, with their fencing
// tokens). The Checker merges consecutive observations into intervals, one per
// (member, partition, token): the interval starts at the first observation
// that lists the holding and ends at the first later observation that does not
// list it. Intervals are half-open, [From, Until): a handoff where A's
// interval ends at t and B's starts at t is not an overlap.
//
// The judgement (Violations, CoverageGaps) follows DESIGN.md "The promise":
//
//   - DoubleOwner: intervals of two different members overlap on a partition.
//   - TwoTokens: one member holds a partition under two tokens at once.
//   - TokenOrder: a grant's token is not strictly greater than the token of an
//     interval of the same partition that started earlier and belongs to a
//     different grant (member and token). The same member resuming the same
//     grant after a gap is the same grant, not a violation.
//   - BadPartition: a holding names a partition outside 0..P-1.
//   - CoverageGaps: stretches of time in which nobody held a partition.
//
// Observations are samples: a holding observed at t1 and gone at t2 counts as
// held for all of [t1, t2). The sampling therefore errs towards ownership
// lasting longer, which can only produce more overlaps, never hide one that
// the samples show.
//
// The Checker is pure and single-goroutine; it knows nothing about ringd's
// protocol and can be fed by any test (simulated cores, in-process daemons,
// real processes polled over HTTP).
package ownercheck

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ringd/ringd/partitions"
)

// Interval is one stretch of time in which a member's application held one
// partition under one token. It is half-open: [From, Until).
type Interval struct {
	Member    string
	Partition int
	Token     uint64
	From      time.Time
	// Until is the first observation that no longer listed the holding;
	// zero while the interval is open (still held at the last observation).
	Until time.Time
}

// Open reports whether the holding was still listed at the last observation.
func (iv Interval) Open() bool { return iv.Until.IsZero() }

// overlaps reports whether two intervals share an instant. Open intervals
// reach to infinity.
func (iv Interval) overlaps(o Interval) bool {
	return (iv.Open() || o.From.Before(iv.Until)) && (o.Open() || iv.From.Before(o.Until))
}

func (iv Interval) sameGrant(o Interval) bool {
	return iv.Member == o.Member && iv.Token == o.Token
}

// String renders the interval relative to nothing in particular: absolute
// times as RFC 3339 with milliseconds.
func (iv Interval) String() string {
	until := "open"
	if !iv.Open() {
		until = iv.Until.UTC().Format(timeFormat)
	}
	return fmt.Sprintf("%s p%d token %d [%s, %s)", iv.Member, iv.Partition, iv.Token,
		iv.From.UTC().Format(timeFormat), until)
}

const timeFormat = "15:04:05.000"

// Kind names what a Violation breaks.
type Kind int

const (
	// DoubleOwner: two members held one partition at the same time.
	DoubleOwner Kind = iota + 1
	// TwoTokens: one member held one partition under two tokens at once.
	TwoTokens
	// TokenOrder: a grant's token is not above the token of an earlier grant.
	TokenOrder
	// BadPartition: a holding named a partition outside 0..P-1.
	BadPartition
	// Relisted: a member held a grant again after it had stopped holding
	// it (a dropped token must never be taken again).
	Relisted
)

func (k Kind) String() string {
	switch k {
	case DoubleOwner:
		return "double owner"
	case TwoTokens:
		return "two tokens at once"
	case TokenOrder:
		return "token not increasing"
	case BadPartition:
		return "partition out of range"
	case Relisted:
		return "dropped grant held again"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Violation is one breach of the promise, with the intervals that show it.
// First starts no later than Second; for BadPartition only First is set.
type Violation struct {
	Kind          Kind
	Partition     int
	First, Second Interval
}

func (v Violation) String() string {
	if v.Kind == BadPartition {
		return fmt.Sprintf("%s: %s", v.Kind, v.First)
	}
	return fmt.Sprintf("%s on p%d: %s and %s", v.Kind, v.Partition, v.First, v.Second)
}

// Gap is a stretch of time in which nobody held a partition.
type Gap struct {
	Partition   int
	From, Until time.Time
	// Open: the partition was still unowned at the last observation (Until
	// is that observation).
	Open bool
}

// Len is how long the partition was unowned.
func (g Gap) Len() time.Duration { return g.Until.Sub(g.From) }

func (g Gap) String() string {
	s := fmt.Sprintf("p%d unowned for %v from %s", g.Partition, g.Len(), g.From.UTC().Format(timeFormat))
	if g.Open {
		s += " (still unowned)"
	}
	return s
}

// grantKey names one open interval.
type grantKey struct {
	member    string
	partition int
	token     uint64
}

// Checker records an ownership history. The zero value is not usable; call New.
type Checker struct {
	partitions int

	observed    bool
	first, last time.Time

	// intervals holds, per partition, every interval in the order it started.
	intervals [][]Interval
	// open maps each holding listed at a member's last observation to its
	// interval's index in intervals.
	open map[grantKey]int
	// bad records holdings outside 0..P-1.
	bad []Violation
}

// New returns an empty Checker for partitions 0..partitions-1.
func New(partitions int) *Checker {
	return &Checker{
		partitions: partitions,
		intervals:  make([][]Interval, partitions),
		open:       map[grantKey]int{},
	}
}

// Observe records what member's application may work on at global time at:
// its holdings in state owned or releasing (both count). An empty list ends
// all of the member's intervals. Observations must not go back in time (a
// test bug: Observe panics). Several members may be observed at one instant,
// and each member should be observed at every step of the test, or its
// holdings count as held until its next observation.
func (c *Checker) Observe(at time.Time, member string, holdings []partitions.Holding) {
	if c.observed && at.Before(c.last) {
		panic(fmt.Sprintf("ownercheck: observation at %v before the last one at %v", at, c.last))
	}
	if !c.observed {
		c.observed, c.first = true, at
	}
	c.last = at

	now := make(map[grantKey]bool, len(holdings))
	for _, h := range holdings {
		if h.ID < 0 || h.ID >= c.partitions {
			c.bad = append(c.bad, Violation{Kind: BadPartition, Partition: h.ID,
				First: Interval{Member: member, Partition: h.ID, Token: h.Token, From: at, Until: at}})
			continue
		}
		k := grantKey{member, h.ID, h.Token}
		now[k] = true
		if _, ok := c.open[k]; ok {
			continue
		}
		c.open[k] = len(c.intervals[h.ID])
		c.intervals[h.ID] = append(c.intervals[h.ID], Interval{Member: member, Partition: h.ID, Token: h.Token, From: at})
	}
	for k, i := range c.open {
		if k.member != member || now[k] {
			continue
		}
		c.intervals[k.partition][i].Until = at
		delete(c.open, k)
	}
}

// Intervals returns partition p's intervals, in the order they started (then
// by member and token). Empty intervals (held for no time) are left out.
func (c *Checker) Intervals(p int) []Interval {
	if p < 0 || p >= c.partitions {
		return nil
	}
	out := make([]Interval, 0, len(c.intervals[p]))
	for _, iv := range c.intervals[p] {
		if !iv.Open() && !iv.From.Before(iv.Until) {
			continue
		}
		out = append(out, iv)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.From.Equal(b.From) {
			return a.From.Before(b.From)
		}
		if a.Member != b.Member {
			return a.Member < b.Member
		}
		return a.Token < b.Token
	})
	return out
}

// Violations judges the whole history so far (open intervals count as held
// from their start on). It returns every violation, partition by partition.
func (c *Checker) Violations() []Violation {
	out := append([]Violation(nil), c.bad...)
	for p := 0; p < c.partitions; p++ {
		out = append(out, c.violations(p)...)
	}
	return out
}

func (c *Checker) violations(p int) []Violation {
	ivs := c.Intervals(p)
	var out []Violation
	// Overlaps: sweep in start order, keeping the intervals that may still
	// overlap a later one.
	var active []Interval
	for _, iv := range ivs {
		kept := active[:0]
		for _, a := range active {
			if a.Open() || iv.From.Before(a.Until) {
				kept = append(kept, a)
			}
		}
		active = kept
		for _, a := range active {
			if !a.overlaps(iv) {
				continue
			}
			kind := DoubleOwner
			if a.Member == iv.Member {
				kind = TwoTokens
			}
			out = append(out, Violation{Kind: kind, Partition: p, First: a, Second: iv})
		}
		active = append(active, iv)
	}
	// A grant let go of is never held again: one interval per member and
	// token.
	ended := map[grantKey]Interval{}
	for _, iv := range ivs {
		k := grantKey{iv.Member, p, iv.Token}
		if prev, ok := ended[k]; ok {
			out = append(out, Violation{Kind: Relisted, Partition: p, First: prev, Second: iv})
			continue
		}
		ended[k] = iv
	}
	// Token order: every interval's token must be above the tokens of the
	// intervals of other grants that started strictly earlier.
	var best *Interval                   // the highest token among earlier starts
	sameToken := map[uint64][]Interval{} // earlier starts by token
	for i := 0; i < len(ivs); {
		j := i
		for j < len(ivs) && ivs[j].From.Equal(ivs[i].From) {
			j++
		}
		for k := i; k < j; k++ {
			iv := ivs[k]
			if best != nil && best.Token > iv.Token {
				out = append(out, Violation{Kind: TokenOrder, Partition: p, First: *best, Second: iv})
				continue
			}
			for _, e := range sameToken[iv.Token] {
				if !e.sameGrant(iv) {
					out = append(out, Violation{Kind: TokenOrder, Partition: p, First: e, Second: iv})
					break
				}
			}
		}
		for k := i; k < j; k++ {
			iv := ivs[k]
			if best == nil || iv.Token > best.Token {
				best = &ivs[k]
			}
			sameToken[iv.Token] = append(sameToken[iv.Token], iv)
		}
		i = j
	}
	return out
}

// CoverageGaps returns the stretches, within [since, last observation], in
// which a partition was held by nobody for longer than bound. A gap that began
// before since counts from since.
func (c *Checker) CoverageGaps(since time.Time, bound time.Duration) []Gap {
	if !c.observed {
		return nil
	}
	if since.Before(c.first) {
		since = c.first
	}
	var out []Gap
	for p := 0; p < c.partitions; p++ {
		// Walk the intervals in start order, tracking how far coverage
		// reaches; a start beyond that reach leaves a gap.
		covered := since // everything before since counts as covered
		openEnd := false
		for _, iv := range c.Intervals(p) {
			if openEnd {
				break
			}
			if iv.From.After(covered) {
				if g := (Gap{Partition: p, From: covered, Until: iv.From}); g.Len() > bound {
					out = append(out, g)
				}
			}
			switch {
			case iv.Open():
				openEnd = true
			case iv.Until.After(covered):
				covered = iv.Until
			}
		}
		if !openEnd && c.last.After(covered) {
			if g := (Gap{Partition: p, From: covered, Until: c.last, Open: true}); g.Len() > bound {
				out = append(out, g)
			}
		}
	}
	return out
}

// Last returns the time of the newest observation (zero before any).
func (c *Checker) Last() time.Time { return c.last }

// Summary describes violations for a test failure: the count and up to max
// of them, one per line.
func Summary(vs []Violation, max int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d violation(s)", len(vs))
	for i, v := range vs {
		if i == max {
			fmt.Fprintf(&b, "\n  ... and %d more", len(vs)-max)
			break
		}
		fmt.Fprintf(&b, "\n  %s", v)
	}
	return b.String()
}
