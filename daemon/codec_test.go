package daemon

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

// TestCheckTermsRefusesTermsBeyondMax: terms near 2^64 are refused, while a
// term from a clock that ran days or years ahead (then set right) is still
// accepted: a day-ahead bound relative to the clock refused such a cluster's
// own leader for ever (issue 7).
func TestCheckTermsRefusesTermsBeyondMax(t *testing.T) {
	floor := termFloor(time.Unix(1_800_000_000, 0))
	for _, tc := range []struct {
		name string
		env  core.Envelope
		ok   bool
	}{
		{"current term", core.Envelope{Election: &election.Message{Term: floor}}, true},
		{"a year ahead (a clock once set wrong)", core.Envelope{Election: &election.Message{Term: floor + 365*86_400_000}}, true},
		{"table two days ahead", core.Envelope{Table: &partitions.Table{ID: partitions.TableID{Term: floor + 2*86_400_000}}}, true},
		{"near 2^64", core.Envelope{Election: &election.Message{Term: math.MaxUint64}}, false},
		{"table beyond the maximum", core.Envelope{Table: &partitions.Table{ID: partitions.TableID{Term: MaxTerm + 1}}}, false},
		{"candidate table beyond the maximum", core.Envelope{Election: &election.Message{Term: floor, LastTable: partitions.TableID{Term: MaxTerm + 1}}}, false},
		{"heartbeat table id beyond the maximum", core.Envelope{TableID: partitions.TableID{Term: math.MaxUint64}}, false},
		{"no terms at all", core.Envelope{WantTable: true}, true},
	} {
		err := checkTerms(tc.env)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "beyond the largest term") {
			t.Errorf("%s: unhelpful error %q", tc.name, err)
		}
	}
	if MaxTerm*1000+999 >= 1<<53 {
		t.Errorf("tokens of term MaxTerm reach 2^53")
	}
}

func TestDecodeEnvelopeRefusesMalformedInput(t *testing.T) {
	for _, b := range [][]byte{nil, {1}, {9, '{', '}'}, []byte("\x01not json"), []byte(`\x01{"from":""}`)} {
		if _, err := decodeEnvelope(b); err == nil {
			t.Errorf("decodeEnvelope(%q) accepted it", b)
		}
	}
	good, err := encodeEnvelope(core.Envelope{From: "a", To: "b", WantTable: true})
	if err != nil {
		t.Fatal(err)
	}
	if env, err := decodeEnvelope(good); err != nil || env.From != "a" || !env.WantTable {
		t.Fatalf("round trip: %+v, %v", env, err)
	}
}

// TestTableEncoderMatchesEncodeEnvelope: envelopes that share a table decode
// to what encodeEnvelope gives, each with its own header fields, and a
// different table (even under the same id) is encoded afresh, never taken
// from the previous one.
func TestTableEncoderMatchesEncodeEnvelope(t *testing.T) {
	table := partitions.Table{ID: partitions.TableID{Term: 7, Version: 3}, Leader: "a", Members: []string{"a", "b", "c"},
		Voters: []string{"a@1", "b@2", "c@3"}, Partitions: []partitions.Entry{{Owner: "a", Incarnation: 1, Token: 7001, State: partitions.Owned}, {}}}
	other := table
	other.Partitions = []partitions.Entry{{}, {Owner: "b", Incarnation: 2, Token: 7002, State: partitions.Owned}}
	var enc tableEncoder
	for _, tc := range []struct {
		to    string
		table partitions.Table
	}{{"b", table}, {"c", table}, {"b", other}, {"c", table}} {
		tt := tc.table
		env := core.Envelope{From: "a", Incarnation: 1, Identity: 1, To: tc.to, Table: &tt}
		got, err := enc.encode(env)
		if err != nil {
			t.Fatal(err)
		}
		want, err := encodeEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		g, err := decodeEnvelope(got)
		if err != nil {
			t.Fatalf("decoding the shared encoding: %v", err)
		}
		w, _ := decodeEnvelope(want)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("to %s: shared encoding decodes to\n%+v\nwant\n%+v", tc.to, g, w)
		}
	}
	plain := core.Envelope{From: "a", To: "b", WantTable: true}
	got, err := enc.encode(plain)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := decodeEnvelope(got); g.Table != nil || !g.WantTable {
		t.Errorf("an envelope without a table came back as %+v", g)
	}
}
