package rebalance

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/buraksezer/consistent"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // one substring per expected error; none means valid
	}{
		{name: "default", cfg: DefaultConfig()},
		{name: "smallest", cfg: Config{Partitions: 1, Load: 1}},
		{name: "largest", cfg: Config{Partitions: 65536, Load: 100}},
		{name: "load exactly one", cfg: Config{Partitions: 271, Load: 1.0}},
		{name: "no partitions", cfg: Config{Partitions: 0, Load: 1.25},
			want: []string{"partitions must be in [1, 65536], got 0"}},
		{name: "negative partitions", cfg: Config{Partitions: -3, Load: 1.25},
			want: []string{"partitions must be in [1, 65536], got -3"}},
		{name: "too many partitions", cfg: Config{Partitions: 65537, Load: 1.25},
			want: []string{"partitions must be in [1, 65536], got 65537"}},
		{name: "load below one", cfg: Config{Partitions: 271, Load: 0.99},
			want: []string{"load must be a finite number in [1, 100], got 0.99"}},
		{name: "zero load", cfg: Config{Partitions: 271},
			want: []string{"load must be a finite number in [1, 100], got 0"}},
		{name: "load too large", cfg: Config{Partitions: 271, Load: 100.5},
			want: []string{"load must be a finite number in [1, 100], got 100.5"}},
		{name: "NaN load", cfg: Config{Partitions: 271, Load: math.NaN()},
			want: []string{"got NaN"}},
		{name: "infinite load", cfg: Config{Partitions: 271, Load: math.Inf(1)},
			want: []string{"got +Inf"}},
		{name: "negative infinite load", cfg: Config{Partitions: 271, Load: math.Inf(-1)},
			want: []string{"got -Inf"}},
		{name: "both fields bad", cfg: Config{Partitions: 0, Load: math.NaN()},
			want: []string{"partitions must be", "load must be"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalidConfig", err)
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok || len(joined.Unwrap()) != len(tt.want) {
				t.Fatalf("Validate() = %q, want %d joined errors", err, len(tt.want))
			}
			for i, e := range joined.Unwrap() {
				if !errors.Is(e, ErrInvalidConfig) {
					t.Errorf("error %d %q does not wrap ErrInvalidConfig", i, e)
				}
				if !strings.Contains(e.Error(), tt.want[i]) {
					t.Errorf("error %d = %q, want it to contain %q", i, e, tt.want[i])
				}
				if msg := e.Error(); msg[:1] != strings.ToLower(msg[:1]) {
					t.Errorf("error %d = %q, want it to start in lower case", i, msg)
				}
			}
		})
	}
}

func TestCapacity(t *testing.T) {
	tests := []struct {
		members int
		cfg     Config
		want    int
	}{
		{0, DefaultConfig(), 0},
		{-1, DefaultConfig(), 0},
		{1, DefaultConfig(), 339},                          // ceil(338.75)
		{2, DefaultConfig(), 170},                          // ceil(169.375)
		{50, DefaultConfig(), 7},                           // ceil(6.775)
		{271, Config{Partitions: 271, Load: 1}, 1},         // exact
		{300, DefaultConfig(), 2},                          // ceil(1.129)
		{300, Config{Partitions: 1, Load: 1}, 1},           // one partition, many members
		{4, Config{Partitions: 8, Load: 1}, 2},             // P/n integral: no rounding up
		{1, Config{Partitions: 65536, Load: 100}, 6553600}, // largest
		{3, Config{Partitions: 0, Load: 1.25}, 0},          // invalid config
		{3, Config{Partitions: 271, Load: math.NaN()}, 0},  // invalid config
	}
	for _, tt := range tests {
		if got := Capacity(tt.members, tt.cfg); got != tt.want {
			t.Errorf("Capacity(%d, %+v) = %d, want %d", tt.members, tt.cfg, got, tt.want)
		}
	}
}

// TestCapacityMatchesConsistent pins Capacity to the bound consistent
// enforces, including where float rounding could differ.
func TestCapacityMatchesConsistent(t *testing.T) {
	for _, partitions := range []int{1, 7, 100, 271, 1000, 4096} {
		for _, load := range []float64{1, 1.1, 1.2, 1.25, 1.3, 1.5, 2, 3.3, 100} {
			cfg := Config{Partitions: partitions, Load: load}
			for n := 1; n <= 40; n++ {
				ms := make([]consistent.Member, n)
				for i, name := range memberNames(n) {
					ms[i] = ringMember(name)
				}
				c := consistent.New(ms, consistent.Config{
					Hasher: xxHasher{}, PartitionCount: partitions, ReplicationFactor: 1, Load: load,
				})
				if got, want := Capacity(n, cfg), int(c.AverageLoad()); got != want {
					t.Fatalf("Capacity(%d, %+v) = %d, consistent's bound is %d", n, cfg, got, want)
				}
			}
		}
	}
}

func TestValidateWeights(t *testing.T) {
	for _, w := range []float64{0, -1, 0.001, 101, math.NaN(), math.Inf(1)} {
		cfg := Config{Partitions: 271, Load: 1.25, Weights: map[string]float64{"a": 1, "b": w}}
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `weight of "b"`) {
			t.Errorf("weight %v: Validate = %v, want an error naming b's weight", w, err)
		}
	}
	if err := (Config{Partitions: 271, Load: 1.25, Weights: map[string]float64{"a": 0.01, "b": 100}}).Validate(); err != nil {
		t.Errorf("weights at the bounds: %v", err)
	}
}
