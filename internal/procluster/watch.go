package procluster

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// Watcher polls every member's GET /partitions/mine in the background and
// checks the promise of at most one owner from outside, as an application
// would see it.
//
// Polling several processes is never atomic, so two members listing the same
// partition in one round of polls proves nothing: one may have let go between
// the two answers. The watcher only counts what it can prove. A member answers
// with a (partition, token) in a response that was sent at s and received at
// r, so it held that grant at some instant in [s, r]. A member never takes a
// grant again once it let go of it, so two answers listing the same grant
// prove it held it during the whole time between the first answer's receipt
// and the second request's sending. Two members whose proven intervals for one
// partition overlap held it at the same time: a double owner. The watcher also
// checks that a partition's grants appear in increasing token order.
type Watcher struct {
	c      *Cluster
	cancel context.CancelFunc
	done   chan struct{}
	*Proof
}

// Proof collects observations of members' holdings, each with the time the
// request was sent and the answer received, and reports what they prove (see
// Watcher). It is safe for concurrent use.
type Proof struct {
	mu sync.Mutex
	// spans holds, per partition, the grants seen.
	spans map[int][]*span
	polls int
}

// NewProof returns an empty Proof.
func NewProof() *Proof { return &Proof{spans: map[int][]*span{}} }

// span is what one member's answers prove about one grant.
type span struct {
	member string
	token  uint64
	// firstRecv and lastSent bound the proven holding; proven only when
	// lastSent > firstRecv (two answers).
	firstRecv, lastSent time.Time
	// firstSent is the earliest the grant was seen (for token order).
	firstSent time.Time
}

// Watch starts a watcher polling every `every` until Stop.
func (c *Cluster) Watch(ctx context.Context, every time.Duration) *Watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{c: c, cancel: cancel, done: make(chan struct{}), Proof: NewProof()}
	go w.run(ctx, every)
	return w
}

func (w *Watcher) run(ctx context.Context, every time.Duration) {
	defer close(w.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, name := range w.c.Names() {
			m := w.c.Member(name)
			wg.Go(func() {
				rctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				sent := time.Now()
				v, err := m.Mine(rctx)
				recv := time.Now()
				if err == nil {
					w.Record(name, v.Partitions, sent, recv)
				}
			})
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Record adds one answer: member listed parts in an answer to a request sent
// at sent and received at recv.
func (w *Proof) Record(member string, parts []api.Partition, sent, recv time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	for _, p := range parts {
		var sp *span
		for _, s := range w.spans[p.ID] {
			if s.member == member && s.token == p.Token {
				sp = s
				break
			}
		}
		if sp == nil {
			w.spans[p.ID] = append(w.spans[p.ID], &span{member: member, token: p.Token,
				firstRecv: recv, lastSent: sent, firstSent: sent})
			continue
		}
		if sent.After(sp.lastSent) {
			sp.lastSent = sent
		}
	}
}

// Stop ends the polling and returns every violation found, or nil.
func (w *Watcher) Stop() []string {
	w.cancel()
	<-w.done
	return w.Violations()
}

// Polls is how many answers were recorded (to show something was watched).
func (w *Proof) Polls() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.polls
}

// Violations lists proven double owners and tokens seen out of order.
func (w *Proof) Violations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	ids := make([]int, 0, len(w.spans))
	for id := range w.spans {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		spans := w.spans[id]
		for i, a := range spans {
			for _, b := range spans[i+1:] {
				if a.member == b.member {
					continue
				}
				if overlap(a, b) {
					out = append(out, fmt.Sprintf("partition %d held by %s (token %d) and %s (token %d) at the same time, between %s and %s",
						id, a.member, a.token, b.member, b.token,
						later(a.firstRecv, b.firstRecv).Format("15:04:05.000"), earlier(a.lastSent, b.lastSent).Format("15:04:05.000")))
				}
				// A grant proven to end before another was first seen must
				// have the smaller token.
				if a.token != b.token {
					first, second := a, b
					if second.lastSent.Before(first.firstSent) {
						first, second = second, first
					}
					if proven(first) && first.lastSent.Before(second.firstSent) && first.token > second.token {
						out = append(out, fmt.Sprintf("partition %d: token %d (%s) came after token %d (%s)",
							id, second.token, second.member, first.token, first.member))
					}
				}
			}
		}
	}
	return out
}

func proven(s *span) bool { return s.lastSent.After(s.firstRecv) }

func overlap(a, b *span) bool {
	if !proven(a) || !proven(b) {
		return false
	}
	return a.firstRecv.Before(b.lastSent) && b.firstRecv.Before(a.lastSent)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
