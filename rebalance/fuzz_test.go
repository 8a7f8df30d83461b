package rebalance

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// maxFuzzPartitions keeps each fuzz run fast: a valid partition count above it
// is folded into 1..maxFuzzPartitions. Large counts are covered by the unit
// tests.
const maxFuzzPartitions = 1024

// fuzzMembers decodes a member list: one name per byte (up to 300), 0xff is the
// invalid empty name, any other byte b names m<b%64>, so duplicates are common.
func fuzzMembers(spec []byte) []string {
	spec = spec[:min(len(spec), 300)]
	members := make([]string, len(spec))
	for i, b := range spec {
		if b != 0xff {
			members[i] = "m" + strconv.Itoa(int(b%64))
		}
	}
	return members
}

// fuzzWeights gives the members of a spec whose length is a multiple of 3
// weights from 0.5 to 4 (m<k> weighs (1 + k%8)/2): weighted plans alongside
// unweighted ones.
func fuzzWeights(spec []byte) map[string]float64 {
	if len(spec) == 0 || len(spec)%3 != 0 {
		return nil
	}
	w := map[string]float64{}
	for k := range 64 {
		w["m"+strconv.Itoa(k)] = float64(1+k%8) / 2
	}
	return w
}

// fuzzZones puts the members of a spec of even length in three zones (m<k>
// in z<k%3>, m0..m2 in no zone at all when the spec starts with an even
// byte): zoned plans alongside plans without zones.
func fuzzZones(spec []byte) map[string]string {
	if len(spec) == 0 || len(spec)%2 != 0 {
		return nil
	}
	z := map[string]string{}
	for k := range 64 {
		if k < 3 && spec[0]%2 == 0 {
			continue
		}
		z["m"+strconv.Itoa(k)] = "z" + strconv.Itoa(k%3)
	}
	return z
}

// fuzzWarm decodes the current standbys from the same spec as fuzzCurrent:
// a byte c with c%3 == 0 gives its partition the standbys m<(c/3)%80> and
// m<(c/5)%80> (possibly the same, gone, or the owner).
func fuzzWarm(spec []byte, partitions int) [][]string {
	if len(spec) == 0 || partitions < 0 {
		return nil
	}
	warm := make([][]string, partitions)
	for p := range partitions {
		if c := spec[p%len(spec)] + byte(p/len(spec)); c%3 == 0 {
			warm[p] = []string{"m" + strconv.Itoa(int(c/3)%80), "m" + strconv.Itoa(int(c/5)%80)}
		}
	}
	return warm
}

// fuzzCurrent decodes a table of the given length, cycling through spec: a
// byte c with c%4 == 0 is unassigned, others name m<(c/4)%80>, so m64..m79 are
// owners that are never members (gone).
func fuzzCurrent(spec []byte, partitions int) []string {
	current := make([]string, partitions)
	if len(spec) == 0 {
		return current
	}
	for p := range current {
		if c := spec[p%len(spec)] + byte(p/len(spec)); c%4 != 0 {
			current[p] = "m" + strconv.Itoa(int(c/4)%80)
		}
	}
	return current
}

// FuzzPlan feeds Plan arbitrary configs, member lists and tables. Plan must not
// panic; bad input must give the matching error; a result must cover every
// partition, respect capacity, move exactly the minimal number of partitions in
// order, be idempotent and not depend on member order. A first byte 0xee in
// currentSpec drops one entry of the table.
func FuzzPlan(f *testing.F) {
	f.Add(271, 1.25, []byte("abcdefgh"), []byte{})
	f.Add(271, 1.25, []byte("abcdefgh"), []byte("abcdefghijklmnopq"))
	f.Add(271, 1.0, []byte{1, 2, 3}, []byte{5, 9, 13, 0, 255})
	f.Add(1, 1.0, slices.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 30), []byte{4})
	f.Add(7, 1.0, slices.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 3), []byte{1, 2, 3})
	f.Add(271, 100.0, []byte{7, 8}, []byte{4, 4, 4, 8})
	f.Add(65536, 1.25, []byte{1, 2, 3, 4, 5}, []byte{0})
	f.Add(271, 1.25, []byte{}, []byte{4, 8, 12, 0})
	f.Add(271, 1.25, []byte{1, 0xff}, []byte{})
	f.Add(271, 1.25, []byte{1, 2}, []byte{0xee, 4})
	f.Add(0, 1.25, []byte{1}, []byte{})
	f.Add(-5, 1.25, []byte{1}, []byte{})
	f.Add(70000, 1.25, []byte{1}, []byte{})
	f.Add(271, 0.5, []byte{1}, []byte{})
	f.Add(271, math.NaN(), []byte{1}, []byte{})
	f.Add(271, math.Inf(1), []byte{1}, []byte{})
	f.Add(271, 101.0, []byte{1}, []byte{})
	f.Fuzz(func(t *testing.T, partitions int, load float64, memberSpec, currentSpec []byte) {
		cfg := Config{Partitions: partitions, Load: load, Weights: fuzzWeights(memberSpec),
			Standbys: len(currentSpec) % 3, Zones: fuzzZones(memberSpec)}
		size := 3 // any length: an invalid config is refused before the table is read
		if cfg.valid() {
			if cfg.Partitions > maxFuzzPartitions {
				cfg.Partitions = 1 + cfg.Partitions%maxFuzzPartitions
			}
			size = cfg.Partitions
		}
		members := fuzzMembers(memberSpec)
		current := fuzzCurrent(currentSpec, size)
		if cfg.valid() {
			cfg.Warm = fuzzWarm(currentSpec, size)
		}
		shortTable := len(currentSpec) > 0 && currentSpec[0] == 0xee
		if shortTable {
			current = current[:len(current)-1]
		}

		res, err := Plan(current, members, cfg)
		var want error
		switch {
		case !cfg.valid():
			want = ErrInvalidConfig
		case shortTable:
			want = ErrInvalidCurrent
		case slices.Contains(members, ""):
			want = ErrInvalidMembers
		}
		if want != nil || err != nil {
			if !errors.Is(err, want) {
				t.Fatalf("Plan(cfg %+v, %d members) err = %v, want %v", cfg, len(members), err, want)
			}
			return
		}
		checkResult(t, current, members, cfg, res)

		reversed := slices.Clone(members)
		slices.Reverse(reversed)
		again, err := Plan(current, reversed, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, res) {
			t.Fatal("reversed member order gives another result")
		}
	})
}
