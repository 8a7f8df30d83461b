// Package rebalance decides which member owns which partition. It is pure
// planning: no goroutines, sockets or clocks. The leader calls Plan with the
// current table and the members that may own partitions (draining members and
// members still settling are left out by the caller), publishes
// Result.Target, and carries out Result.Moves with the release-then-grant
// handoff. Every input that reaches the package is checked: bad input gives an
// error wrapping one of the sentinels in config.go, never a panic.
//
// # One hash
//
// xxhash64 (cespare/xxhash/v2, seed 0) is the only hash: it places members and
// partitions on the consistent-hashing ring, and PartitionOf maps application
// keys to partitions with it (hash mod P, as consistent's FindPartitionID).
//
// # Ideal placement: Target
//
// Target is bounded-load consistent hashing as buraksezer/consistent v1.0.0
// computes it: every member puts 40 points on a ring, each partition goes to
// the first point after its hash whose member has fewer than Capacity
// partitions, partitions in id order; the result depends on the member set
// only (names are sorted and de-duplicated first). This package computes that
// placement itself, building the ring once, because consistent re-sorts its
// ring after each member it adds (see Cost); the tests compare the two on
// random member sets, partition counts and loads, so the placement is
// consistent's, point for point.
//
// # Sticky plan: Plan
//
// Plan uses Target as a preference, not as the answer. Let n be the number of
// members, quota[m] the number of partitions Target gives m, and
//
//	capacity = Capacity(n, cfg)  ceil(Load*P/n): no member may keep more
//	even     = ceil(P/n)         no member is given partitions beyond this
//	low[m]   = min(quota[m], floor(P/n)), or floor(P/n) for a newcomer
//	           (a member that holds nothing and has a quota): no member may
//	           end with fewer
//
// An assignment in which every partition is owned by a member and every member
// m holds between low[m] and capacity partitions is stable: Plan leaves it as
// it is. Target is stable (quota[m] <= capacity, and no member with a quota
// holds nothing in it), and so is every result of Plan. Otherwise Plan changes
// owners in four steps:
//
//  1. Keep: partitions of members keep their owner; partitions that are
//     unassigned or held by a member that is gone are free.
//  2. Shed: a member above capacity frees partitions, in partition order,
//     among those Target places on another member (it holds at most quota of
//     its own, so that is enough).
//  3. Place: each free partition, in partition order, goes to the first
//     member below its low, starting at the partition's Target owner and
//     going round the members in successor order (sorted by the hash of their
//     name, the order consistent's GetClosestNForPartition walks); if no
//     member is below its low, to the first member below even in the same
//     order. As n*even >= P, one always has room.
//  4. Fill: members still below their low take partitions from members above
//     their low: first partitions Target places on the needy member, then from
//     the member with the most to spare, partitions Target places elsewhere
//     before its own.
//
// Let F be the number of free partitions after step 2 (orphans, unassigned
// and shed) and D the total shortfall below low after step 2. Plan moves
// exactly max(F, D) partitions, and no assignment within the same bounds is
// closer: every free partition needs an owner and every shortfall must be
// made up. Partitions that need not move keep their owner.
//
// Why these bounds. Target alone moves too much: consistent fills partitions
// in id order, so one member more or less changes which members overflow and
// with that the counts of members far from the change, and it fills many
// members right up to capacity, so a join that lowers capacity forces all of
// them to shed. Following Target after every change moved up to 3.4 times the
// optimum on a join and 16 times the leaver's share on a leave (P=271,
// Load 1.25, n=2..50), and even keeping Target's counts as quotas while
// keeping owners still moved up to 3.1 and 14 times. Instead:
//   - placing only up to even gives a cluster counts of floor(P/n) or
//     ceil(P/n) (from an empty table), far below capacity, so a join
//     seldom forces anyone to shed;
//   - letting members keep up to capacity means a join takes from the others
//     only what the newcomer gets, and the load factor is the tolerance that
//     buys this stickiness;
//   - a newcomer's low of floor(P/n) gives it its fair share at once, while
//     tying other members' lows to their quota keeps Target stable;
//   - placing by Target (and round the ring after it) keeps the assignment
//     close to consistent hashing: 83% of a settled table is on its Target
//     owner on average over n=2..50.
//
// Measured by TestMovementTable for P=271, Load 1.25, n=2..50, from a settled
// table: a single join moves at most P/(n+1) partitions (all of them to the
// newcomer) and every single leave moves exactly the leaver's share.
//
// The result is a pure function of (current, the set of members, cfg): member
// names are sorted and de-duplicated first and every rule above walks in a
// fixed order, so every leader computes the same table from the same table.
//
// # Weights
//
// Config.Weights gives members shares relative to each other (default 1).
// With total weight W over the members of a plan, every bound above is
// taken per member with its share P*w[m]/W in place of P/n: capacity[m] =
// ceil(Load*P*w[m]/W) (WeightedCapacity), even[m] = ceil(P*w[m]/W), low[m]
// = min(quota[m], floor(P*w[m]/W)) (floor(P*w[m]/W) for a newcomer), and
// member m puts round(40*w[m]) points on the ring (at least one), so that
// Target's preference follows the weights too. The sums that make the plan
// possible still hold (the capacities add up to at least Load*P >= P, the
// evens to at least P, the lows to at most P), and so does the promise of
// exactly max(F, D) moves. With every weight 1 the computation is the
// unweighted one, operation for operation.
//
// # Cost
//
// Plan hashes n*40 ring points and sorts them once (a radix sort), places P
// partitions with a binary search and a walk past full members each, and
// settles in time linear in P (times n where it looks for a member with room).
// Measured with BenchmarkPlan on a busy 2-core machine: about 14 ms (7 ms of
// CPU) for 1000 members and 10,000 partitions, 2.5 ms for 300 members at
// P=271. Building the ring with consistent instead, which re-sorts all points
// after adding each member, cost about 3 s at 1000 x 10,000 and 0.16 s at
// 300 x 271. The leader plans once per batched membership change, and
// daemon/core caches the answer while its inputs stay the same.
package rebalance
