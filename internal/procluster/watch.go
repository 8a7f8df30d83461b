package procluster

import (
	"context"
	"sync"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/ownercheck"
	"github.com/ringd/ringd/partitions"
)

// Watcher polls every member's GET /partitions/mine in the background and
// checks the promise of at most one owner from outside, as an application
// would see it.
//
// Polling several processes is never atomic, so two members listing the same
// partition in one round of polls proves nothing: one may have let go between
// the two answers. The watcher therefore feeds every answer, bounded by the
// time its request was sent and its answer received, to an ownership checker
// (internal/ownercheck) that reports only what the answers prove: double
// owners, grants held again after they were let go, and tokens out of order.
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
	mu    sync.Mutex
	check *ownercheck.Checker
	polls int
}

// NewProof returns an empty Proof for partitions 0..partitions-1.
func NewProof(partitions int) *Proof { return &Proof{check: ownercheck.New(partitions)} }

// Watch starts a watcher polling every `every` until Stop.
func (c *Cluster) Watch(ctx context.Context, every time.Duration) *Watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{c: c, cancel: cancel, done: make(chan struct{}), Proof: NewProof(c.Partitions())}
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
// at sent and received at recv. One member's answers must be recorded in the
// order they were sent.
func (w *Proof) Record(member string, parts []api.Partition, sent, recv time.Time) {
	holdings := make([]partitions.Holding, 0, len(parts))
	for _, p := range parts {
		holdings = append(holdings, partitions.Holding{ID: p.ID, Token: p.Token})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	w.check.ObserveAnswer(member, sent, recv, holdings)
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

// Violations lists what the answers prove: double owners, grants held again
// and tokens out of order, one line each.
func (w *Proof) Violations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, v := range w.check.Violations() {
		out = append(out, v.String())
	}
	return out
}
