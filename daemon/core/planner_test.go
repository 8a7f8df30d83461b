package core

import (
	"errors"
	"slices"
	"testing"

	"github.com/ringd/ringd/rebalance"
)

func TestPlanCacheReusesAnswerForSameInputs(t *testing.T) {
	pc := planCache{cfg: rebalance.Config{Partitions: 7, Load: 1.25}}
	current := make([]string, 7)
	res, computed, err := pc.plan(current, []string{"a", "b"}, pc.cfg)
	if err != nil || !computed {
		t.Fatalf("first plan: computed %v, err %v", computed, err)
	}
	want, err := rebalance.Plan(current, []string{"a", "b"}, pc.cfg)
	if err != nil || !slices.Equal(res.Target, want.Target) {
		t.Fatalf("plan %v, rebalance.Plan %v (%v)", res.Target, want.Target, err)
	}
	again, computed, err := pc.plan(slices.Clone(current), []string{"a", "b"}, pc.cfg)
	if err != nil || computed || !slices.Equal(again.Target, res.Target) {
		t.Fatalf("same inputs: computed %v, err %v, target %v", computed, err, again.Target)
	}
	for _, tc := range []struct {
		name             string
		current, members []string
	}{
		{"members change", current, []string{"a", "b", "c"}},
		{"owners change", append([]string{"a"}, current[1:]...), []string{"a", "b", "c"}},
	} {
		if _, computed, err := pc.plan(tc.current, tc.members, pc.cfg); err != nil || !computed {
			t.Fatalf("%s: computed %v, err %v; want a new plan", tc.name, computed, err)
		}
	}
	last := append([]string{"a"}, current[1:]...)
	for _, tc := range []struct {
		name   string
		change func(*rebalance.Config)
	}{
		{"weights", func(c *rebalance.Config) { c.Weights = map[string]float64{"a": 2} }},
		{"pins", func(c *rebalance.Config) { c.Pins = map[int]string{3: "b"} }},
		{"zones", func(c *rebalance.Config) { c.Zones = map[string]string{"a": "x", "b": "y"} }},
		{"standbys", func(c *rebalance.Config) { c.Standbys = 1 }},
		{"current standbys", func(c *rebalance.Config) { c.Warm = [][]string{{"a"}, {"b"}, {"c"}, {"a"}, {"b"}, {"c"}, {"a"}} }},
	} {
		cfg := pc.cfg
		tc.change(&cfg)
		if _, computed, err := pc.plan(last, []string{"a", "b", "c"}, cfg); err != nil || !computed {
			t.Fatalf("%s change: computed %v, err %v; want a new plan", tc.name, computed, err)
		}
		if _, computed, _ := pc.plan(last, []string{"a", "b", "c"}, cfg); computed {
			t.Fatalf("same %s: planned again", tc.name)
		}
	}
}

func TestPlanCacheReusesFailure(t *testing.T) {
	pc := planCache{cfg: rebalance.Config{Partitions: 7, Load: 1.25}}
	bad := []string{"a", ""} // an empty member name is refused
	_, computed, err := pc.plan(make([]string, 7), bad, pc.cfg)
	if !errors.Is(err, rebalance.ErrInvalidMembers) || !computed {
		t.Fatalf("computed %v, err %v; want a fresh ErrInvalidMembers", computed, err)
	}
	_, computed, err = pc.plan(make([]string, 7), bad, pc.cfg)
	if !errors.Is(err, rebalance.ErrInvalidMembers) || computed {
		t.Fatalf("computed %v, err %v; want the same failure, reused", computed, err)
	}
	if _, computed, err = pc.plan(make([]string, 7), []string{"a"}, pc.cfg); err != nil || !computed {
		t.Fatalf("computed %v, err %v; want a fresh success", computed, err)
	}
}

// TestPlanCacheKeepsInputsApart: inputs that a key made by joining the
// names would confuse are different inputs. Names from peers are not
// checked: any byte may appear in them.
func TestPlanCacheKeepsInputsApart(t *testing.T) {
	for _, tc := range [][2][][]string{
		{{{"ab", ""}, {"c"}}, {{"a", "b"}, {"c"}}},
		{{{""}, {"a", "b"}}, {{"b"}, {"a"}}},
		{{{"a\x00b"}, {"c"}}, {{"a", "b"}, {"c"}}},
		{{{"a"}, {"b\x01c\x00"}}, {{"a\x00\x01b"}, {"c"}}},
	} {
		a, b := tc[0], tc[1]
		pc := planCache{cfg: rebalance.Config{Partitions: 2, Load: 1.25}}
		pc.plan(a[0], a[1], pc.cfg)
		if _, computed, _ := pc.plan(b[0], b[1], pc.cfg); !computed {
			t.Errorf("plan(%q, %q) after plan(%q, %q) reused the answer", b[0], b[1], a[0], a[1])
		}
	}
}
