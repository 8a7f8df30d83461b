package daemon

import (
	"slices"
	"sync"

	"github.com/ringd/ringd/partitions"
)

// sender delivers reliable peer messages, one goroutine and queue per peer,
// so a slow or dead peer never blocks the loop or the other peers.
type sender struct {
	// deliver sends one message to a peer over the reliable channel.
	deliver func(to string, b []byte) error
	m       *metrics
	mu      sync.Mutex
	queues  map[string]*peerQueue
	wg      sync.WaitGroup
	closed  bool
}

// peerQueueLimit bounds what waits for one peer; when full the oldest message is
// dropped: the protocol re-sends what matters (tables on request, reports on
// mismatch).
const peerQueueLimit = 64

// peerQueue is what waits for one peer.
type peerQueue struct {
	mu    sync.Mutex
	items []outMsg
	// wake has room for one signal: something was queued.
	wake chan struct{}
	// done is closed when the queue ends (forget, stop); what is still
	// queued is dropped.
	done chan struct{}
}

// outMsg is one encoded peer message. A table is the leader's whole state
// of the assignment, and a newer one (a higher TableID) makes an older one
// worthless: when a table is queued for a peer that already has one
// waiting, only the newer of the two stays, in the place of the one queued
// first, so a member that fell behind (a busy machine, a slow link,
// hundreds of members each sent every version of a burst) gets the newest
// table next instead of working through every version in between (issue
// 11, figure e). Skipping versions is safe as losing them is: a member
// applies any table newer than its own, and heartbeats name the newest
// table, which a member that lacks it asks for.
type outMsg struct {
	b []byte
	// table is the id of the table the message carries (zero: none).
	table partitions.TableID
}

func newSender(deliver func(to string, b []byte) error, m *metrics) *sender {
	return &sender{deliver: deliver, m: m, queues: map[string]*peerQueue{}}
}

func (s *sender) enqueue(to string, m outMsg) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	q := s.queues[to]
	if q == nil {
		q = &peerQueue{wake: make(chan struct{}, 1), done: make(chan struct{})}
		s.queues[to] = q
		s.wg.Add(1)
		go s.run(to, q)
	}
	s.mu.Unlock()

	superseded, overflowed := q.put(m)
	if superseded {
		s.m.tablesSuperseded.Inc()
	}
	if overflowed {
		s.m.sendFailures.WithLabelValues("queue").Inc()
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// put queues m: a table replaces an older queued one in its place (and is
// dropped when the queued one is as new or newer); when the queue is full
// its oldest message goes.
func (q *peerQueue) put(m outMsg) (superseded, overflowed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	isTable := func(o outMsg) bool { return o.table != (partitions.TableID{}) }
	if i := slices.IndexFunc(q.items, isTable); i >= 0 && isTable(m) {
		if q.items[i].table.Less(m.table) {
			q.items[i] = m
			return true, false
		}
		return false, false // a repeat, or a deposed leader's older table
	}
	if len(q.items) >= peerQueueLimit {
		q.items = q.items[1:]
		overflowed = true
	}
	q.items = append(q.items, m)
	return false, overflowed
}

// take removes and returns the oldest queued message.
func (q *peerQueue) take() (outMsg, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return outMsg{}, false
	}
	m := q.items[0]
	q.items[0] = outMsg{}
	q.items = q.items[1:]
	return m, true
}

func (s *sender) run(to string, q *peerQueue) {
	defer s.wg.Done()
	for {
		select {
		case <-q.done:
			return
		case <-q.wake:
		}
		for m, ok := q.take(); ok; m, ok = q.take() {
			select {
			case <-q.done:
				return
			default:
			}
			if err := s.deliver(to, m.b); err != nil {
				s.m.sendFailures.WithLabelValues("tcp").Inc()
			}
		}
	}
}

// forget ends the queue and goroutine of a peer that is gone for good, so
// that members coming and going under new names (every rollout) do not
// leave one goroutine each behind. What is still queued is dropped.
func (s *sender) forget(to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[to]; q != nil && !s.closed {
		close(q.done)
		delete(s.queues, to)
	}
}

// stop refuses new messages and makes the per-peer goroutines drop what is
// still queued instead of sending it.
func (s *sender) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		for _, q := range s.queues {
			close(q.done)
		}
	}
}

// wait waits for the per-peer goroutines to end.
func (s *sender) wait() { s.wg.Wait() }

// close stops the sender and waits for it.
func (s *sender) close() {
	s.stop()
	s.wait()
}
