package daemon

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ringd/ringd/partitions"
)

// recordingPeer is a deliver function that holds every send until the test
// lets it go, and records what it was given (prefixed with the peer, for a
// peer other than "b").
type recordingPeer struct {
	mu      sync.Mutex
	got     []string
	release chan struct{}
}

func (p *recordingPeer) deliver(to string, b []byte) error {
	<-p.release
	p.mu.Lock()
	defer p.mu.Unlock()
	if to != "b" {
		to = "(" + to + ") "
	} else {
		to = ""
	}
	p.got = append(p.got, to+string(b))
	return nil
}

func (p *recordingPeer) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSenderSendsOnlyTheNewestQueuedTable(t *testing.T) {
	peer := &recordingPeer{release: make(chan struct{})}
	m := newMetrics()
	s := newSender(peer.deliver, m)
	defer s.close()
	table := func(term, version uint64) outMsg {
		return outMsg{b: fmt.Appendf(nil, "table %d.%d", term, version), table: partitions.TableID{Term: term, Version: version}}
	}

	// The first message is taken at once and held in deliver: everything
	// after it queues behind it.
	s.enqueue("b", outMsg{b: []byte("report 1")})
	waitFor(t, "the first send to start", func() bool { return queued(s, "b") == 0 && len(s.queues["b"].wake) == 0 })
	s.enqueue("b", table(5, 1))
	s.enqueue("b", outMsg{b: []byte("report 2")})
	s.enqueue("b", table(5, 2))
	s.enqueue("c", table(5, 1)) // another peer's queue is its own
	s.enqueue("b", outMsg{b: []byte("vote")})
	s.enqueue("b", table(6, 1))
	s.enqueue("b", table(5, 3)) // a deposed leader's: older than the one queued
	s.enqueue("b", table(6, 1)) // a repeat
	close(peer.release)

	want := []string{"report 1", "table 6.1", "report 2", "vote"}
	waitFor(t, "every message to be sent", func() bool { return len(peer.received()) >= len(want)+1 })
	got := peer.received()
	toB := slices.DeleteFunc(slices.Clone(got), func(m string) bool { return m == "(c) table 5.1" })
	if !slices.Equal(toB, want) || len(got) != len(want)+1 {
		t.Fatalf("sent %q, want %q: one table per peer, the newest, in the place of the first queued; the rest in order", got, want)
	}
	if n := counterValue(t, m.tablesSuperseded); n != 2 {
		t.Fatalf("ringd_peer_tables_superseded_total = %v, want 2 (5.1 by 5.2, 5.2 by 6.1)", n)
	}
}

func TestSenderForgetEndsThePeersGoroutine(t *testing.T) {
	peer := &recordingPeer{release: make(chan struct{})}
	close(peer.release)
	s := newSender(peer.deliver, newMetrics())
	defer s.close()
	s.enqueue("b", outMsg{b: []byte("one")})
	waitFor(t, "the first send", func() bool { return len(peer.received()) == 1 })
	ended := make(chan struct{})
	go func() { s.wait(); close(ended) }() // only b's goroutine runs
	s.forget("b")
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the forgotten peer's goroutine did not end")
	}
	// A member of that name coming back gets a new queue.
	s.enqueue("b", outMsg{b: []byte("two")})
	waitFor(t, "a send to the returning peer", func() bool { return len(peer.received()) == 2 })
}

func TestSenderDropsTheOldestWhenAPeerQueueIsFull(t *testing.T) {
	peer := &recordingPeer{release: make(chan struct{})}
	m := newMetrics()
	s := newSender(peer.deliver, m)
	defer s.close()

	s.enqueue("b", outMsg{b: []byte("held")})
	waitFor(t, "the first send to start", func() bool { return queued(s, "b") == 0 && len(s.queues["b"].wake) == 0 })
	for i := range peerQueueLimit + 3 {
		s.enqueue("b", outMsg{b: []byte{byte(i)}})
	}
	if n := queued(s, "b"); n != peerQueueLimit {
		t.Fatalf("%d messages queued, want the limit %d", n, peerQueueLimit)
	}
	if n := counterValue(t, m.sendFailures.WithLabelValues("queue")); n != 3 {
		t.Fatalf("queue send failures = %v, want 3", n)
	}
	close(peer.release)
	waitFor(t, "the queue to drain", func() bool { return len(peer.received()) == peerQueueLimit+1 })
	if got := peer.received(); got[1] != string([]byte{3}) {
		t.Fatalf("first queued message sent is %q, want the 4th (the 3 oldest dropped)", got[1])
	}
}

func TestSenderStopDropsWhatIsQueued(t *testing.T) {
	peer := &recordingPeer{release: make(chan struct{})}
	s := newSender(peer.deliver, newMetrics())
	s.enqueue("b", outMsg{b: []byte("held")})
	waitFor(t, "the first send to start", func() bool { return queued(s, "b") == 0 && len(s.queues["b"].wake) == 0 })
	s.enqueue("b", outMsg{b: []byte("queued")})
	s.stop()
	close(peer.release)
	s.wait()
	s.enqueue("b", outMsg{b: []byte("after stop")})
	if got := peer.received(); !slices.Equal(got, []string{"held"}) {
		t.Fatalf("sent %q, want only the message already being sent", got)
	}
}

func queued(s *sender, to string) int {
	s.mu.Lock()
	q := s.queues[to]
	s.mu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
