package daemon

import (
	"encoding/json"
	"fmt"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/partitions"
)

// maxMessage bounds a peer message: a table of 65536 partitions fits well.
const maxMessage = 8 << 20

// maxNameLen bounds member names in messages, as Config.Resolve does for --name.
const maxNameLen = 128

// encodeEnvelope frames a peer message: one version byte, then JSON.
func encodeEnvelope(env core.Envelope) ([]byte, error) {
	body, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	return append([]byte{core.ProtocolVersion}, body...), nil
}

// tableEncoder encodes envelopes like encodeEnvelope, encoding a table that
// several envelopes share only once: the leader sends each new table to
// every member, and encoding it again for each of hundreds of members held
// its loop up for longer than the table took to reach them (issue 11,
// figure e). The zero value is ready; use one per batch of messages.
type tableEncoder struct {
	of  partitions.Table // the table last encoded
	raw json.RawMessage
}

// withEncodedTable is an Envelope whose table is already JSON: its Table
// field, shallower than the embedded one under the same key, replaces it.
type withEncodedTable struct {
	core.Envelope
	Table json.RawMessage `json:"tbl"`
}

func (e *tableEncoder) encode(env core.Envelope) ([]byte, error) {
	if env.Table == nil {
		return encodeEnvelope(env)
	}
	if t := *env.Table; e.raw == nil || !sameTable(t, e.of) {
		raw, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		e.of, e.raw = t, raw
	}
	env.Table = nil
	body, err := json.Marshal(withEncodedTable{Envelope: env, Table: e.raw})
	if err != nil {
		return nil, err
	}
	return append([]byte{core.ProtocolVersion}, body...), nil
}

// sameTable reports whether a and b are copies of one table value: same id
// and leader, and the same slices (tables are replaced, never changed in
// place).
func sameTable(a, b partitions.Table) bool {
	return a.ID == b.ID && a.Leader == b.Leader && sameSlice(a.Partitions, b.Partitions) &&
		sameSlice(a.Members, b.Members) && sameSlice(a.Voters, b.Voters) && sameSlice(a.PrevVoters, b.PrevVoters)
}

func sameSlice[T any](a, b []T) bool { return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) }

// decodeEnvelope checks and decodes a peer message. Anything malformed or
// hostile is an error, never a panic; the core checks the meaning.
func decodeEnvelope(b []byte) (core.Envelope, error) {
	var env core.Envelope
	switch {
	case len(b) < 2:
		return env, fmt.Errorf("message of %d bytes is too short", len(b))
	case len(b) > maxMessage:
		return env, fmt.Errorf("message of %d bytes is over the %d byte limit", len(b), maxMessage)
	case b[0] != core.ProtocolVersion:
		return env, fmt.Errorf("unsupported protocol version %d (this member speaks %d)", b[0], core.ProtocolVersion)
	}
	if err := json.Unmarshal(b[1:], &env); err != nil {
		return env, fmt.Errorf("malformed message: %v", err)
	}
	if env.From == "" || len(env.From) > maxNameLen || len(env.To) > maxNameLen {
		return env, fmt.Errorf("message with a missing or oversized sender name")
	}
	if t := env.Table; t != nil && (len(t.Partitions) > 65536 || len(t.Members) > 65536 || len(t.Voters) > 65536 || len(t.PrevVoters) > 65536) {
		return env, fmt.Errorf("table with %d partitions is out of range", len(t.Partitions))
	}
	if h := env.Holdings; h != nil && len(h.Items) > 65536 {
		return env, fmt.Errorf("holdings report with %d items is out of range", len(h.Items))
	}
	return env, nil
}

// MaxTerm is the largest term ringd accepts: fencing tokens (term*1000 + n)
// then stay below 2^53, exact in JavaScript and in float64 JSON decoders.
// Terms start near the wall-clock millisecond (about 1.8e12 in 2026), so
// MaxTerm leaves room for centuries of elections. A hostile or corrupt term
// near 2^64 would otherwise be adopted and leave no room for another election,
// or wrap fencing tokens. The bound is absolute, not relative to this
// member's clock: a term from a clock that was once ahead must stay
// acceptable after that clock is set right, or the cluster would refuse its
// own leader for ever.
const MaxTerm = 9_000_000_000_000

// checkTerms refuses messages whose terms are beyond MaxTerm.
func checkTerms(env core.Envelope) error {
	if m := env.Election; m != nil && (m.Term > MaxTerm || m.LastTable.Term > MaxTerm) {
		return fmt.Errorf("election message with term %d, beyond the largest term %d", max(m.Term, m.LastTable.Term), uint64(MaxTerm))
	}
	if t := env.Table; t != nil && t.ID.Term > MaxTerm {
		return fmt.Errorf("table of term %d, beyond the largest term %d", t.ID.Term, uint64(MaxTerm))
	}
	if env.TableID.Term > MaxTerm {
		return fmt.Errorf("table id of term %d, beyond the largest term %d", env.TableID.Term, uint64(MaxTerm))
	}
	return nil
}
