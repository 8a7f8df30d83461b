package main

import (
	"testing"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

// TestProcessWeights: three real processes with --weight 1, 1 and 2 share
// 32 partitions about 8, 8 and 16 (each at least the floor of its share,
// none above ceil(load×P×w/Σw)), and every member shows the weights.
func TestProcessWeights(t *testing.T) {
	c, ctx := startProcsOpts(t, procluster.Options{Members: 3, MemberArgs: func(i int) []string {
		if i == 2 {
			return []string{"--weight", "2"}
		}
		return nil
	}})
	s := settled(ctx, t, c, c.Names())
	counts := map[string]int{}
	for name, mine := range s {
		counts[name] = len(mine.Partitions)
	}
	// Shares of 32 by weights 1:1:2 are 8, 8, 16; capacity of the heavy one
	// ceil(1.25*32*2/4) = 20, of the others 10.
	if counts["ringd-2"] < 16 || counts["ringd-2"] > 20 || counts["ringd-0"] < 8 || counts["ringd-1"] < 8 ||
		counts["ringd-0"] > 10 || counts["ringd-1"] > 10 {
		t.Errorf("weights 1, 1, 2: partitions %v, want about 8, 8, 16", counts)
	}
	var cl api.Cluster
	if err := c.Member("ringd-0").GetJSON(ctx, "/cluster", &cl); err != nil {
		t.Fatal(err)
	}
	for _, m := range cl.Members {
		if want := map[string]float64{"ringd-0": 1, "ringd-1": 1, "ringd-2": 2}[m.Name]; m.Weight != want {
			t.Errorf("/cluster shows %s with weight %v, want %v", m.Name, m.Weight, want)
		}
	}
}
