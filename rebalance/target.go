package rebalance

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// replicas is consistent's ReplicationFactor: how many points each member puts
// on the hash ring.
//
// More points give each member a share of the ring closer to 1/n, so fewer
// partitions spill past a full member under the load bound and Plan can leave
// more partitions on their Target owner. The price is linear in the points:
// building the ring hashes and sorts n*replicas points (and consistent
// re-sorts after each member it adds), so a Target for 50 members costs about
// 2.5 ms at 20 points and 5 ms at 40. Measured over n = 2..50, P = 271,
// Load 1.25: partitions that consistent must spill past a full member, 9% at
// 20 points, 6% at 30, 4% at 40, 3% at 60; partitions of a settled Plan on
// their Target owner, 80% at 20, 83% at 40 and at 60. Movement on joins and
// leaves is the same at any of these values (Plan bounds it, not the ring).
// 40 takes most of the gain for twice the cost of 20.
const replicas = 40

// xxHasher is the one hash of ringd: ring points, partition placement and
// application keys all go through xxhash64 (seed 0), which gives the same
// value in every process on every platform.
type xxHasher struct{}

func (xxHasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// ringMember adapts a member name to consistent.Member.
type ringMember string

func (m ringMember) String() string { return string(m) }

// PartitionOf maps an application key to its partition in 0..partitions-1:
// xxhash64(key) mod partitions. It is the same function as consistent's
// FindPartitionID with ringd's hasher, so the leader, every member, the REST
// key lookup and the client library agree on where a key lives, and a single
// hash function is used throughout. It returns -1 when partitions < 1, which
// a validated Config never has.
func PartitionOf(key []byte, partitions int) int {
	if partitions < 1 {
		return -1
	}
	return int(xxhash.Sum64(key) % uint64(partitions))
}

// Target returns the owner of each partition (len cfg.Partitions) as bounded-load
// consistent hashing (buraksezer/consistent v1.0.0, xxhash) places it, with no
// regard for who owns what now. Members are de-duplicated and sorted first, so
// their order never matters. With no members every entry is "".
//
// Plan, not Target, is what the leader should publish: it starts from the
// current owners and moves only what must move.
func Target(members []string, cfg Config) ([]string, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	names, err := normalizeMembers(members)
	if err != nil {
		return nil, err
	}
	return target(names, cfg, xxHasher{}, replicas)
}

// normalizeMembers returns the sorted, de-duplicated member names, or an error
// wrapping ErrInvalidMembers if one is empty.
func normalizeMembers(members []string) ([]string, error) {
	names := slices.Clone(members)
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) > 0 && names[0] == "" {
		return nil, fmt.Errorf("%w: a member name is empty", ErrInvalidMembers)
	}
	return names, nil
}

// target runs consistent on sorted, unique, non-empty names and a valid cfg.
//
// consistent v1.0.0 panics or misbehaves in these cases, each guarded here:
//   - nil Hasher: we always pass one.
//   - PartitionCount, ReplicationFactor or Load of 0 silently become its
//     defaults: cfg is validated (P >= 1, Load >= 1), replicas is fixed.
//   - no members: New does not distribute, every owner is nil and
//     GetClosestNForPartition calls String on a nil owner. We never build a
//     ring without members.
//   - not enough room (members*ceil(P/members*Load) < P): it panics. Load >= 1
//     makes that impossible; we check anyway, with its own formula.
//   - colliding ring points: the ring map keeps one member per point, so a
//     member can lose points, and one that lost all of them is unreachable,
//     which can end in the same panic. We refuse any collision up front.
//   - duplicate members would add their points twice: names are unique.
//
// Whatever slips through anyway is recovered and reported as ErrInternal, so
// a leader never crashes here.
func target(names []string, cfg Config, h consistent.Hasher, points int) (owners []string, err error) {
	owners = make([]string, cfg.Partitions)
	if len(names) == 0 {
		return owners, nil
	}
	if capacity := Capacity(len(names), cfg); capacity*len(names) < cfg.Partitions {
		return nil, fmt.Errorf("%w: %d members with capacity %d cannot hold %d partitions",
			ErrInternal, len(names), capacity, cfg.Partitions)
	}
	if err := checkRing(names, h, points); err != nil {
		return nil, err
	}

	defer func() {
		if r := recover(); r != nil {
			owners, err = nil, fmt.Errorf("%w: consistent panicked: %v", ErrInternal, r)
		}
	}()
	ms := make([]consistent.Member, len(names))
	for i, name := range names {
		ms[i] = ringMember(name)
	}
	ring := consistent.New(ms, consistent.Config{
		Hasher:            h,
		PartitionCount:    cfg.Partitions,
		ReplicationFactor: points,
		Load:              cfg.Load,
	})
	for p := range owners {
		m := ring.GetPartitionOwner(p)
		if m == nil {
			return nil, fmt.Errorf("%w: consistent left partition %d without owner", ErrInternal, p)
		}
		owners[p] = m.String()
	}
	return owners, nil
}

// ringKey is the byte string whose hash places a member's i-th point on the
// ring: the decimal index, a colon, the name (consistent v1.0.0's layout,
// pinned by TestRingKeysMatchConsistent).
func ringKey(buf []byte, name string, i int) []byte {
	buf = strconv.AppendInt(buf[:0], int64(i), 10)
	buf = append(buf, ':')
	return append(buf, name...)
}

// checkRing returns an error wrapping ErrHashCollision if two members would put
// a point on the same place of the ring.
func checkRing(names []string, h consistent.Hasher, points int) error {
	owner := make(map[uint64]string, len(names)*points)
	var buf []byte
	for _, name := range names {
		for i := range points {
			buf = ringKey(buf, name, i)
			sum := h.Sum64(buf)
			if other, ok := owner[sum]; ok && other != name {
				return fmt.Errorf("%w: members %q and %q share ring point %#x; rename one",
					ErrHashCollision, other, name, sum)
			}
			owner[sum] = name
		}
	}
	return nil
}
