package partitions

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// randomTable is a table like a leader's: members, a few voters, partitions
// owned or releasing by members under one incarnation each, tokens of a few
// terms; extremes (empty names, huge tokens) now and then.
func randomTable(r *rand.Rand, partitions, members int) Table {
	t := Table{ID: TableID{Term: r.Uint64N(1 << 44), Version: r.Uint64N(1000)}, Leader: fmt.Sprintf("m%d", r.IntN(members+1))}
	incs := map[string]uint64{}
	for i := range members {
		name := fmt.Sprintf("member-%d", i)
		t.Members = append(t.Members, name)
		incs[name] = 1_700_000_000_000 + r.Uint64N(1<<30)
		if i < 5 {
			t.Voters = append(t.Voters, name+"@"+fmt.Sprint(i))
		}
	}
	if r.IntN(4) == 0 && members > 0 {
		t.PrevVoters = []string{t.Members[0] + "@x"}
	}
	for range partitions {
		var e Entry
		switch r.IntN(10) {
		case 0: // unassigned
		case 1: // anything at all: the form must carry every value exactly
			e = Entry{Owner: fmt.Sprint(r.Uint32()), Incarnation: r.Uint64(), Token: r.Uint64(), State: codeStates[r.IntN(3)]}
		default:
			if members == 0 {
				break
			}
			owner := t.Members[r.IntN(members)]
			e = Entry{Owner: owner, Incarnation: incs[owner], Token: (t.ID.Term-r.Uint64N(3))*1000 + r.Uint64N(1000), State: Owned}
			if r.IntN(5) == 0 {
				e.State = Releasing
			}
		}
		t.Partitions = append(t.Partitions, e)
	}
	return t
}

// normalized replaces empty lists by nil: the binary form, like JSON with
// omitempty, does not tell them apart, and no reader does either.
func normalized(t Table) Table {
	for _, l := range []*[]string{&t.Members, &t.Voters, &t.PrevVoters} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	if len(t.Partitions) == 0 {
		t.Partitions = nil
	}
	return t
}

func TestTableBinaryRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := [][2]int{{0, 0}, {1, 0}, {1, 1}, {7, 3}, {271, 5}, {1024, 100}, {4096, 500}}
	for _, sz := range sizes {
		for trial := range 20 {
			want := randomTable(r, sz[0], sz[1])
			b, err := want.AppendBinary(nil)
			if err != nil {
				t.Fatalf("P=%d n=%d trial %d: AppendBinary: %v", sz[0], sz[1], trial, err)
			}
			var got Table
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatalf("P=%d n=%d trial %d: UnmarshalBinary: %v", sz[0], sz[1], trial, err)
			}
			if !reflect.DeepEqual(normalized(got), normalized(want)) {
				t.Fatalf("P=%d n=%d trial %d: round trip changed the table:\n got %+v\nwant %+v", sz[0], sz[1], trial, got, want)
			}
		}
	}
}

// The reason for the form: a leader's table of 1024 partitions among 100
// members must be far smaller than its JSON.
func TestTableBinaryIsCompact(t *testing.T) {
	tbl := randomTable(rand.New(rand.NewPCG(3, 4)), 1024, 100)
	for i := range tbl.Partitions { // a settled table: every grant from the last few terms
		e := &tbl.Partitions[i]
		e.Owner, e.State = tbl.Members[i%100], Owned
		e.Incarnation = 1_733_000_000_000 + uint64(i%100)
		e.Token = tbl.ID.Term*1000 + uint64(i%7)
	}
	b, err := tbl.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(tbl)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)*10 > len(j) {
		t.Fatalf("binary form is %d bytes, JSON %d: want it under a tenth", len(b), len(j))
	}
	t.Logf("binary %d bytes, JSON %d bytes", len(b), len(j))
}

func TestTableBinaryRefusesWhatItCannotCarry(t *testing.T) {
	long := make([]byte, maxBinaryString+1)
	for i := range long {
		long[i] = 'a'
	}
	for name, tbl := range map[string]Table{
		"unknown state": {Partitions: []Entry{{Owner: "a", State: "stolen"}}},
		"long leader":   {Leader: string(long)},
		"long member":   {Members: []string{string(long)}},
		"long owner":    {Partitions: []Entry{{Owner: string(long), State: Owned}}},
	} {
		if _, err := tbl.AppendBinary(nil); err == nil {
			t.Errorf("%s: AppendBinary succeeded", name)
		}
	}
}

func TestTableBinaryRefusesMalformedInput(t *testing.T) {
	good, err := randomTable(rand.New(rand.NewPCG(5, 6)), 64, 4).AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":           nil,
		"other format":    append([]byte{tableFormat + 1}, good[1:]...),
		"trailing byte":   append(append([]byte(nil), good...), 0),
		"huge list":       {tableFormat, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad holder":      {tableFormat, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0, 0},
		"bad state":       {tableFormat, 0, 0, 0, 0, 0, 0, 0, 1, 0, 9, 0},
		"overlong string": {tableFormat, 0, 0, 0x80, 0x10},
	}
	for cut := 1; cut < len(good); cut += max(1, len(good)/40) {
		cases[fmt.Sprintf("cut at %d", cut)] = good[:cut]
	}
	for name, b := range cases {
		var tbl Table
		err := tbl.UnmarshalBinary(b)
		if !errors.Is(err, ErrBadBinaryTable) {
			t.Errorf("%s: UnmarshalBinary = %v, want ErrBadBinaryTable", name, err)
		}
	}
}

// FuzzTableBinary: any input decodes without a panic, and what decodes
// encodes back to a table that decodes the same.
func FuzzTableBinary(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][2]int{{0, 0}, {3, 2}, {40, 5}} {
		b, err := randomTable(r, sz[0], sz[1]).AppendBinary(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tbl Table
		if err := tbl.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := tbl.AppendBinary(nil)
		if err != nil {
			t.Fatalf("a decoded table does not encode: %v", err)
		}
		var back Table
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded table does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalized(back), normalized(tbl)) {
			t.Fatalf("round trip changed the table:\n got %+v\nwant %+v", back, tbl)
		}
	})
}

func BenchmarkTableDecode(b *testing.B) {
	tbl := randomTable(rand.New(rand.NewPCG(9, 10)), 1024, 100)
	bin, err := tbl.AppendBinary(nil)
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(tbl)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(bin)))
		for b.Loop() {
			var t Table
			if err := t.UnmarshalBinary(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			var t Table
			if err := json.Unmarshal(js, &t); err != nil {
				b.Fatal(err)
			}
		}
	})
}
