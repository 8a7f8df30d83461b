package daemon

import (
	"context"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/partitions"
)

// What in-process clusters (the daemon tests, cmd/ringbench's scale figure)
// need beyond the API: a crash, the core's snapshot without HTTP, and the
// moment each table is applied.

// WithTableApplied calls fn, on the loop goroutine, each time the member's
// applied table changes, with the time of that change: at the leader when it
// publishes the table, at a follower when it applies one. t is shared with
// the API's snapshot: read it, never change it. fn must return quickly and
// must not call back into the daemon.
func WithTableApplied(fn func(t partitions.Table, at time.Time)) Option {
	return func(d *Daemon) { d.tableApplied = fn }
}

// View returns the member's newest snapshot (what the API serves), without
// going through HTTP. The lease in it is as of the snapshot: check
// LeaseUntil against the clock.
func (d *Daemon) View() core.View { return d.snap.Load().view }

// Crash stops the member abruptly, like SIGKILL: no drain, no leave, no
// handover; its peers learn of it only from silence. The transport under
// memberlist stays up unless the caller cuts it (memnet.Network.Crash), so
// cut it first for a faithful crash. Idempotent; Shutdown after it does
// nothing.
func (d *Daemon) Crash() {
	d.shutdownOnce.Do(func() {
		close(d.stop)
		<-d.loopDone
		// As Shutdown does: a send stuck on a stalled peer ends with
		// memberlist, so stop the sender, shut memberlist down, then wait.
		d.sender.stop()
		_ = d.ml.Shutdown()
		d.sender.wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = d.http.Shutdown(ctx)
	})
}
