package rebalance

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// replicas is consistent's ReplicationFactor: how many points each member puts
// on the hash ring.
//
// More points give each member a share of the ring closer to 1/n, so fewer
// partitions spill past a full member under the load bound and Plan can leave
// more partitions on their Target owner. The price is linear in the points:
// building the ring hashes and sorts n*replicas points, and a partition's
// walk past full members is longer on a ring of more points. Measured over
// n = 2..50, P = 271, Load 1.25: partitions that consistent must spill past a full member, 9% at
// 20 points, 6% at 30, 4% at 40, 3% at 60; partitions of a settled Plan on
// their Target owner, 80% at 20, 83% at 40 and at 60. Movement on joins and
// leaves is the same at any of these values (Plan bounds it, not the ring).
// 40 takes most of the gain for twice the cost of 20.
const replicas = 40

// RingPoints is how many points each member puts on the ring (consistent's
// ReplicationFactor), for those who compare Plan with a plain consistent
// ring built the same way, such as the benchmarks.
const RingPoints = replicas

// xxHasher is the one hash of ringd: ring points, partition placement and
// application keys all go through xxhash64 (seed 0), which gives the same
// value in every process on every platform.
type xxHasher struct{}

func (xxHasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

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

// target places the partitions for sorted, unique, non-empty names and a
// valid cfg exactly as consistent v1.0.0 does (TestTargetMatchesConsistent
// compares the two), without consistent's cost: consistent.New re-sorts the
// whole ring after adding each member, n sorts of up to n*points points,
// which took about 3 s for 1000 members. Here the ring is hashed and sorted
// once.
//
// consistent's placement, which this reproduces:
//   - member m puts points on the ring at the hashes of ringKey(m, 0..points-1);
//   - partition p starts at the first point at or after the hash of p as 8
//     little-endian bytes (wrapping to the first point), and goes to the
//     member of the first point from there whose member holds fewer than
//     Capacity partitions, in partition order 0..P-1.
//
// Where consistent would misbehave, target returns an error instead:
//   - colliding ring points of two members (consistent keeps one member per
//     point, so a member can lose points; one that lost all is unreachable):
//     ErrHashCollision, before anything is placed. Points of one member that
//     collide with each other are kept twice, as consistent does; they name
//     the same member either way.
//   - not enough room (members*capacity < P; consistent panics): impossible
//     with Load >= 1, checked anyway and reported as ErrInternal.
//
// With weights (Config.Weights), member m puts round(points*w[m]) points (at
// least one) on the ring and holds at most WeightedCapacity(w[m], W, cfg);
// with every weight 1 that is the placement above.
func target(names []string, cfg Config, h hasher, points int) ([]string, error) {
	owners, _, err := targetOnRing(names, cfg, h, points)
	return owners, err
}

// targetOnRing is target, also returning the ring it placed on (nil without
// members), which Plan walks again to choose standbys.
func targetOnRing(names []string, cfg Config, h hasher, points int) ([]string, *ring, error) {
	owners := make([]string, cfg.Partitions)
	if len(names) == 0 {
		return owners, nil, nil
	}
	sh := sharesOf(names, cfg)
	ring, err := newRing(names, h, sh.points(points))
	if err != nil {
		return nil, nil, err
	}
	placed, err := ring.place(cfg.Partitions, sh.capacity, h)
	if err != nil {
		return nil, nil, err
	}
	for p, m := range placed {
		owners[p] = names[m]
	}
	return owners, ring, nil
}

// hasher is the hash the ring is built with: xxHasher in production, others in
// tests. It is consistent.Hasher's method set, so the tests hand the same
// hasher to consistent and to this package.
type hasher interface {
	Sum64([]byte) uint64
}

// ringPoint is one of a member's points on the ring.
type ringPoint struct {
	sum    uint64
	member int // index into the sorted names
}

// ring holds every member's points sorted by hash.
type ring struct {
	points  []ringPoint
	members int
}

// newRing hashes points[m] ring keys for member m and sorts them, or returns
// an error wrapping ErrHashCollision if two members share a point.
func newRing(names []string, h hasher, points []int) (*ring, error) {
	total := 0
	for _, n := range points {
		total += n
	}
	r := &ring{points: make([]ringPoint, 0, total), members: len(names)}
	var buf []byte
	for m, name := range names {
		for i := range points[m] {
			buf = ringKey(buf, name, i)
			r.points = append(r.points, ringPoint{sum: h.Sum64(buf), member: m})
		}
	}
	sortPoints(r.points)
	for k := 1; k < len(r.points); k++ {
		a, b := r.points[k-1], r.points[k]
		if a.sum == b.sum && a.member != b.member {
			return nil, fmt.Errorf("%w: members %q and %q share ring point %#x; rename one",
				ErrHashCollision, names[a.member], names[b.member], a.sum)
		}
	}
	return r, nil
}

// sortPoints sorts points by hash, and points with the same hash by member,
// with a least-significant-digit radix sort, one byte per pass. Being stable,
// it keeps points with the same hash in the order newRing appended them,
// which is member order. For 1000 members (40,000 points) it takes a fraction
// of what a comparison sort does, which was half of Plan's time.
func sortPoints(points []ringPoint) {
	src, dst := points, make([]ringPoint, len(points))
	for shift := 0; shift < 64; shift += 8 {
		var start [256]int
		for _, pt := range src {
			start[byte(pt.sum>>shift)]++
		}
		at := 0
		for b, count := range start {
			start[b] = at
			at += count
		}
		for _, pt := range src {
			b := byte(pt.sum >> shift)
			dst[start[b]] = pt
			start[b]++
		}
		src, dst = dst, src
	}
	// Eight passes swap src and dst an even number of times: the sorted
	// points are in points again.
}

// place returns the member index owning each of partitions partitions, no
// member m holding more than capacity[m], or an error wrapping ErrInternal
// when the members have no room left for a partition.
func (r *ring) place(partitions int, capacity []int, h hasher) ([]int, error) {
	owners := make([]int, partitions)
	loads := make([]int, r.members)
	key := make([]byte, 8)
	for p := range owners {
		at := r.start(key, p, h)
		owner := -1
		for range len(r.points) {
			if at == len(r.points) {
				at = 0
			}
			if m := r.points[at].member; loads[m] < capacity[m] {
				owner = m
				break
			}
			at++
		}
		if owner < 0 {
			return nil, fmt.Errorf("%w: %d members with capacities %v have no room for partition %d",
				ErrInternal, r.members, capacity, p)
		}
		owners[p] = owner
		loads[owner]++
	}
	return owners, nil
}

// start returns the index of the first ring point at or after partition p's
// hash (len(points) when past the last one: the walk wraps to 0). key is
// an 8-byte scratch buffer.
func (r *ring) start(key []byte, p int, h hasher) int {
	binary.LittleEndian.PutUint64(key, uint64(p))
	sum := h.Sum64(key)
	at, _ := slices.BinarySearchFunc(r.points, sum, func(pt ringPoint, sum uint64) int {
		return cmp.Compare(pt.sum, sum)
	})
	return at
}

// shares are the members' weights and what follows from them, for sorted
// names and a valid cfg.
type shares struct {
	weight   []float64
	total    float64
	capacity []int // WeightedCapacity: most partitions member m may own
	even     []int // ceil(P*w/W): most partitions m is given up to
	floor    []int // floor(P*w/W): fewest a member with a quota may end with
}

func sharesOf(names []string, cfg Config) shares {
	n := len(names)
	sh := shares{weight: make([]float64, n), capacity: make([]int, n), even: make([]int, n), floor: make([]int, n)}
	for m, name := range names {
		sh.weight[m] = cfg.weight(name)
		sh.total += sh.weight[m]
	}
	for m, w := range sh.weight {
		sh.capacity[m] = WeightedCapacity(w, sh.total, cfg)
		share := float64(cfg.Partitions) * w / sh.total
		sh.even[m] = int(math.Ceil(share))
		sh.floor[m] = int(math.Floor(share))
	}
	return sh
}

// points is how many ring points each member puts on the ring: perWeight
// per unit of weight, rounded, at least one.
func (sh shares) points(perWeight int) []int {
	out := make([]int, len(sh.weight))
	for m, w := range sh.weight {
		out[m] = max(1, int(math.Round(float64(perWeight)*w)))
	}
	return out
}

// ringKey is the byte string whose hash places a member's i-th point on the
// ring: the decimal index, a colon, the name (consistent v1.0.0's layout,
// pinned by TestRingKeysMatchConsistent).
func ringKey(buf []byte, name string, i int) []byte {
	buf = strconv.AppendInt(buf[:0], int64(i), 10)
	buf = append(buf, ':')
	return append(buf, name...)
}
