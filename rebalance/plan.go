package rebalance

import (
	"cmp"
	"fmt"
	"slices"
)

// Move is one change of owner in a plan.
type Move struct {
	// Partition is the partition id, in 0..P-1.
	Partition int
	// From is the owner in the current table: a member (a planned handoff:
	// release first, then grant), an owner that is gone (its grant must run
	// out before the partition is granted again), or "" for an unassigned
	// partition (a plain grant).
	From string
	// To is the new owner; "" only when no member is left.
	To string
}

// Result is what Plan decides.
type Result struct {
	// Target is the assignment to move to: the owner of each partition, len P.
	Target []string
	// Moves lists every partition whose owner differs between the current
	// assignment and Target, in increasing partition order.
	Moves []Move
	// Standbys lists each partition's standby owners, next in line first
	// (len P, each of min(Config.Standbys, members-1) members, never the
	// Target owner); nil when Config.Standbys is 0 or there is one member.
	Standbys [][]string
}

// Plan returns the assignment to move to from current and the moves that get
// there. current has one entry per partition (len cfg.Partitions): the owner,
// or "" when unassigned; an owner that is not in members counts as gone.
// members are the members that may own partitions (the caller leaves out
// draining members and members that are still settling); their order and
// duplicates do not matter.
//
// The result is a pure function of (current, the set of members, cfg): every
// leader computes the same one. See the package documentation for the
// algorithm and what it promises.
func Plan(current []string, members []string, cfg Config) (Result, error) {
	return plan(current, members, cfg, xxHasher{}, replicas)
}

func plan(current, members []string, cfg Config, h hasher, points int) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if len(current) != cfg.Partitions {
		return Result{}, fmt.Errorf("%w: %d entries for %d partitions",
			ErrInvalidCurrent, len(current), cfg.Partitions)
	}
	names, err := normalizeMembers(members)
	if err != nil {
		return Result{}, err
	}
	ideal, ring, err := targetOnRing(names, cfg, h, points)
	if err != nil {
		return Result{}, err
	}
	next, owners, err := settle(current, names, ideal, cfg, h)
	if err != nil {
		return Result{}, err
	}
	chosen, err := chooseStandbys(owners, names, ring, cfg, h)
	if err != nil {
		return Result{}, err
	}
	var standbys [][]string
	if chosen != nil {
		standbys = make([][]string, len(chosen))
		for p, list := range chosen {
			standbys[p] = make([]string, len(list))
			for k, m := range list {
				standbys[p][k] = names[m]
			}
		}
	}
	// Counting first allocates the moves once: a first table moves every
	// partition, and growing the slice by appends was a quarter of Plan's
	// time at P=65536.
	count := 0
	for p, owner := range next {
		if current[p] != owner {
			count++
		}
	}
	var moves []Move
	if count > 0 {
		moves = make([]Move, 0, count)
	}
	for p, owner := range next {
		if current[p] != owner {
			moves = append(moves, Move{Partition: p, From: current[p], To: owner})
		}
	}
	return Result{Target: next, Moves: moves, Standbys: standbys}, nil
}

// settle computes Plan's assignment for sorted, unique names (n >= 1) from the
// current owners and consistent's placement ideal. See the package
// documentation for the rules; in short, member m ends with a count in
// [low[m], capacity], partitions move only to get there, and where a
// partition goes follows ideal as far as the counts allow.
//
// It returns the owners by name and by index into names (nil without
// members).
func settle(current, names, ideal []string, cfg Config, h hasher) ([]string, []int, error) {
	next := make([]string, len(current))
	n := len(names)
	if n == 0 {
		return next, nil, nil
	}
	s := newSettler(current, names, ideal, cfg, h)
	s.shed()
	if err := s.place(); err != nil {
		return nil, nil, err
	}
	if err := s.fill(); err != nil {
		return nil, nil, err
	}
	for p, i := range s.owner {
		next[p] = names[i]
	}
	return next, s.owner, nil
}

// settler is the working state of settle. Members are indexes into names.
type settler struct {
	n        int
	goal     []int   // goal[p]: the member ideal places p on
	owner    []int   // owner[p]: the member holding p, -1 if nobody
	count    []int   // count[m]: how many partitions m holds
	low      []int   // low[m]: fewest partitions m may end with
	even     []int   // even[m]: ceil(P*w[m]/W), most partitions m is given up to (ceil(P/n) unweighted)
	capacity []int   // capacity[m]: WeightedCapacity, most partitions m may keep (Capacity(n, cfg) unweighted)
	order    []int   // members in successor order
	pos      []int   // pos[m]: m's place in order
	pinned   []bool  // pinned[p]: p is pinned to its owner (Config.Pins); never moved
	pins     bool    // some partition is pinned
	warm     [][]int // warm[p]: p's standbys in the current table that are members (Config.Warm), or nil
}

func newSettler(current, names, ideal []string, cfg Config, h hasher) *settler {
	n := len(names)
	sh := sharesOf(names, cfg)
	s := &settler{
		n:        n,
		goal:     make([]int, len(ideal)),
		owner:    make([]int, len(current)),
		count:    make([]int, n),
		low:      make([]int, n),
		even:     sh.even,
		capacity: sh.capacity,
		order:    successorOrder(names, h),
		pos:      make([]int, n),
		pinned:   make([]bool, len(current)),
	}
	index := make(map[string]int, n)
	for i, name := range names {
		index[name] = i
	}
	for p, name := range current {
		i, ok := index[name]
		if !ok {
			i = -1
		} else {
			s.count[i]++
		}
		s.owner[p] = i
	}
	// Pinned partitions go to their member first and stay there.
	for p, name := range cfg.Pins {
		i, ok := index[name]
		if !ok {
			continue // the member is not in this plan: the pin waits
		}
		if o := s.owner[p]; o != i {
			if o >= 0 {
				s.count[o]--
			}
			s.owner[p] = i
			s.count[i]++
		}
		s.pinned[p] = true
		s.pins = true
	}
	// low[m] is m's quota (its count in ideal) cut to floor(P*w/W); a
	// newcomer (a member holding nothing) with a quota gets floor(P*w/W).
	for p, name := range ideal {
		s.goal[p] = index[name]
		s.low[s.goal[p]]++
	}
	for i, quota := range s.low {
		s.low[i] = min(quota, sh.floor[i])
		if s.count[i] == 0 && quota > 0 {
			s.low[i] = sh.floor[i]
		}
	}
	for k, i := range s.order {
		s.pos[i] = k
	}
	for p, list := range cfg.Warm {
		if p >= len(current) {
			break
		}
		for _, name := range list {
			if i, ok := index[name]; ok {
				if s.warm == nil {
					s.warm = make([][]int, len(current))
				}
				s.warm[p] = append(s.warm[p], i)
			}
		}
	}
	return s
}

// shed frees partitions of members above capacity, taking first (in partition
// order) those that ideal places elsewhere. A member holds at most its quota
// (<= capacity) of partitions ideal places on it, so this always suffices.
func (s *settler) shed() {
	for p, i := range s.owner {
		if i >= 0 && i != s.goal[p] && !s.pinned[p] && s.count[i] > s.capacity[i] {
			s.owner[p] = -1
			s.count[i]--
		}
	}
	// Pins can push a member above capacity with partitions ideal places
	// on it: those go next (without pins this frees nothing).
	for p, i := range s.owner {
		if i >= 0 && !s.pinned[p] && s.count[i] > s.capacity[i] {
			s.owner[p] = -1
			s.count[i]--
		}
	}
}

// place gives every free partition, in partition order, to the first member
// below its low, looking from the partition's ideal owner round the successor
// order; if no member is below its low, to the first below even; and only if
// none is (which the arithmetic rules out) to the first below capacity.
//
// Standbys (Config.Warm) go first, in passes before that one: each free
// partition goes to its first standby below its low; then each one left to
// its first standby below even, and then below capacity, as long as the
// free partitions left after it still make up the shortfall below the lows
// (otherwise the fill step would move more). So on a failover the standbys
// take over as far as the load bound allows, with the same number of moves.
func (s *settler) place() error {
	belowLow := func(m int) bool { return s.count[m] < s.low[m] }
	belowEven := func(m int) bool { return s.count[m] < s.even[m] }
	belowCapacity := func(m int) bool { return s.count[m] < s.capacity[m] }
	free, short := 0, 0
	for _, i := range s.owner {
		if i < 0 {
			free++
		}
	}
	for m := range s.n {
		short += max(0, s.low[m]-s.count[m])
	}
	give := func(p, m int) {
		if s.count[m] < s.low[m] {
			short--
		}
		s.owner[p] = m
		s.count[m]++
		free--
	}
	if s.warm != nil {
		for p, i := range s.owner {
			if i < 0 {
				if m := s.firstWarm(p, belowLow); m >= 0 {
					give(p, m)
				}
			}
		}
		for _, ok := range []func(int) bool{belowEven, belowCapacity} {
			for p, i := range s.owner {
				if i < 0 && free-1 >= short {
					if m := s.firstWarm(p, ok); m >= 0 {
						give(p, m)
					}
				}
			}
		}
	}
	for p, i := range s.owner {
		if i >= 0 {
			continue
		}
		j := -1
		for _, ok := range []func(int) bool{belowLow, belowEven, belowCapacity} {
			if j < 0 {
				j = s.first(s.goal[p], ok)
			}
		}
		if j < 0 {
			return fmt.Errorf("%w: no member has room for partition %d", ErrInternal, p)
		}
		give(p, j)
	}
	return nil
}

// firstWarm returns p's first standby m (Config.Warm) with ok(m), or -1.
func (s *settler) firstWarm(p int, ok func(m int) bool) int {
	if s.warm == nil {
		return -1
	}
	for _, m := range s.warm[p] {
		if ok(m) {
			return m
		}
	}
	return -1
}

// first returns the first member m with ok(m), starting at from and going
// round the successor order, or -1.
func (s *settler) first(from int, ok func(m int) bool) int {
	for step := range s.n {
		m := s.order[(s.pos[from]+step)%s.n]
		if ok(m) {
			return m
		}
	}
	return -1
}

// fill brings members still below their low up to it, taking partitions from
// members above their low: first, in partition order, partitions that ideal
// places on the needy member; then, for each needy member in name order, from
// the member with the most to spare (ties: first name), partitions ideal
// places elsewhere before its own, each in partition order.
func (s *settler) fill() error {
	for p, d := range s.owner {
		g := s.goal[p]
		if d != g && !s.pinned[p] && s.count[g] < s.low[g] && s.count[d] > s.low[d] {
			s.owner[p] = g
			s.count[d]--
			s.count[g]++
		}
	}
	needy := false
	for m := range s.n {
		needy = needy || s.count[m] < s.low[m]
	}
	if !needy {
		return nil
	}
	// held[d] lists d's partitions in the order d gives them away.
	held := make([][]int, s.n)
	for _, own := range []bool{false, true} {
		for p, d := range s.owner {
			if !s.pinned[p] && (d == s.goal[p]) == own {
				held[d] = append(held[d], p)
			}
		}
	}
	for m := range s.n {
		for s.count[m] < s.low[m] {
			d := -1
			for c := range s.n {
				if s.count[c] > s.low[c] && len(held[c]) > 0 && (d < 0 || s.count[c]-s.low[c] > s.count[d]-s.low[d]) {
					d = c
				}
			}
			if d < 0 && s.pins {
				break // what it lacks is pinned elsewhere: pins win
			}
			if d < 0 {
				return fmt.Errorf("%w: no member can spare a partition for member %d", ErrInternal, m)
			}
			p := held[d][0]
			held[d] = held[d][1:]
			s.owner[p] = m
			s.count[d]--
			s.count[m]++
		}
	}
	return nil
}

// successorOrder returns member indexes sorted by the hash of the member name
// (ties by name, so the order is total): the ring on which consistent's
// GetClosestNForPartition finds a partition's next members.
func successorOrder(names []string, h hasher) []int {
	type entry struct {
		sum uint64
		i   int
	}
	entries := make([]entry, len(names))
	for i, name := range names {
		entries[i] = entry{h.Sum64([]byte(name)), i}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := cmp.Compare(a.sum, b.sum); c != 0 {
			return c
		}
		return cmp.Compare(names[a.i], names[b.i])
	})
	order := make([]int, len(entries))
	for k, e := range entries {
		order[k] = e.i
	}
	return order
}
