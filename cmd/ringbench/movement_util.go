package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"

	"github.com/ringd/ringd/rebalance"
)

// Helpers of figures c and d: member names and a plain consistent ring set
// up the way rebalance sets up its own.

// benchMemberNames returns ringd-0 .. ringd-(n-1), the names members get in
// the demo and the chart.
func benchMemberNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("ringd-%d", i)
	}
	return names
}

// benchMember adapts a member name to consistent.Member.
type benchMember string

func (m benchMember) String() string { return string(m) }

// benchHasher is ringd's one hash, xxhash64 with seed 0 (see rebalance's
// package documentation), as a consistent.Hasher.
type benchHasher struct{}

func (benchHasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// consistentConfig is the consistent v1.0.0 configuration rebalance's ring
// uses: ringd's hash, rebalance.RingPoints points per member, the same
// partitions and load.
func consistentConfig(cfg rebalance.Config) consistent.Config {
	return consistent.Config{
		Hasher:            benchHasher{},
		PartitionCount:    cfg.Partitions,
		ReplicationFactor: rebalance.RingPoints,
		Load:              cfg.Load,
	}
}

// consistentRing returns the table of a plain consistent v1.0.0 ring over the
// members with ringd's ring settings: every partition's owner as
// GetPartitionOwner reports it. It is figure d's baseline (the part of Plan
// that cost the most before rebalance built the ring itself) and the
// reference figure c's baseline is checked against.
func consistentRing(members []string, cfg rebalance.Config) []string {
	ms := make([]consistent.Member, len(members))
	for i, m := range members {
		ms[i] = benchMember(m)
	}
	ring := consistent.New(ms, consistentConfig(cfg))
	owners := make([]string, cfg.Partitions)
	for p := range owners {
		owners[p] = ring.GetPartitionOwner(p).String()
	}
	return owners
}

// loadAverage returns the 1, 5 and 15 minute load averages from
// /proc/loadavg, or "" where there is none: timings taken while other work
// keeps the cores busy are slower, and the report should say so.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return ""
	}
	return strings.Join(fields[:3], ", ")
}
