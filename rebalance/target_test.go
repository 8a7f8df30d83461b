package rebalance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// TestTargetMatchesConsistent checks that Target is consistent's own placement,
// whatever order the members are added in.
func TestTargetMatchesConsistent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 10, 37} {
		for _, cfg := range []Config{DefaultConfig(), {Partitions: 1000, Load: 1}, {Partitions: 13, Load: 3}} {
			names := memberNames(n)
			got, err := Target(names, cfg)
			if err != nil {
				t.Fatal(err)
			}
			shuffled := slices.Clone(names)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			ms := make([]consistent.Member, n)
			for i, name := range shuffled {
				ms[i] = ringMember(name)
			}
			c := consistent.New(ms, consistent.Config{
				Hasher: xxHasher{}, PartitionCount: cfg.Partitions, ReplicationFactor: replicas, Load: cfg.Load,
			})
			for p, owner := range got {
				if want := c.GetPartitionOwner(p).String(); owner != want {
					t.Fatalf("n=%d %+v: partition %d: Target says %q, consistent says %q", n, cfg, p, owner, want)
				}
			}
		}
	}
}

// consistentOwners is the reference: consistent v1.0.0's own placement.
func consistentOwners(names []string, cfg Config, h consistent.Hasher) []string {
	ms := make([]consistent.Member, len(names))
	for i, name := range names {
		ms[i] = ringMember(name)
	}
	c := consistent.New(ms, consistent.Config{
		Hasher: h, PartitionCount: cfg.Partitions, ReplicationFactor: replicas, Load: cfg.Load,
	})
	owners := make([]string, cfg.Partitions)
	for p := range owners {
		owners[p] = c.GetPartitionOwner(p).String()
	}
	return owners
}

// pairedHasher is xxhash, except that a member's ring points 2k and 2k+1 land
// on the same place: consistent then keeps the point twice in its sorted ring,
// which target must reproduce.
type pairedHasher struct{}

func (pairedHasher) Sum64(b []byte) uint64 {
	idx, name, ok := bytes.Cut(b, []byte(":"))
	if len(b) == 8 && b[7] == 0 || !ok { // a partition key, not a ring key
		return xxhash.Sum64(b)
	}
	i, err := strconv.Atoi(string(idx))
	if err != nil {
		return xxhash.Sum64(b)
	}
	return xxhash.Sum64(strconv.AppendInt(append(slices.Clone(name), '#'), int64(i/2), 10))
}

// TestTargetMatchesConsistentRandom compares target with consistent on random
// member names, member counts (including more members than partitions),
// partition counts and loads (including 1, where the last partitions walk far
// past full members), and on a ring with repeated points.
func TestTargetMatchesConsistentRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := range 24 {
		n := 1 + r.IntN(80)
		cfg := Config{Partitions: 1 + r.IntN(2000), Load: 1 + 2*r.Float64()}
		if trial%4 == 0 {
			cfg.Load = 1
		}
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("pod-%x.%d", r.Uint64(), i)
		}
		slices.Sort(names)
		for _, h := range []hasher{xxHasher{}, pairedHasher{}} {
			got, err := target(names, cfg, h, replicas)
			if err != nil {
				t.Fatalf("trial %d (n=%d %+v, %T): %v", trial, n, cfg, h, err)
			}
			if want := consistentOwners(names, cfg, h); !slices.Equal(got, want) {
				t.Fatalf("trial %d (n=%d %+v, %T): target differs from consistent in %d partitions",
					trial, n, cfg, h, changed(got, want))
			}
		}
	}
}

func TestTargetIgnoresOrderAndDuplicates(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	names := memberNames(25)
	want, err := Target(names, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		members := slices.Clone(names)
		for range r.IntN(10) {
			members = append(members, names[r.IntN(len(names))])
		}
		r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		got, err := Target(members, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Target(%v) differs from Target of the sorted set", members)
		}
	}
}

func TestTargetEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		members int
		cfg     Config
	}{
		{"no members", 0, DefaultConfig()},
		{"one member", 1, DefaultConfig()},
		{"one partition", 3, Config{Partitions: 1, Load: 1.25}},
		{"more members than partitions", 100, Config{Partitions: 61, Load: 1.25}},
		{"more members than partitions, one partition", 300, Config{Partitions: 1, Load: 1}},
		{"load exactly one", 7, Config{Partitions: 271, Load: 1}},
		{"load exactly one, P multiple of n", 8, Config{Partitions: 256, Load: 1}},
		{"large load", 5, Config{Partitions: 271, Load: 100}},
		{"largest P", 3, Config{Partitions: 65536, Load: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			names := memberNames(tt.members)
			got, err := Target(names, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.cfg.Partitions {
				t.Fatalf("len = %d, want %d", len(got), tt.cfg.Partitions)
			}
			counts := countOwners(got)
			if tt.members == 0 {
				if counts[""] != tt.cfg.Partitions {
					t.Fatalf("without members %d partitions are assigned", tt.cfg.Partitions-counts[""])
				}
				return
			}
			if counts[""] != 0 {
				t.Fatalf("%d partitions without owner", counts[""])
			}
			capacity := Capacity(tt.members, tt.cfg)
			for owner, c := range counts {
				if c > capacity {
					t.Fatalf("%q owns %d > capacity %d", owner, c, capacity)
				}
			}
		})
	}
}

func TestTargetRejectsBadInput(t *testing.T) {
	for _, cfg := range []Config{
		{Partitions: 271, Load: 0.5},
		{Partitions: 271, Load: math.NaN()},
		{Partitions: 271, Load: math.Inf(1)},
		{Partitions: 0, Load: 1.25},
	} {
		if _, err := Target(memberNames(3), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Target with %+v: err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	if _, err := Target([]string{"a", "", "b"}, DefaultConfig()); !errors.Is(err, ErrInvalidMembers) {
		t.Errorf("Target with an empty name: err = %v, want ErrInvalidMembers", err)
	}
}

// recordingHasher is xxhash that remembers every input.
type recordingHasher struct{ inputs *[]string }

func (h recordingHasher) Sum64(b []byte) uint64 {
	*h.inputs = append(*h.inputs, string(b))
	return xxhash.Sum64(b)
}

// TestRingKeysMatchConsistent pins the ring layout checkRing assumes: consistent
// hashes exactly the ring keys ringKey builds, plus one 8-byte little-endian
// key per partition.
func TestRingKeysMatchConsistent(t *testing.T) {
	names := memberNames(4)
	const partitions = 17
	var got []string
	ms := make([]consistent.Member, len(names))
	for i, name := range names {
		ms[i] = ringMember(name)
	}
	consistent.New(ms, consistent.Config{
		Hasher: recordingHasher{&got}, PartitionCount: partitions, ReplicationFactor: replicas, Load: 1.25,
	})
	var want []string
	for _, name := range names {
		for i := range replicas {
			want = append(want, string(ringKey(nil, name, i)))
		}
	}
	for p := range partitions {
		want = append(want, string(binary.LittleEndian.AppendUint64(nil, uint64(p))))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("consistent hashed %d keys, not the %d expected ones", len(got), len(want))
	}
}

// constantHasher puts everything on one ring point.
type constantHasher struct{}

func (constantHasher) Sum64([]byte) uint64 { return 42 }

// TestTargetRefusesCollision shows that a collision makes consistent itself
// panic, and that target refuses it with an error instead.
func TestTargetRefusesCollision(t *testing.T) {
	names := memberNames(2)
	cfg := Config{Partitions: 10, Load: 1.25}
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		consistent.New([]consistent.Member{ringMember(names[0]), ringMember(names[1])}, consistent.Config{
			Hasher: constantHasher{}, PartitionCount: cfg.Partitions, ReplicationFactor: replicas, Load: cfg.Load,
		})
		return false
	}()
	if !panicked {
		t.Fatal("consistent did not panic on a fully colliding ring; the guard is untested")
	}
	if _, err := target(names, cfg, constantHasher{}, replicas); !errors.Is(err, ErrHashCollision) {
		t.Fatalf("target with colliding ring: err = %v, want ErrHashCollision", err)
	}
	if _, err := plan(make([]string, cfg.Partitions), names, cfg, constantHasher{}, replicas); !errors.Is(err, ErrHashCollision) {
		t.Fatalf("plan with colliding ring: err = %v, want ErrHashCollision", err)
	}
}

// turncoatHasher answers honestly for the first calls, then collides. Against
// consistent, which hashed ring points once to check them and again to build
// its ring, it got past the collision check and made consistent panic.
type turncoatHasher struct{ honest *int }

func (h turncoatHasher) Sum64(b []byte) uint64 {
	if *h.honest > 0 {
		*h.honest--
		return xxhash.Sum64(b)
	}
	return 42
}

// TestTargetHashesEachPointOnce: target checks the very ring it places on, so
// a hasher that changes its answers after the ring points cannot slip a
// collision past the check; the partitions then all hash alike, and still each
// gets an owner within capacity.
func TestTargetHashesEachPointOnce(t *testing.T) {
	names := memberNames(2)
	cfg := Config{Partitions: 10, Load: 1.25}
	honest := len(names) * replicas
	got, err := target(names, cfg, turncoatHasher{&honest}, replicas)
	if err != nil {
		t.Fatalf("target: %v", err)
	}
	for owner, c := range countOwners(got) {
		if !slices.Contains(names, owner) || c > Capacity(len(names), cfg) {
			t.Fatalf("%q owns %d partitions (capacity %d): %v", owner, c, Capacity(len(names), cfg), got)
		}
	}
}

// TestRingPlaceReportsNoRoom covers the guard that consistent has as a panic:
// members without room for every partition give ErrInternal, not a loop or a
// partial table. Capacity with Load >= 1 never allows this, so the test asks
// the ring directly.
func TestRingPlaceReportsNoRoom(t *testing.T) {
	r, err := newRing(memberNames(3), xxHasher{}, []int{replicas, replicas, replicas})
	if err != nil {
		t.Fatal(err)
	}
	three := []int{3, 3, 3}
	if _, err := r.place(10, three, xxHasher{}); !errors.Is(err, ErrInternal) {
		t.Fatalf("3 members of capacity 3 placing 10 partitions: err = %v, want ErrInternal", err)
	}
	owners, err := r.place(9, three, xxHasher{})
	if err != nil {
		t.Fatalf("3 members of capacity 3 placing 9 partitions: %v", err)
	}
	loads := make([]int, 3)
	for _, m := range owners {
		loads[m]++
	}
	if !slices.Equal(loads, []int{3, 3, 3}) {
		t.Fatalf("loads %v, want 3 each", loads)
	}
}

func TestPartitionOf(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, partitions := range []int{1, 2, 271, 65536} {
		c := consistent.New(nil, consistent.Config{Hasher: xxHasher{}, PartitionCount: partitions, ReplicationFactor: 1, Load: 1})
		for range 1000 {
			key := make([]byte, r.IntN(40))
			for i := range key {
				key[i] = byte(r.UintN(256))
			}
			got := PartitionOf(key, partitions)
			if got < 0 || got >= partitions {
				t.Fatalf("PartitionOf(%x, %d) = %d, out of range", key, partitions, got)
			}
			if want := c.FindPartitionID(key); got != want {
				t.Fatalf("PartitionOf(%x, %d) = %d, consistent's FindPartitionID = %d", key, partitions, got, want)
			}
		}
	}
	// Golden values: the mapping is part of the wire contract between members
	// and applications, so it must never change. xxhash64("") is the published
	// 0xef46db3751d8e999, and 0xef46db3751d8e999 mod 271 = 171.
	for key, want := range map[string]int{"": 171, "ringd": 150, "user:42": 195} {
		if got := PartitionOf([]byte(key), 271); got != want {
			t.Errorf("PartitionOf(%q, 271) = %d, want %d", key, got, want)
		}
	}
	for _, partitions := range []int{0, -1} {
		if got := PartitionOf([]byte("k"), partitions); got != -1 {
			t.Errorf("PartitionOf(k, %d) = %d, want -1", partitions, got)
		}
	}
}
