package restapi

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ringd/ringd/clientlib/api"
)

// GET /partitions/mine is the hottest route: every application polls it, and
// a member's thousands of watchers all answer at once when its index moves.
// encoding/json spent most of a request's time reflecting over ~200
// partitions, and every woken watcher read and encoded the same view again.
// So the answer is encoded here by hand, once per view, into bytes that are
// identical to what echo's c.JSON wrote (encoding/json with HTML escaping and
// a trailing newline; TestMineJSONMatchesEncodingJSON holds them equal), and
// requests that may send the same view share its encoding.

// mineAnswer is one encoded GET /partitions/mine answer. It is immutable once
// made and shared by every request that may send it (see Server.mineAnswer).
type mineAnswer struct {
	// read is when the view was read (taken just before calling the
	// Source).
	read time.Time
	// at is the instant the answer's remaining times are for: read, or a
	// little after it for a DeadlineSource (answerLookahead). A request
	// sends heldMs = at - its start, so that heldMs plus each
	// leaseRemainingMs, counted from the request's send time, never reaches
	// past the real deadline however late the shared answer is written; so
	// an answer goes only to requests that started at or before its at.
	at      time.Time
	index   uint64
	changed <-chan struct{}
	// from is the view of a DeadlineSource the answer was made of (nil
	// for a plain Source): it is shared only while that view is current.
	from *MineDeadlines
	// head is the JSON up to and including `"heldMs":`, tail the rest from
	// the comma after the heldMs value, newline included.
	head, tail []byte
}

// maxAnswerAge bounds how old a shared answer may be when a request picks it
// up. Any age would keep the deadlines right (see mineAnswer.at), but a
// reader that looks at leaseRemainingMs alone should not see it much lower
// than it is; 50 ms is far below any lease and still lets one encoding serve
// a whole burst of woken watchers.
const maxAnswerAge = 50 * time.Millisecond

// encodeMine encodes v, read at `at`, as a mineAnswer.
func encodeMine(at time.Time, v api.Mine, changed <-chan struct{}) *mineAnswer {
	// Room for the partitions at ~80 bytes each, so that one allocation is
	// enough in the common case.
	b, held := appendMine(make([]byte, 0, 256+80*len(v.Partitions)), v, 0)
	// The placeholder 0 of heldMs is one digit; each request writes its own.
	return &mineAnswer{read: at, at: at, index: v.Index, changed: changed, head: b[:held:held], tail: b[held+1:]}
}

// answerLookahead is how far past its read an answer from a template is
// dated: its remaining times are those of read + answerLookahead, a little
// less than they are, so that requests that start within that time may
// share it (plain reads under load come many per millisecond). Short enough
// that nobody reading leaseRemainingMs notices.
const answerLookahead = time.Millisecond

// encodeTemplate writes the template t as an answer dated at.
func encodeTemplate(read, at time.Time, t *mineTemplate) *mineAnswer {
	b := t.appendAt(make([]byte, 0, len(t.head)+len(t.parts)+len(t.partEnd)*8+64), at, 0)
	held := len(t.head)
	return &mineAnswer{read: read, at: at, index: t.from.Mine.Index, changed: t.from.Changed, from: t.from, head: b[:held:held], tail: b[held+1:]}
}

// appendMine appends v as JSON with heldMs set to heldMs and returns where
// the heldMs value starts.
func appendMine(b []byte, v api.Mine, heldMs int64) (out []byte, heldAt int) {
	b = append(b, `{"node":`...)
	b = appendJSONString(b, v.Node)
	b = append(b, `,"incarnation":`...)
	b = appendJSONString(b, v.Incarnation)
	b = append(b, `,"term":`...)
	b = strconv.AppendUint(b, v.Term, 10)
	b = append(b, `,"index":`...)
	b = strconv.AppendUint(b, v.Index, 10)
	b = append(b, `,"leader":`...)
	b = appendJSONString(b, v.Leader)
	b = append(b, `,"draining":`...)
	b = strconv.AppendBool(b, v.Draining)
	if v.DrainReason != "" {
		b = append(b, `,"drainReason":`...)
		b = appendJSONString(b, v.DrainReason)
	}
	b = append(b, `,"heldMs":`...)
	heldAt = len(b)
	b = strconv.AppendInt(b, heldMs, 10)
	b = append(b, `,"leaseRemainingMs":`...)
	b = strconv.AppendInt(b, v.LeaseRemainingMs, 10)
	b = append(b, `,"partitions":[`...)
	for i, p := range v.Partitions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPartitionHead(b, p)
		b = strconv.AppendInt(b, p.LeaseRemainingMs, 10)
		b = append(b, '}')
	}
	b = append(b, ']')
	b = appendStandby(b, v.Standby)
	return append(b, "}\n"...), heldAt
}

// appendStandby appends the "standby" member of the answer (after the
// partitions), nothing when list is empty (omitempty).
func appendStandby(b []byte, list []api.Standby) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, `,"standby":[`...)
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(s.ID), 10)
		b = append(b, `,"rank":`...)
		b = strconv.AppendInt(b, int64(s.Rank), 10)
		b = append(b, `,"owner":`...)
		b = appendJSONString(b, s.Owner)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendPartitionHead appends p's JSON object up to and including
// `"leaseRemainingMs":`.
func appendPartitionHead(b []byte, p api.Partition) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(p.ID), 10)
	b = append(b, `,"token":`...)
	b = strconv.AppendUint(b, p.Token, 10)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, p.State)
	return append(b, `,"leaseRemainingMs":`...)
}

// appendJSONString appends s as encoding/json writes it (HTML-safe). Names,
// states and decimal numbers take the fast path; anything else goes through
// encoding/json itself, so the two can never disagree.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// isClosed reports whether ch is closed (the view it came with is outdated).
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// mineAnswer returns an answer read at or after `after`: the shared one when
// it was, is still current (its change channel is open, so the index has not
// moved since) and is younger than maxAnswerAge; otherwise a fresh one, which
// it shares. Every watcher woken by one change can so send one encoding,
// read after the change.
func (s *Server) mineAnswer(after time.Time) *mineAnswer {
	now := time.Now()
	if a := s.lastMine.Load(); a != nil && !a.read.Before(after) && now.Sub(a.read) <= maxAnswerAge && s.current(a) {
		return a
	}
	return s.newAnswer(now)
}

// current reports whether a shows the source's view as it is now: its index
// has not moved (its change channel is open) and, for a DeadlineSource, it
// was made of the view the source hands out now. Two requests may make
// answers at once and the one stored last may be of the older view; a
// client that saw the newer one must not be sent the older one next.
func (s *Server) current(a *mineAnswer) bool {
	if isClosed(a.changed) {
		return false
	}
	if ds, ok := s.src.(DeadlineSource); ok {
		return a.from == ds.MineDeadlines()
	}
	return true
}

// answerFor returns an answer that a request which started at start may
// send: the shared one when it is current and dated at or after start,
// otherwise a fresh one, which it shares.
func (s *Server) answerFor(start time.Time) *mineAnswer {
	now := time.Now()
	if a := s.lastMine.Load(); a != nil && !a.at.Before(start) && now.Sub(a.read) <= maxAnswerAge && s.current(a) {
		return a
	}
	return s.newAnswer(now)
}

// newAnswer reads the view now and shares its answer.
func (s *Server) newAnswer(now time.Time) *mineAnswer {
	var a *mineAnswer
	if ds, ok := s.src.(DeadlineSource); ok {
		a = encodeTemplate(now, now.Add(answerLookahead), s.mineTemplate(ds.MineDeadlines()))
	} else {
		v, ch := s.src.Mine()
		a = encodeMine(now, v, ch)
	}
	for {
		old := s.lastMine.Load()
		if (old != nil && old.read.After(a.read)) || s.lastMine.CompareAndSwap(old, a) {
			break
		}
	}
	return a
}
