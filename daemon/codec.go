package daemon

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/partitions"
	"github.com/ringd/ringd/rebalance"
)

// maxMessage bounds a peer message: a table of 65536 partitions fits well.
const maxMessage = 8 << 20

// maxNameLen bounds member names in messages, as Config.Resolve does for --name.
const maxNameLen = 128

// Peer messages are framed by protocol version (core.ProtocolVersion):
//
//   - version 2: the version byte, then the envelope as JSON, tables too;
//   - version 3: the version byte, the length of the envelope's JSON as a
//     uvarint, that JSON without the table, then the table in the binary
//     form of partitions.Table.AppendBinary when the envelope carries one.
//     A JSON table of 1024 partitions is about 80 KB and takes milliseconds
//     to decode; the binary one is a fifteenth of that, and every member
//     decodes every table (issue 11, figure e).
//
// A member reads both and writes to each peer the newest version that peer
// gossips it reads (nodeMeta.Version), so members of the previous version
// keep working with it during a rolling upgrade.

// peerVersion is the version to write to a peer that gossips it reads up
// to version (0: unknown, an older ringd or no metadata yet).
func peerVersion(version int) byte {
	if version >= int(core.ProtocolVersion) {
		return core.ProtocolVersion
	}
	return core.MinProtocolVersion
}

// encodeEnvelope frames a peer message in the given version.
func encodeEnvelope(env core.Envelope, version byte) ([]byte, error) {
	var enc tableEncoder
	return enc.encode(env, version)
}

// tableEncoder encodes envelopes like encodeEnvelope, encoding a table that
// several envelopes share only once per version: the leader sends each new
// table to every member, and encoding it again for each of hundreds of
// members held its loop up for longer than the table took to reach them
// (issue 11, figure e). The zero value is ready; use one per batch of
// messages.
type tableEncoder struct {
	of     partitions.Table // the table last encoded
	json   json.RawMessage  // of, as JSON (version 2), when encoded
	binary []byte           // of, in binary form (version 3), when encoded
	// standbys are of's standbys as member indexes (version 3), when made.
	standbys [][]int
}

// withEncodedTable is an Envelope whose table is already JSON: its Table
// field, shallower than the embedded one under the same key, replaces it.
type withEncodedTable struct {
	core.Envelope
	Table json.RawMessage `json:"tbl"`
}

func (e *tableEncoder) encode(env core.Envelope, version byte) ([]byte, error) {
	if env.Table != nil && !sameTable(*env.Table, e.of) {
		*e = tableEncoder{of: *env.Table}
	}
	switch version {
	case core.MinProtocolVersion:
		return e.encodeJSON(env)
	case core.ProtocolVersion:
		return e.encodeFramed(env)
	}
	return nil, fmt.Errorf("cannot write protocol version %d", version)
}

// encodeJSON writes version 2.
func (e *tableEncoder) encodeJSON(env core.Envelope) ([]byte, error) {
	head := []byte{core.MinProtocolVersion}
	if env.Table == nil {
		body, err := json.Marshal(env)
		return append(head, body...), err
	}
	if e.json == nil {
		raw, err := json.Marshal(env.Table)
		if err != nil {
			return nil, err
		}
		e.json = raw
	}
	env.Table = nil
	body, err := json.Marshal(withEncodedTable{Envelope: env, Table: e.json})
	return append(head, body...), err
}

// encodeFramed writes version 3.
func (e *tableEncoder) encodeFramed(env core.Envelope) ([]byte, error) {
	table := env.Table
	env.Table = nil
	if table != nil { // not in the binary form
		env.TableFrozen, env.TablePins, env.TableExcluded = table.Frozen, table.Pins, table.Excluded
		env.TableReserved, env.TableRestarting = table.Reserved, table.Restarting
		if e.standbys == nil && table.Standbys != nil {
			e.standbys = standbyIndexes(*table)
		}
		env.TableStandbys = e.standbys
	}
	body, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	if table != nil && e.binary == nil {
		if e.binary, err = table.AppendBinary(nil); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(body)+len(e.binary))
	out = append(out, core.ProtocolVersion)
	out = binary.AppendUvarint(out, uint64(len(body)))
	out = append(out, body...)
	if table != nil {
		out = append(out, e.binary...)
	}
	return out, nil
}

// sameTable reports whether a and b are copies of one table value: same id
// and leader, and the same slices (tables are replaced, never changed in
// place).
func sameTable(a, b partitions.Table) bool {
	return a.ID == b.ID && a.Leader == b.Leader && sameSlice(a.Partitions, b.Partitions) &&
		sameSlice(a.Members, b.Members) && sameSlice(a.Voters, b.Voters) && sameSlice(a.PrevVoters, b.PrevVoters)
}

func sameSlice[T any](a, b []T) bool { return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) }

// decodeEnvelope checks and decodes a peer message of either version.
// Anything malformed or hostile is an error, never a panic; the core checks
// the meaning.
func decodeEnvelope(b []byte) (core.Envelope, error) {
	var env core.Envelope
	switch {
	case len(b) < 2:
		return env, fmt.Errorf("message of %d bytes is too short", len(b))
	case len(b) > maxMessage:
		return env, fmt.Errorf("message of %d bytes is over the %d byte limit", len(b), maxMessage)
	}
	switch b[0] {
	case core.MinProtocolVersion:
		if err := json.Unmarshal(b[1:], &env); err != nil {
			return env, fmt.Errorf("malformed message: %v", err)
		}
	case core.ProtocolVersion:
		n, used := binary.Uvarint(b[1:])
		if used <= 0 || n > uint64(len(b)-1-used) {
			return env, fmt.Errorf("malformed message: bad envelope length")
		}
		body, rest := b[1+used:1+used+int(n)], b[1+used+int(n):]
		if err := json.Unmarshal(body, &env); err != nil {
			return env, fmt.Errorf("malformed message: %v", err)
		}
		if env.Table != nil {
			return env, fmt.Errorf("malformed message: a JSON table in a version %d message", b[0])
		}
		if len(rest) > 0 {
			env.Table = new(partitions.Table)
			if err := env.Table.UnmarshalBinary(rest); err != nil {
				return env, err
			}
			t := env.Table
			t.Frozen, t.Pins, t.Excluded = env.TableFrozen, env.TablePins, env.TableExcluded
			t.Reserved, t.Restarting = env.TableReserved, env.TableRestarting
			var err error
			if t.Standbys, err = standbyNames(env.TableStandbys, *t); err != nil {
				return env, err
			}
		}
		env.TableFrozen, env.TablePins, env.TableExcluded = false, nil, nil
		env.TableStandbys, env.TableReserved, env.TableRestarting = nil, nil, nil
	default:
		return env, fmt.Errorf("unsupported protocol version %d (this member speaks %d to %d)", b[0], core.MinProtocolVersion, core.ProtocolVersion)
	}
	if env.From == "" || len(env.From) > maxNameLen || len(env.To) > maxNameLen {
		return env, fmt.Errorf("message with a missing or oversized sender name")
	}
	if t := env.Table; t != nil && (len(t.Partitions) > 65536 || len(t.Members) > 65536 || len(t.Voters) > 65536 || len(t.PrevVoters) > 65536) {
		return env, fmt.Errorf("table with %d partitions is out of range", len(t.Partitions))
	}
	if t := env.Table; t != nil {
		if err := checkPlacement(*t); err != nil {
			return env, err
		}
		// Empty is absent, as the encoders write it (omitempty).
		if len(t.Pins) == 0 {
			t.Pins = nil
		}
		if len(t.Reserved) == 0 {
			t.Reserved = nil
		}
		if len(t.Restarting) == 0 {
			t.Restarting = nil
		}
		if len(t.Excluded) == 0 {
			t.Excluded = nil
		}
		if len(t.Standbys) == 0 {
			t.Standbys = nil
		}
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

// standbyIndexes is t.Standbys as indexes into t.Members, for the envelope:
// a few bytes a partition where the names would be a dozen or more. A
// standby that is not a member (never so in a leader's table) is left out.
func standbyIndexes(t partitions.Table) [][]int {
	index := make(map[string]int, len(t.Members))
	for i, m := range t.Members {
		index[m] = i
	}
	out := make([][]int, len(t.Standbys))
	for p, list := range t.Standbys {
		out[p] = make([]int, 0, len(list))
		for _, m := range list {
			if i, ok := index[m]; ok {
				out[p] = append(out[p], i)
			}
		}
	}
	return out
}

// standbyNames turns the envelope's standby indexes back into names of
// t.Members, refusing lists that do not fit the table.
func standbyNames(idx [][]int, t partitions.Table) ([][]string, error) {
	if idx == nil {
		return nil, nil
	}
	if len(idx) != len(t.Partitions) {
		return nil, fmt.Errorf("malformed message: %d standby lists for %d partitions", len(idx), len(t.Partitions))
	}
	out := make([][]string, len(idx))
	for p, list := range idx {
		if len(list) > rebalance.MaxStandbys {
			return nil, fmt.Errorf("malformed message: %d standbys for partition %d", len(list), p)
		}
		out[p] = make([]string, len(list))
		for k, i := range list {
			if i < 0 || i >= len(t.Members) {
				return nil, fmt.Errorf("malformed message: standby %d of partition %d is not a member", i, p)
			}
			out[p][k] = t.Members[i]
		}
	}
	return out, nil
}

// checkPlacement refuses a table whose placement fields do not fit it: a
// pin or reservation of a partition out of range or for no one, a restart
// entry without a name, standby lists that are not one per partition, too
// long, or naming a non-member. Taken as they come, such fields would make
// every later plan fail (nothing granted) or keep a partition unowned for
// good.
func checkPlacement(t partitions.Table) error {
	P := len(t.Partitions)
	for _, m := range []map[int]string{t.Pins, t.Reserved} {
		for p, name := range m {
			if p < 0 || p >= P || name == "" || len(name) > maxNameLen {
				return fmt.Errorf("malformed message: a pin or reservation of partition %d for %q in a table of %d partitions", p, name, P)
			}
		}
	}
	for name := range t.Restarting {
		if name == "" || len(name) > maxNameLen {
			return fmt.Errorf("malformed message: a restart entry without a proper name")
		}
	}
	if t.Standbys == nil {
		return nil
	}
	if len(t.Standbys) != P {
		return fmt.Errorf("malformed message: %d standby lists for %d partitions", len(t.Standbys), P)
	}
	members := make(map[string]bool, len(t.Members))
	for _, m := range t.Members {
		members[m] = true
	}
	for p, list := range t.Standbys {
		if len(list) > rebalance.MaxStandbys {
			return fmt.Errorf("malformed message: %d standbys for partition %d", len(list), p)
		}
		for _, m := range list {
			if !members[m] {
				return fmt.Errorf("malformed message: standby %q of partition %d is not a member", m, p)
			}
		}
	}
	return nil
}
