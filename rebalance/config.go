package rebalance

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// Bounds and defaults of Config. Validate enforces the bounds.
const (
	// MinPartitions and MaxPartitions bound Config.Partitions. The upper bound
	// keeps a table (and the planning work, which is linear in P) small
	// enough to ship to every member in one reliable message.
	MinPartitions = 1
	MaxPartitions = 65536
	// MinLoad and MaxLoad bound Config.Load. Below 1 the members cannot hold
	// all partitions together (consistent panics then); above 100 the bound
	// no longer bounds anything in practice.
	MinLoad = 1.0
	MaxLoad = 100.0

	// MinWeight and MaxWeight bound a member's weight (Config.Weights):
	// beyond a ratio of 10,000 between two members the lighter one would
	// get no partition in practice, and its ring points would round away.
	MinWeight = 0.01
	MaxWeight = 100.0

	// MaxStandbys bounds Config.Standbys: every standby of every partition
	// is a row the table ships to every member.
	MaxStandbys = 8

	// DefaultPartitions is P when the operator does not choose one.
	DefaultPartitions = 271
	// DefaultLoad is the bounded-load factor when the operator does not
	// choose one: no member owns more than 25% above the average.
	DefaultLoad = 1.25
)

// Errors of this package. Every error it returns wraps one of them, so callers
// can tell the cases apart with errors.Is.
var (
	// ErrInvalidConfig wraps each complaint of Config.Validate.
	ErrInvalidConfig = errors.New("invalid rebalance config")
	// ErrInvalidMembers is returned for a member list holding the empty name,
	// which is reserved for "unassigned".
	ErrInvalidMembers = errors.New("invalid member list")
	// ErrInvalidCurrent is returned by Plan when the current assignment does
	// not have exactly one entry per partition.
	ErrInvalidCurrent = errors.New("invalid current assignment")
	// ErrHashCollision is returned when two members put a point on the same
	// place of the hash ring. Where one point would belong to two members
	// the placement is not consistent's any more (consistent keeps one of
	// them, and may lose a member altogether). With 64-bit hashes this takes
	// a deliberately crafted member name.
	ErrHashCollision = errors.New("hash collision on the ring")
	// ErrInternal reports a broken internal invariant, such as members
	// without room for every partition, which the bounds on Config rule out.
	// It is a bug; the caller should keep its current table.
	ErrInternal = errors.New("internal rebalance error")
)

// Config is the part of the cluster configuration that decides the assignment.
// Every member of a cluster must use the same values: the leader computes the
// table from them, and every member maps keys with PartitionOf(key, Partitions).
type Config struct {
	// Partitions is P, the fixed number of partitions 0..P-1, in
	// [MinPartitions, MaxPartitions]. A prime spreads keys best.
	Partitions int
	// Load is the bounded-load factor, in [MinLoad, MaxLoad]: no member owns
	// more than Capacity(members, cfg) = ceil(Load*P/members) partitions.
	// 1 means perfectly even counts (more movement on membership changes),
	// larger values let consistent hashing decide more (less movement,
	// less even counts).
	Load float64
	// Weights are the members' shares relative to each other (a member not
	// in the map weighs 1), each in [MinWeight, MaxWeight]: of the members
	// in a plan, with total weight W, member m is filled up to about
	// P*w[m]/W and may own at most WeightedCapacity(w[m], W, cfg) =
	// ceil(Load*P*w[m]/W) partitions, and puts round(40*w[m]) points (at
	// least 1) on the ring. With every weight 1 this is the unweighted
	// placement, point for point.
	Weights map[string]float64
	// Pins keeps partitions with a member (partition id -> member name):
	// while that member is among the members of a plan, the partition goes
	// to it and stays, whatever the load bound says (pins win over it);
	// otherwise the pin is ignored. Nothing else changes: the other
	// partitions are placed as without pins, around them.
	Pins map[int]string
	// Standbys is K, how many standby owners Plan lists for each partition
	// (Result.Standbys), in [0, MaxStandbys]; fewer when there are not K
	// other members. 0: none.
	Standbys int
	// Zones maps members to their zone (a failure domain; a member not in
	// the map is in zone ""). When the members of a plan span at least two
	// zones, each partition's standbys are in zones other than its owner's
	// (and, where there are enough zones, other than each other's).
	Zones map[string]string
	// Warm lists each partition's standbys in the current table, first
	// first: nil, or one list per partition (len Partitions). A partition without an owner goes
	// to the first of them that may take it, before any other member, so
	// that on a failover a standby becomes the owner; and standbys that
	// still qualify keep their place, so the lists change little.
	Warm [][]string
}

// weight is member name's weight: 1 unless Weights says otherwise.
func (c Config) weight(name string) float64 {
	if w, ok := c.Weights[name]; ok {
		return w
	}
	return 1
}

// DefaultConfig returns the defaults: 271 partitions, load 1.25.
func DefaultConfig() Config {
	return Config{Partitions: DefaultPartitions, Load: DefaultLoad}
}

// Validate returns nil for a usable config, else one error per bad field, each
// naming the field and its bound and wrapping ErrInvalidConfig, joined with
// errors.Join.
func (c Config) Validate() error {
	var errs []error
	if c.Partitions < MinPartitions || c.Partitions > MaxPartitions {
		errs = append(errs, fmt.Errorf("%w: partitions must be in [%d, %d], got %d",
			ErrInvalidConfig, MinPartitions, MaxPartitions, c.Partitions))
	}
	if !c.loadValid() {
		errs = append(errs, fmt.Errorf("%w: load must be a finite number in [%g, %g], got %g",
			ErrInvalidConfig, MinLoad, MaxLoad, c.Load))
	}
	for _, p := range slices.Sorted(maps.Keys(c.Pins)) {
		if p < 0 || p >= c.Partitions || c.Pins[p] == "" {
			errs = append(errs, fmt.Errorf("%w: pin of partition %d to %q: the partition must be in [0, %d) and the member named",
				ErrInvalidConfig, p, c.Pins[p], c.Partitions))
		}
	}
	if c.Standbys < 0 || c.Standbys > MaxStandbys {
		errs = append(errs, fmt.Errorf("%w: standbys must be in [0, %d], got %d", ErrInvalidConfig, MaxStandbys, c.Standbys))
	}
	if c.Warm != nil && len(c.Warm) != c.Partitions {
		errs = append(errs, fmt.Errorf("%w: %d lists of current standbys for %d partitions", ErrInvalidConfig, len(c.Warm), c.Partitions))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Weights)) {
		if w := c.Weights[name]; !weightValid(w) {
			errs = append(errs, fmt.Errorf("%w: the weight of %q must be a finite number in [%g, %g], got %g",
				ErrInvalidConfig, name, MinWeight, MaxWeight, w))
		}
	}
	return errors.Join(errs...)
}

// weightValid is false for NaN and ±Inf too.
func weightValid(w float64) bool { return w >= MinWeight && w <= MaxWeight }

// loadValid is false for NaN and ±Inf too: every comparison with NaN is false.
func (c Config) loadValid() bool { return c.Load >= MinLoad && c.Load <= MaxLoad }

func (c Config) valid() bool {
	if c.Partitions < MinPartitions || c.Partitions > MaxPartitions || !c.loadValid() {
		return false
	}
	for _, w := range c.Weights {
		if !weightValid(w) {
			return false
		}
	}
	for p, name := range c.Pins {
		if p < 0 || p >= c.Partitions || name == "" {
			return false
		}
	}
	if c.Warm != nil && len(c.Warm) != c.Partitions {
		return false
	}
	return c.Standbys >= 0 && c.Standbys <= MaxStandbys
}

// Capacity returns the most partitions one of `members` members may own:
// ceil(Load*P/members). It returns 0 for members < 1 and for an invalid cfg.
//
// It evaluates the expression exactly as consistent v1.0.0 does
// (ceil(P/members*Load) in float64), so the bound this package promises is the
// bound consistent enforces, also where rounding of the product could land on
// the other side of an integer.
func Capacity(members int, cfg Config) int {
	if members < 1 || !cfg.valid() {
		return 0
	}
	return int(math.Ceil(float64(cfg.Partitions) / float64(members) * cfg.Load))
}

// WeightedCapacity returns the most partitions a member of weight w may own
// among members of total weight total: ceil(Load*P*w/total). With every
// weight 1 (w 1, total n) it is Capacity(n, cfg), computed with the same
// floating-point steps. It returns 0 for a weight or total out of range and
// for an invalid cfg.
func WeightedCapacity(w, total float64, cfg Config) int {
	if !weightValid(w) || !(total >= w) || !cfg.valid() {
		return 0
	}
	return int(math.Ceil(float64(cfg.Partitions) * w / total * cfg.Load))
}
