package daemon

import (
	"strings"
	"testing"
)

// Placement fields that do not fit their table are refused in either
// protocol version: a standby that is not a member, standby lists for
// another number of partitions or longer than MaxStandbys, a reservation or
// pin out of range or for no one, a restart entry without a name. Taken as
// they come, they would make every later plan fail or keep a partition
// unowned for good, and a version-2 table would not survive re-encoding
// for a version-3 peer.
func TestDecodeRefusesPlacementThatDoesNotFit(t *testing.T) {
	const head = `{"from":"a","tbl":{"id":{"term":7,"version":3},"leader":"a","members":["a","b"],"partitions":[{},{}],`
	for _, field := range []string{
		`"standbys":[["x"],[]]`,
		`"standbys":[["b"]]`,
		`"standbys":[["b","b","b","b","b","b","b","b","b"],[]]`,
		`"reserved":{"99":"b"}`,
		`"reserved":{"-1":"b"}`,
		`"reserved":{"1":""}`,
		`"pins":{"2":"b"}`,
		`"restarting":{"":"2026-12-03T10:00:00Z"}`,
	} {
		if _, err := decodeEnvelope(append([]byte{2}, head+field+`}}`...)); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("version 2 with %s: err %v, want it refused as malformed", field, err)
		}
	}
	ok := head + `"standbys":[["b"],["a"]],"reserved":{"1":"b"},"restarting":{"b":"2026-12-03T10:00:00Z"}}}`
	env, err := decodeEnvelope(append([]byte{2}, ok...))
	if err != nil {
		t.Fatalf("a table whose placement fits: %v", err)
	}
	b, err := encodeEnvelope(env, 3)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeEnvelope(b)
	if err != nil {
		t.Fatalf("the same table as version 3: %v", err)
	}
	if got := back.Table; len(got.Standbys) != 2 || got.Standbys[0][0] != "b" || got.Reserved[1] != "b" || got.Restarting["b"].IsZero() {
		t.Fatalf("version 3 lost placement fields: %+v", got)
	}
}
