package restapi

import (
	"strconv"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// A plain GET /partitions/mine used to read and encode the member's view
// for every request: ~200 partitions with 16-digit tokens, most of a
// request's CPU (figure f of docs/benchmarks.md). What changes from one
// request to the next is only the time left on the lease and on each
// partition; the rest changes with the member's view, a few times a second
// at most. So a Source that can hand out its view with deadlines
// (DeadlineSource) has it encoded once per view into a template, and each
// request writes the template with the remaining times of its own instant.

// MineDeadlines is a member's GET /partitions/mine view with its lease and
// each partition's end as instants rather than as what is left of them. It
// must not be changed once handed out.
type MineDeadlines struct {
	// Mine is the view; its LeaseRemainingMs and its partitions' are not
	// used (At computes them).
	Mine api.Mine
	// LeaseUntil is when the member's lease runs out.
	LeaseUntil time.Time
	// Until holds, for each of Mine.Partitions, the instant until which the
	// app may work on it (the lease, or a releasing partition's release
	// deadline when that comes first).
	Until []time.Time
	// Changed is closed as soon as the view's Index changes.
	Changed <-chan struct{}
}

// DeadlineSource is implemented by a Source whose view can be read as
// MineDeadlines. MineDeadlines returns the same pointer for as long as the
// view is the same, so that its encoding is made once.
type DeadlineSource interface {
	MineDeadlines() *MineDeadlines
}

// leaseLeft is what is left of the lease at now, rounded down to whole
// milliseconds so that it never claims more than there is; valid is false
// once the lease ran out (then the app may work on nothing).
func (m *MineDeadlines) leaseLeft(now time.Time) (ms int64, valid bool) {
	left := m.LeaseUntil.Sub(now)
	if left <= 0 {
		return 0, false
	}
	return left.Milliseconds(), true
}

// partitionLeft is what is left of partition i at now, in whole
// milliseconds; 0 means its time passed and it is not shown.
func (m *MineDeadlines) partitionLeft(i int, now time.Time) int64 {
	return max(m.Until[i].Sub(now), 0).Milliseconds()
}

// At is the view as a reader sees it at now: the lease checked against the
// clock of the read, not of the view (a loop that stalled must not make the
// member claim partitions past its lease), and a partition whose time passed
// left out.
func (m *MineDeadlines) At(now time.Time) api.Mine {
	out := m.Mine
	out.LeaseRemainingMs = 0
	out.Partitions = make([]api.Partition, 0, len(m.Mine.Partitions))
	ms, valid := m.leaseLeft(now)
	if !valid {
		return out
	}
	out.LeaseRemainingMs = ms
	for i, p := range m.Mine.Partitions {
		if p.LeaseRemainingMs = m.partitionLeft(i, now); p.LeaseRemainingMs > 0 {
			out.Partitions = append(out.Partitions, p)
		}
	}
	return out
}

// mineTemplate is the encoding of one MineDeadlines without its times.
type mineTemplate struct {
	from *MineDeadlines
	// head is the answer up to and including `"heldMs":`.
	head []byte
	// parts holds each partition's JSON up to and including
	// `"leaseRemainingMs":`, one after the other; partition i's ends at
	// partEnd[i].
	parts   []byte
	partEnd []int
	// standby is the "standby" member after the partitions (no times in
	// it), empty when there is none.
	standby []byte
}

// newMineTemplate encodes m with placeholders for the times.
func newMineTemplate(m *MineDeadlines) *mineTemplate {
	v := m.Mine
	v.Partitions = nil
	b, held := appendMine(nil, v, 0)
	t := &mineTemplate{from: m, head: b[:held:held], partEnd: make([]int, len(m.Mine.Partitions))}
	t.parts = make([]byte, 0, 64*len(m.Mine.Partitions))
	for i, p := range m.Mine.Partitions {
		t.parts = appendPartitionHead(t.parts, p)
		t.partEnd[i] = len(t.parts)
	}
	t.standby = appendStandby(nil, m.Mine.Standby)
	return t
}

// appendAt appends the answer at now with the given heldMs: the same bytes
// appendMine writes for t.from.At(now) (TestMineTemplateMatchesAt).
func (t *mineTemplate) appendAt(b []byte, now time.Time, heldMs int64) []byte {
	m := t.from
	b = append(b, t.head...)
	b = strconv.AppendInt(b, heldMs, 10)
	b = append(b, `,"leaseRemainingMs":`...)
	ms, valid := m.leaseLeft(now)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, `,"partitions":[`...)
	if valid {
		// Most partitions end together (with the lease), so the digits of
		// the last deadline are kept rather than formatted again.
		var (
			first, start = true, 0
			lastUntil    time.Time
			left         int64
			digits       = make([]byte, 0, 20)
		)
		for i, end := range t.partEnd {
			if i == 0 || !m.Until[i].Equal(lastUntil) {
				lastUntil = m.Until[i]
				left = m.partitionLeft(i, now)
				digits = strconv.AppendInt(digits[:0], left, 10)
			}
			if left > 0 {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = append(b, t.parts[start:end]...)
				b = append(b, digits...)
				b = append(b, '}')
			}
			start = end
		}
	}
	b = append(b, ']')
	b = append(b, t.standby...)
	return append(b, "}\n"...)
}

// mineTemplate returns the template of m, made once per view.
func (s *Server) mineTemplate(m *MineDeadlines) *mineTemplate {
	if t := s.lastTemplate.Load(); t != nil && t.from == m {
		return t
	}
	t := newMineTemplate(m)
	s.lastTemplate.Store(t)
	return t
}
