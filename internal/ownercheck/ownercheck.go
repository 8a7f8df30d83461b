// Package ownercheck judges an ownership history against ringd's promise.
//
// A test records what every member's application may work on (the
// partitions it owns or is releasing, with their fencing tokens), in one of
// three ways:
//
//   - Observe(at, ...): an exact observation of a model on one global test
//     clock, such as a simulated cluster, whose state only changes between
//     observations. A holding listed at t1 and no longer at t2 was held for
//     all of [t1, t2).
//   - ObserveAnswer(member, sent, recv, ...): an answer to a request (GET
//     /partitions/mine, a read of an in-process daemon) sent at sent and
//     received at recv. The holding was true at some instant in [sent,
//     recv], nothing more. A member never takes a grant (member, partition,
//     token) again once it let go of it, so between any two instants at
//     which it held the grant it held it all along: answers listing a grant
//     prove it held from the first answer's receipt to the last request's
//     sending, and even a single answer proves holding at one unknown
//     instant of its window.
//   - ObserveLeases(member, recv, ...): what an application was shown and
//     acts on: each grant with the deadline until which it may work on it
//     (docs/architecture.md, "What the application is shown"). The
//     application works on a grant from the first answer listing it until
//     the latest deadline shown, or until an answer no longer lists it.
//
// The Checker merges consecutive observations of a grant into intervals, one
// per (member, partition, token), ending at the first observation of the
// member that does not list it. Intervals are half-open, [From, Until): a
// handoff where A's interval ends at t and B's starts at t is not an overlap.
// For answers, [From, Until) is the proven part: from the earliest receipt
// to the latest sending of the answers that list the grant. When their
// windows leave no stretch proven (one answer alone), From is not before
// Until, and the grant was held at some instant in [Until, From].
//
// The judgement (Violations, CoverageGaps) follows docs/architecture.md
// ("Why at most one owner", "Fencing tokens"):
//
//   - DoubleOwner: two different members held a partition at one instant.
//   - TwoTokens: one member holds a partition under two tokens at once.
//   - TokenOrder: a grant's token is not strictly greater than the token of
//     a different grant of the same partition held before it was first seen.
//     The same member resuming the same grant after a gap is the same grant,
//     not a violation.
//   - Relisted: a member held a grant again after it had stopped holding it.
//   - BadPartition: a holding names a partition outside 0..P-1.
//   - CoverageGaps: stretches of time in which nobody held a partition.
//
// Which way it errs: a violation is reported only when the observations
// prove it. Exact observations and leases are the truth of the model, so
// nothing is missed between them. Answers prove less. Two grants overlapped
// for certain when, wherever in their windows the answers were taken, the
// two holdings share an instant: when each grant's first answer was received
// before the other's last request was sent. So a single answer whose window
// lies inside another member's proven interval is a double owner, but two
// members each seen in a single answer, or an overlap shorter than the
// polling interval at both ends, go unreported (it errs towards silence,
// never a false alarm over a clean handoff seen through racing polls). For
// the same reason CoverageGaps over answers errs towards longer gaps: it
// counts only the proven holdings.
//
// The Checker is pure and single-goroutine; it knows nothing about ringd's
// protocol and is fed by the simulated clusters (internal/simcluster), the
// in-memory daemon tests and the real-process tests (internal/procluster).
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
	// For answers it is the sending of the last request that listed it, for
	// leases the deadline the application works to.
	Until time.Time

	// seen is, for answers, the first listing request's sending: the
	// earliest the grant may have been seen (see firstSeen).
	seen time.Time
	// src is how the interval was observed, which decides what it proves.
	src source
}

// source names the way an interval was observed (see the package comment).
type source int

const (
	exact  source = iota // Observe
	answer               // ObserveAnswer: proven from the earliest receipt to the latest sending
	lease                // ObserveLeases: worked on until the deadline shown
)

// Open reports whether the holding was still listed at the last observation.
// Intervals from answers and leases are never open: they end at the last
// proven instant or at the deadline.
func (iv Interval) Open() bool { return iv.Until.IsZero() }

// firstSeen is the earliest the grant may have been seen: From for exact
// observations and leases.
func (iv Interval) firstSeen() time.Time {
	if iv.src == answer {
		return iv.seen
	}
	return iv.From
}

// empty reports whether the interval proves holding for no stretch of time.
func (iv Interval) empty() bool { return !iv.Open() && !iv.From.Before(iv.Until) }

// judged reports whether the interval counts for the overlap, relisting and
// token order checks: when it was held for a stretch of time, or, for
// answers, at an instant even if no stretch is proven.
func (iv Interval) judged() bool { return !iv.empty() || iv.src == answer }

// overlaps reports whether two intervals certainly share an instant. Open
// intervals reach to infinity. The test holds also for answers that prove
// no stretch (From not before Until): such a grant was held at some instant
// in [Until, From], and whichever it was, it lies in the other interval when
// the other's [From, Until) contains the whole of [Until, From].
func (iv Interval) overlaps(o Interval) bool {
	return (iv.Open() || o.From.Before(iv.Until)) && (o.Open() || iv.From.Before(o.Until))
}

func (iv Interval) sameGrant(o Interval) bool {
	return iv.Member == o.Member && iv.Token == o.Token
}

// String renders the interval with absolute times (UTC, milliseconds).
func (iv Interval) String() string {
	grant := fmt.Sprintf("%s p%d token %d", iv.Member, iv.Partition, iv.Token)
	from, until := iv.From.UTC().Format(timeFormat), iv.Until.UTC().Format(timeFormat)
	switch {
	case iv.Open():
		return fmt.Sprintf("%s [%s, open)", grant, from)
	case iv.src == answer && !iv.From.Before(iv.Until):
		return fmt.Sprintf("%s held at an instant in [%s, %s]", grant, until, from)
	}
	return fmt.Sprintf("%s [%s, %s)", grant, from, until)
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
	// listed holds the grants listed by the observation being recorded.
	listed map[grantKey]bool
	// bad records holdings outside 0..P-1.
	bad []Violation
}

// New returns an empty Checker for partitions 0..partitions-1.
func New(partitions int) *Checker {
	return &Checker{
		partitions: partitions,
		intervals:  make([][]Interval, partitions),
		open:       map[grantKey]int{},
		listed:     map[grantKey]bool{},
	}
}

// Observe records an exact observation: what member's application may work
// on at global time at, until the member's next observation: its holdings in
// state owned or releasing (both count). An empty list ends all of the
// member's intervals. Observations must not go back in time (a test bug:
// Observe panics). Several members may be observed at one instant, and each
// member should be observed at every step of the test, or its holdings count
// as held until its next observation.
func (c *Checker) Observe(at time.Time, member string, holdings []partitions.Holding) {
	if c.observed && at.Before(c.last) {
		panic(fmt.Sprintf("ownercheck: observation at %v before the last one at %v", at, c.last))
	}
	c.begin(at, at)
	for _, h := range holdings {
		c.list(member, h, exact, at, at)
	}
	c.end(member, at)
}

// ObserveAnswer records member's answer to a request sent at sent and
// received at recv, listing its holdings in state owned or releasing. One
// member's answers must be recorded in the order their requests were sent;
// answers of different members may come in any order.
func (c *Checker) ObserveAnswer(member string, sent, recv time.Time, holdings []partitions.Holding) {
	if recv.Before(sent) {
		panic(fmt.Sprintf("ownercheck: answer received at %v before its request was sent at %v", recv, sent))
	}
	c.begin(sent, recv)
	for _, h := range holdings {
		c.list(member, h, answer, sent, recv)
	}
	c.end(member, recv)
}

// ObserveLeases records what member's application was shown in an answer it
// received at recv: the grants it may work on, each with its deadline in
// Until (as partitions.Ownership.Visible gives them). The application works
// on a grant from the first answer that lists it before its deadline, until
// the latest deadline shown, and stops at the first answer that no longer
// lists it (leave out a grant the application lets go of early, such as one
// it acknowledges releasing). One member's answers must be recorded in the
// order they were received; answers of different members may come in any
// order.
func (c *Checker) ObserveLeases(member string, recv time.Time, leases []partitions.Holding) {
	c.begin(recv, recv)
	for _, h := range leases {
		c.list(member, h, lease, recv, recv)
	}
	c.end(member, recv)
}

// begin starts recording an observation made between sent and recv.
func (c *Checker) begin(sent, recv time.Time) {
	if !c.observed || sent.Before(c.first) {
		c.first = sent
	}
	if !c.observed || recv.After(c.last) {
		c.last = recv
	}
	c.observed = true
	clear(c.listed)
}

// list records that the observation lists member's holding h (h.Until
// counts for leases only).
func (c *Checker) list(member string, h partitions.Holding, src source, sent, recv time.Time) {
	if h.ID < 0 || h.ID >= c.partitions {
		c.bad = append(c.bad, Violation{Kind: BadPartition, Partition: h.ID,
			First: Interval{Member: member, Partition: h.ID, Token: h.Token, From: recv, Until: sent, src: src}})
		return
	}
	k := grantKey{member, h.ID, h.Token}
	if i, ok := c.open[k]; ok {
		c.listed[k] = true
		iv := &c.intervals[h.ID][i]
		switch src {
		case answer:
			// Held from the earliest receipt to the latest sending of
			// the answers that list it.
			if sent.After(iv.Until) {
				iv.Until = sent
			}
			if recv.Before(iv.From) {
				iv.From = recv
			}
		case lease:
			if h.Until.After(iv.Until) {
				iv.Until = h.Until
			}
		}
		return
	}
	iv := Interval{Member: member, Partition: h.ID, Token: h.Token, From: recv, src: src}
	switch src {
	case answer:
		// One answer proves holding at an instant of [sent, recv] only.
		iv.Until, iv.seen = sent, sent
	case lease:
		if !h.Until.After(recv) {
			return // shown too late to work on
		}
		iv.Until = h.Until
	}
	c.listed[k] = true
	c.open[k] = len(c.intervals[h.ID])
	c.intervals[h.ID] = append(c.intervals[h.ID], iv)
}

// end closes member's intervals that the observation received at recv did
// not list.
func (c *Checker) end(member string, recv time.Time) {
	for k, i := range c.open {
		if k.member != member || c.listed[k] {
			continue
		}
		iv := &c.intervals[k.partition][i]
		switch iv.src {
		case exact:
			iv.Until = recv
		case lease:
			if recv.Before(iv.Until) {
				iv.Until = recv
			}
		}
		// An answer's interval stays as proven: the grant was let go of at
		// some unknown instant after the last listing request was sent.
		delete(c.open, k)
	}
}

// Intervals returns partition p's intervals, in the order they started (then
// by member and token). Empty intervals (held for no time, or answers that
// prove no stretch of it) are left out.
func (c *Checker) Intervals(p int) []Interval {
	if p < 0 || p >= c.partitions {
		return nil
	}
	out := make([]Interval, 0, len(c.intervals[p]))
	for _, iv := range c.intervals[p] {
		if !iv.empty() {
			out = append(out, iv)
		}
	}
	sortIntervals(out, Interval.start)
	return out
}

func (iv Interval) start() time.Time { return iv.From }

// sortIntervals sorts by the time key picks, then by member and token.
func sortIntervals(ivs []Interval, key func(Interval) time.Time) {
	sort.SliceStable(ivs, func(i, j int) bool {
		a, b := ivs[i], ivs[j]
		if ka, kb := key(a), key(b); !ka.Equal(kb) {
			return ka.Before(kb)
		}
		if a.Member != b.Member {
			return a.Member < b.Member
		}
		return a.Token < b.Token
	})
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
	judged := c.judged(p)
	var out []Violation
	// Overlaps: sweep in start order, keeping the intervals that may still
	// overlap a later one. An answer that proves no stretch takes part too:
	// it overlaps an interval that holds the whole of its window.
	var active []Interval
	for _, iv := range judged {
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
	// token. A proven interval seen in one answer only counts too: the
	// answers in between showed it let go.
	ended := map[grantKey]Interval{}
	for _, iv := range judged {
		k := grantKey{iv.Member, p, iv.Token}
		if prev, ok := ended[k]; ok {
			out = append(out, Violation{Kind: Relisted, Partition: p, First: prev, Second: iv})
			continue
		}
		ended[k] = iv
	}
	// Token order: every grant's token must be above the tokens of the
	// other grants held before it was first seen. An interval held at its
	// From counts from then on; a later grant can have been granted no
	// earlier than it was seen (or it overlapped).
	sortIntervals(judged, Interval.firstSeen)
	var best *Interval                   // the highest token among those held earlier
	sameToken := map[uint64][]Interval{} // those held earlier, by token
	next := 0                            // ivs[:next] were held before the current group
	for i := 0; i < len(judged); {
		j := i
		for j < len(judged) && judged[j].firstSeen().Equal(judged[i].firstSeen()) {
			j++
		}
		for ; next < len(ivs) && ivs[next].From.Before(judged[i].firstSeen()); next++ {
			iv := ivs[next]
			if best == nil || iv.Token > best.Token {
				best = &ivs[next]
			}
			sameToken[iv.Token] = append(sameToken[iv.Token], iv)
		}
		for _, iv := range judged[i:j] {
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
		i = j
	}
	return out
}

// judged returns partition p's intervals that count for overlaps,
// relisting and token order (see Interval.judged), in the order they
// started.
func (c *Checker) judged(p int) []Interval {
	var out []Interval
	for _, iv := range c.intervals[p] {
		if iv.judged() {
			out = append(out, iv)
		}
	}
	sortIntervals(out, Interval.start)
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
