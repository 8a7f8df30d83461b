package daemon

import (
	"sync"
)

// sender delivers reliable peer messages, one goroutine and queue per peer,
// so a slow or dead peer never blocks the loop or the other peers.
type sender struct {
	d      *Daemon
	mu     sync.Mutex
	queues map[string]chan []byte
	wg     sync.WaitGroup
	closed bool
}

// peerQueue bounds what waits for one peer; when full the oldest message is
// dropped: the protocol re-sends what matters (tables on request, reports on
// mismatch).
const peerQueue = 64

func newSender(d *Daemon) *sender {
	return &sender{d: d, queues: map[string]chan []byte{}}
}

func (s *sender) enqueue(to string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	q := s.queues[to]
	if q == nil {
		q = make(chan []byte, peerQueue)
		s.queues[to] = q
		s.wg.Add(1)
		go s.run(to, q)
	}
	for {
		select {
		case q <- b:
			return
		default:
			select {
			case <-q:
				s.d.metrics.sendFailures.WithLabelValues("queue").Inc()
			default:
			}
		}
	}
}

func (s *sender) run(to string, q chan []byte) {
	defer s.wg.Done()
	for b := range q {
		n := s.d.node(to)
		if n == nil || s.stopped() {
			continue
		}
		if err := s.d.ml.SendReliable(n, b); err != nil {
			s.d.metrics.sendFailures.WithLabelValues("tcp").Inc()
			s.d.log.Named(LogPeer).Debug("reliable send failed", "to", to, "error", err)
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
		close(q)
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
			close(q)
		}
	}
}

func (s *sender) stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// wait waits for the per-peer goroutines to end.
func (s *sender) wait() { s.wg.Wait() }

// close stops the sender and waits for it.
func (s *sender) close() {
	s.stop()
	s.wait()
}
