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
		if n == nil {
			continue
		}
		if err := s.d.ml.SendReliable(n, b); err != nil {
			s.d.metrics.sendFailures.WithLabelValues("tcp").Inc()
			s.d.log.Debug("reliable send failed", "to", to, "error", err)
		}
	}
}

func (s *sender) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for _, q := range s.queues {
			close(q)
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}
