package rebalance

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
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

// turncoatHasher answers honestly for the first calls, then collides: it gets
// past checkRing and makes consistent panic.
type turncoatHasher struct{ honest *int }

func (h turncoatHasher) Sum64(b []byte) uint64 {
	if *h.honest > 0 {
		*h.honest--
		return xxhash.Sum64(b)
	}
	return 42
}

func TestTargetRecoversFromPanic(t *testing.T) {
	names := memberNames(2)
	honest := len(names) * replicas
	_, err := target(names, Config{Partitions: 10, Load: 1.25}, turncoatHasher{&honest}, replicas)
	if !errors.Is(err, ErrInternal) {
		t.Fatalf("err = %v, want ErrInternal from a recovered panic", err)
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
