package restapi

import (
	"context"
	"errors"

	"github.com/ringd/ringd/clientlib/api"
)

// Sentinel errors a Source returns; handlers map them to statuses.
var (
	// ErrNotFound: no such partition or member (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the action does not fit the current state, e.g. releasing
	// a partition that is not releasing on this member (409).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the member cannot do it now, e.g. no leader (503).
	ErrUnavailable = errors.New("unavailable")
	// ErrBadInput: the request names something impossible (400).
	ErrBadInput = errors.New("bad input")
)

// ClusterSource adds what the full API reads beyond Source.
type ClusterSource interface {
	// Table returns the whole table as this member knows it, and a channel
	// closed as soon as its Index changes.
	Table() (api.Table, <-chan struct{})
	// Locate maps an application key to its partition and owner.
	Locate(key string) api.Locate
	// Ready reports whether the member has joined, holds a table and a
	// valid lease; reason says what is missing.
	Ready() (ready bool, reason string)
	// Changes returns recent events, newest last.
	Changes() []api.Change
}

// Actions are what the API may ask the member to do. Errors wrap the
// sentinels above.
type Actions interface {
	// Release acknowledges the release of partition id on this member; with
	// a token other than 0, only of that grant.
	Release(ctx context.Context, id int, token uint64) error
	// Drain moves this member's partitions away; Undrain lets it take
	// partitions again.
	Drain(ctx context.Context) error
	Undrain(ctx context.Context) error
	// Transfer asks the leader to hand leadership over to member `to`.
	Transfer(ctx context.Context, to string) error
	// SetFrozen asks the leader to freeze (maintenance mode) or unfreeze
	// the assignment.
	SetFrozen(ctx context.Context, frozen bool) error
	// SetPin asks the leader to pin a partition to a member (member "":
	// unpin it); SetExcluded to keep a member from owning partitions (on)
	// or let it again.
	SetPin(ctx context.Context, partition int, member string) error
	SetExcluded(ctx context.Context, member string, on bool) error
}

// Keyring manages the gossip keys of this member. Key operations change
// only this member; a rotation runs each step on every member (ringctl keys
// --all does).
type Keyring interface {
	// Keys lists the installed keys by fingerprint.
	Keys(ctx context.Context) (api.Keys, error)
	// KeyOp installs, uses (makes primary) or removes the key given in
	// standard base64.
	KeyOp(ctx context.Context, op, key string) error
}

// Recovery forces a new voter configuration after a majority of the voters
// was lost for good (POST /admin/recover).
type Recovery interface {
	ForceVoters(ctx context.Context, names []string) error
}
