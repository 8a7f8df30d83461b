package rebalance

import (
	"fmt"
	"math"
)

// Standbys: after Plan settles the owners, each partition gets up to
// Config.Standbys standby owners, the members next in line for it. They are
// chosen on the same ring as the owners, walking on from the partition's
// point past its owner (so one member's partitions have their standbys
// spread over many members, and a failover spreads its load), under a
// standby load bound of ceil(Load*P*K*w/W) per member. With zones, the walk
// takes, in this order of preference:
//
//  0. a member in a zone that neither the owner nor an earlier standby of
//     the partition is in, below its standby bound;
//  1. a member in another zone than the owner's, below its bound;
//  2. a member in another zone than the owner's;
//  3. a member below its bound;
//  4. any other member.
//
// For each standby the walk looks for the best preference some member can
// still meet (counted per zone, so the walk always ends at its first
// candidate): when the members span two zones or more, owner and standby are
// in different zones whenever the other zones have members left. Standbys of
// the current table (Config.Warm) that still qualify (members, not the
// owner, in another zone than the owner's when there are zones, below their
// bound) keep their place ahead of new ones, so the lists change little as
// members come and go.

// preference levels of the walk, best first.
const (
	levelNewZoneRoomy = iota
	levelOtherZoneRoomy
	levelOtherZone
	levelRoomy
	levelAny
)

// standbyChooser holds the state of chooseStandbys.
type standbyChooser struct {
	zone      []int // zone[m]: m's zone, as an index
	zones     int   // how many zones the members span
	limit     []int // limit[m]: most partitions m stands by for, if it can be helped
	count     []int // count[m]: partitions m stands by for so far
	zoneRoom  []int // members of each zone below their limit, owner and chosen left out
	zoneFree  []int // members of each zone, owner and chosen left out
	zoneTaken []bool
	owner     int
	chosen    []int
	// pairs[{o, m}] counts the partitions of owner o that m stands by for;
	// pairLimit[o] is its even share, ceil(K*owned[o]/candidates of o), so
	// that a failed owner's partitions have their standbys spread evenly
	// and most of them can take over without passing their share.
	pairs     map[[2]int]int
	pairLimit []int
}

// chooseStandbys returns k standbys for each partition (by member index into
// names) given its owner: see the rules above. It returns nil when
// cfg.Standbys is 0 or there is no other member.
func chooseStandbys(owners []int, names []string, r *ring, cfg Config, h hasher) ([][]int, error) {
	n := len(names)
	k := min(cfg.Standbys, n-1)
	if k <= 0 || r == nil {
		return nil, nil
	}
	c := newStandbyChooser(names, owners, cfg, k)
	index := make(map[string]int, n)
	for i, name := range names {
		index[name] = i
	}
	out := make([][]int, len(owners))
	key := make([]byte, 8)
	for p, o := range owners {
		c.begin(o)
		var warm []string
		if cfg.Warm != nil {
			warm = cfg.Warm[p]
		}
		for _, name := range warm {
			if m, ok := index[name]; ok && len(c.chosen) < k && c.keeps(m) {
				c.take(m)
			}
		}
		at := r.start(key, p, h)
		for len(c.chosen) < k {
			m := c.walk(r, at)
			if m < 0 {
				return nil, fmt.Errorf("%w: no standby left for partition %d", ErrInternal, p)
			}
			c.take(m)
		}
		out[p] = append(make([]int, 0, k), c.chosen...)
		c.end()
	}
	return out, nil
}

func newStandbyChooser(names []string, owners []int, cfg Config, k int) *standbyChooser {
	n := len(names)
	sh := sharesOf(names, cfg)
	c := &standbyChooser{zone: make([]int, n), limit: make([]int, n), count: make([]int, n),
		pairs: map[[2]int]int{}, pairLimit: make([]int, n)}
	ids := map[string]int{}
	for m, name := range names {
		z := cfg.Zones[name]
		id, ok := ids[z]
		if !ok {
			id = len(ids)
			ids[z] = id
		}
		c.zone[m] = id
		c.limit[m] = int(math.Ceil(float64(cfg.Partitions*k) * sh.weight[m] / sh.total * cfg.Load))
	}
	c.zones = len(ids)
	c.zoneRoom, c.zoneFree, c.zoneTaken = make([]int, c.zones), make([]int, c.zones), make([]bool, c.zones)
	for m := range n {
		c.zoneRoom[c.zone[m]]++
		c.zoneFree[c.zone[m]]++
	}
	owned := make([]int, n)
	for _, o := range owners {
		owned[o]++
	}
	for o := range n {
		candidates := n - 1
		if c.zones >= 2 {
			candidates = n - c.zoneFree[c.zone[o]]
		}
		c.pairLimit[o] = (k*owned[o] + candidates - 1) / candidates
	}
	return c
}

// begin starts on a partition owned by o.
func (c *standbyChooser) begin(o int) {
	c.owner, c.chosen = o, c.chosen[:0]
	clear(c.zoneTaken)
	c.zoneTaken[c.zone[o]] = true
	c.leave(o)
}

// leave takes m out of the per-zone counts for this partition.
func (c *standbyChooser) leave(m int) {
	c.zoneFree[c.zone[m]]--
	if c.count[m] < c.limit[m] {
		c.zoneRoom[c.zone[m]]--
	}
}

// end puts the owner and the chosen back into the per-zone counts.
func (c *standbyChooser) end() {
	for _, m := range append(c.chosen, c.owner) {
		c.zoneFree[c.zone[m]]++
		if c.count[m] < c.limit[m] {
			c.zoneRoom[c.zone[m]]++
		}
	}
}

// take makes m the partition's next standby.
func (c *standbyChooser) take(m int) {
	c.leave(m)
	c.chosen = append(c.chosen, m)
	c.count[m]++
	c.pairs[[2]int{c.owner, m}]++
	c.zoneTaken[c.zone[m]] = true
}

// keeps reports whether a standby of the current table keeps its place.
func (c *standbyChooser) keeps(m int) bool {
	return c.free(m) && c.count[m] < c.limit[m] && c.pairRoomy(m) && (c.zones < 2 || c.zone[m] != c.zone[c.owner])
}

// pairRoomy: m stands by for fewer than its share of the owner's partitions.
func (c *standbyChooser) pairRoomy(m int) bool {
	return c.pairs[[2]int{c.owner, m}] < c.pairLimit[c.owner]
}

// free: m is neither the owner nor already chosen.
func (c *standbyChooser) free(m int) bool {
	if m == c.owner {
		return false
	}
	for _, x := range c.chosen {
		if x == m {
			return false
		}
	}
	return true
}

// meets reports whether a free member m meets preference level.
func (c *standbyChooser) meets(m, level int) bool {
	roomy := c.count[m] < c.limit[m]
	other := c.zone[m] != c.zone[c.owner]
	switch level {
	case levelNewZoneRoomy:
		return roomy && !c.zoneTaken[c.zone[m]]
	case levelOtherZoneRoomy:
		return roomy && other
	case levelOtherZone:
		return other
	case levelRoomy:
		return roomy
	}
	return true
}

// best returns the best level some free member still meets.
func (c *standbyChooser) best() int {
	if c.zones >= 2 {
		for _, level := range []int{levelNewZoneRoomy, levelOtherZoneRoomy, levelOtherZone} {
			for z := range c.zones {
				ok := z != c.zone[c.owner]
				switch level {
				case levelNewZoneRoomy:
					ok = !c.zoneTaken[z] && c.zoneRoom[z] > 0
				case levelOtherZoneRoomy:
					ok = ok && c.zoneRoom[z] > 0
				case levelOtherZone:
					ok = ok && c.zoneFree[z] > 0
				}
				if ok {
					return level
				}
			}
		}
	}
	for z := range c.zones {
		if c.zoneRoom[z] > 0 {
			return levelRoomy
		}
	}
	return levelAny
}

// walk goes round the ring from point at and returns the first free member
// that meets the best level a member still meets: one always does, as the
// caller asks for at most n-1 standbys (-1 would be a bug).
//
// Among the members meeting that level it prefers the first below its share
// of the owner's partitions (pairRoomy), and takes the first one otherwise.
func (c *standbyChooser) walk(r *ring, at int) int {
	level := c.best()
	found := -1
	for range len(r.points) {
		if at == len(r.points) {
			at = 0
		}
		if m := r.points[at].member; c.free(m) && c.meets(m, level) {
			if level == levelAny || c.pairRoomy(m) {
				return m
			}
			if found < 0 {
				found = m
			}
		}
		at++
	}
	return found
}
