package daemon

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/partitions"
)

func TestCheckTermsRefusesTermsFarAhead(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	floor := termFloor(now)
	for _, tc := range []struct {
		name string
		env  core.Envelope
		ok   bool
	}{
		{"current term", core.Envelope{Election: &election.Message{Term: floor}}, true},
		{"an hour ahead (clock skew)", core.Envelope{Election: &election.Message{Term: floor + 3_600_000}}, true},
		{"near 2^64", core.Envelope{Election: &election.Message{Term: math.MaxUint64}}, false},
		{"table two days ahead", core.Envelope{Table: &partitions.Table{ID: partitions.TableID{Term: floor + 2*86_400_000}}}, false},
		{"no terms at all", core.Envelope{WantTable: true}, true},
	} {
		err := checkTerms(tc.env, now)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "ahead of this member's clock") {
			t.Errorf("%s: unhelpful error %q", tc.name, err)
		}
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
