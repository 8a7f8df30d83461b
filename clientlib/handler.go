package clientlib

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Partition is one grant of a partition to this member: the partition's id
// and the fencing token of the grant. Every later grant of the partition, to
// any member, has a higher token: pass it to storage that can refuse writes
// from an owner that has been replaced.
type Partition struct {
	ID    int
	Token uint64

	// lease is shared by every copy of the value, so Deadline follows the
	// renewals.
	lease *lease
}

// Deadline is the instant until which this member may work on the
// partition (the zero time for a Partition not made by Run or NewPartition;
// compare Partitions by ID and Token, not with ==): when the request that brought the latest answer listing it was
// sent, plus the time ringd held that request, plus the lease ringd said was
// left. Renewals move it on. The worker's context is cancelled the margin
// (WithMargin) before it unless a renewal comes first; a commit that cannot finish before it
// must not be made with this token.
func (p Partition) Deadline() time.Time {
	if p.lease == nil {
		return time.Time{}
	}
	return p.lease.get()
}

// NewPartition returns a Partition with a fixed deadline, for tests of an
// application's Handler. Run gives Work partitions whose deadline follows
// the renewals.
func NewPartition(id int, token uint64, deadline time.Time) Partition {
	return Partition{ID: id, Token: token, lease: &lease{deadline: deadline}}
}

func (p Partition) String() string { return fmt.Sprintf("partition %d (token %d)", p.ID, p.Token) }

// lease is the deadline of one grant, read by the application's goroutines
// and moved by Run.
type lease struct {
	mu       sync.Mutex
	deadline time.Time
}

func (l *lease) get() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

func (l *lease) set(t time.Time) {
	l.mu.Lock()
	l.deadline = t
	l.mu.Unlock()
}

// Why a worker's context is cancelled: context.Cause(ctx) is one of these.
var (
	// ErrRevoked: ringd moved the partition away (it is releasing on this
	// member, or no longer listed, or listed under a newer grant). Return
	// promptly; the release is acknowledged once the worker has returned.
	ErrRevoked = errors.New("clientlib: the partition was revoked")
	// ErrLeaseExpiring: no answer from ringd has renewed the lease and its
	// deadline is less than the margin away (ringd unreachable, or this
	// member cut off from its leader).
	ErrLeaseExpiring = errors.New("clientlib: the lease runs out without a renewal")
	// ErrStopped: Run's context ended.
	ErrStopped = errors.New("clientlib: Run is stopping")
)

// ErrRunning is returned by Run while another Run of the same ringd (the
// same address) is going on in this process, on this Client or another:
// one process must not run two sets of workers for one member.
var ErrRunning = errors.New("clientlib: Run is already running for this ringd in this process")

// Handler is what Run calls for each partition this member gains.
//
// Work runs in a goroutine of its own for one grant, with a context that is
// cancelled when the partition must be given up (context.Cause tells why:
// ErrRevoked, ErrLeaseExpiring, ErrStopped). Run waits for it to return and
// only then acknowledges the release to ringd, so the next owner starts after
// it. Work never runs twice at once for one partition; Works of different
// partitions run concurrently.
//
// If Work returns before its context is cancelled, the error (if any) is
// logged and Work runs again for the same grant after a backoff, for as long
// as the member owns the partition: an application cannot give a partition
// up on its own (drain the member instead).
type Handler interface {
	Work(ctx context.Context, p Partition) error
}

// LostHandler is implemented by a Handler that wants to hear of lost
// partitions. Lost is called once per Work call that had not returned by the
// partition's deadline (or, with WithReturnTimeout, that long after its
// context was cancelled), at that moment, while that Work may still run: it
// may overlap with the next owner, so nothing that Work call does may be
// committed with p.Token. (If ringd still lists the grant later, renewed, a
// new Work call for it gets a fresh deadline.) No other Work starts for the
// partition until Lost has returned; the release may be acknowledged
// meanwhile if the Work call has returned. Without a LostHandler the library
// logs it as an error.
type LostHandler interface {
	Lost(p Partition)
}

// StandbyHandler is implemented by a Handler that wants to know which
// partitions this member stands by for (ringd's --standbys): the ones it is
// next in line for, which it would take over if their owner failed, so that
// it can warm caches. Standby is called from Run's loop with the whole list
// (sorted by partition id) each time it changes, an empty list included; it
// must return quickly and must not work on those partitions: they are not
// this member's until Work is called for them.
type StandbyHandler interface {
	Standby(list []Standby)
}

// Standby is one partition this member stands by for.
type Standby struct {
	ID int
	// Rank is this member's place in the partition's list of standbys: 0
	// is next in line.
	Rank int
	// Owner is the partition's owner now, "" while it has none.
	Owner string
}

// WorkerFunc adapts a function to a Handler: the per-partition worker.
type WorkerFunc func(ctx context.Context, p Partition) error

// Work calls f.
func (f WorkerFunc) Work(ctx context.Context, p Partition) error { return f(ctx, p) }

// Callbacks is a Handler for applications that run their own goroutines. For
// one partition the calls come one after the other, never at once:
// OnAcquired, then OnReleased, or OnLost when the deadline has passed before
// the partition could be given up (say the process was paused), or OnReleased
// followed by OnLost when OnReleased returned past the deadline. OnLost thus
// comes only once OnReleased has returned, and WithReturnTimeout does not
// bring it earlier (Run logs the slow release as lost meanwhile). For
// different partitions they may run concurrently. Nil fields are skipped;
// with OnReleased nil, the release is acknowledged as soon as the partition
// is revoked, whatever goroutines OnAcquired started.
type Callbacks struct {
	// OnAcquired is called when this member gains a grant. It should return
	// soon; ctx is cancelled when the partition must be given up, just
	// before OnReleased.
	OnAcquired func(ctx context.Context, p Partition)
	// OnReleased is called when the partition must be given up while there
	// is still time: stop working on it before returning. The release is
	// acknowledged to ringd after it returns.
	OnReleased func(p Partition)
	// OnLost is called when the partition was not given up before its
	// deadline: the application may have overlapped with the next owner
	// and must not commit with p.Token.
	OnLost func(p Partition)
}

// Work calls OnAcquired, waits for the partition to be revoked, then calls
// OnReleased unless the deadline has passed, and OnLost if it has passed by
// then.
func (cb Callbacks) Work(ctx context.Context, p Partition) error {
	if cb.OnAcquired != nil {
		cb.OnAcquired(ctx, p)
	}
	<-ctx.Done()
	if time.Now().Before(p.Deadline()) {
		if cb.OnReleased != nil {
			cb.OnReleased(p)
		}
		if time.Now().Before(p.Deadline()) {
			return nil
		}
	}
	if cb.OnLost != nil {
		cb.OnLost(p)
	}
	return nil
}
