package partitions

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The compact binary form of a Table, for peer messages. A JSON table of
// 1024 partitions is about 80 KB (every entry spells out its owner, a
// 13-digit incarnation and a 16-digit token); the leader sends one to every
// member on every change, and every member decodes it. At a few hundred
// members that was most of the cluster's CPU (issue 11, figure e). Here an
// entry is an index into a dictionary of the table's (owner, incarnation)
// pairs, a state byte and its token as the difference from the previous
// entry's: 3 to 5 bytes.
//
// Layout (uvarint: unsigned LEB128; varint: zig-zag signed; string: uvarint
// length, then the bytes):
//
//	byte     format (tableFormat)
//	uvarint  ID.Term, ID.Version
//	string   Leader
//	3 lists  Members, Voters, PrevVoters: uvarint count, then strings
//	uvarint  holder count H, then H × (string owner, uvarint incarnation)
//	uvarint  partition count P, then P × entry:
//	         uvarint holder (0: no owner and incarnation 0, i: holder i-1)
//	         byte    state (0 unassigned, 1 owned, 2 releasing)
//	         varint  token - previous entry's token (the first: - 0)

// tableFormat is the first byte of the binary form.
const tableFormat = 1

// Bounds the decoder enforces, so that hostile input cannot make it
// allocate much: at most this many items in any list, and strings of at
// most this many bytes.
const (
	MaxBinaryItems  = 65536
	maxBinaryString = 1024
)

var stateCodes = map[State]byte{Unassigned: 0, Owned: 1, Releasing: 2}
var codeStates = [...]State{Unassigned, Owned, Releasing}

// ErrBadBinaryTable: the bytes are not a table in the binary form.
var ErrBadBinaryTable = errors.New("malformed binary table")

type holder struct {
	owner       string
	incarnation uint64
}

// AppendBinary appends the binary form of t to b (encoding.BinaryAppender).
// It fails only for a table the decoder would refuse: an unknown state, or
// more items or longer strings than it accepts.
func (t Table) AppendBinary(b []byte) ([]byte, error) {
	if len(t.Partitions) > MaxBinaryItems || len(t.Members) > MaxBinaryItems ||
		len(t.Voters) > MaxBinaryItems || len(t.PrevVoters) > MaxBinaryItems {
		return nil, fmt.Errorf("table too large for the binary form (%d partitions, %d members)", len(t.Partitions), len(t.Members))
	}
	b = append(b, tableFormat)
	b = binary.AppendUvarint(b, t.ID.Term)
	b = binary.AppendUvarint(b, t.ID.Version)
	var err error
	if b, err = appendString(b, t.Leader); err != nil {
		return nil, err
	}
	for _, list := range [][]string{t.Members, t.Voters, t.PrevVoters} {
		b = binary.AppendUvarint(b, uint64(len(list)))
		for _, s := range list {
			if b, err = appendString(b, s); err != nil {
				return nil, err
			}
		}
	}
	// Holders in order of first appearance; index 0 is the empty holder.
	index := map[holder]uint64{{}: 0}
	var holders []holder
	for _, e := range t.Partitions {
		h := holder{e.Owner, e.Incarnation}
		if _, ok := index[h]; !ok {
			holders = append(holders, h)
			index[h] = uint64(len(holders))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(holders)))
	for _, h := range holders {
		if b, err = appendString(b, h.owner); err != nil {
			return nil, err
		}
		b = binary.AppendUvarint(b, h.incarnation)
	}
	b = binary.AppendUvarint(b, uint64(len(t.Partitions)))
	var prev uint64
	for id, e := range t.Partitions {
		code, ok := stateCodes[e.State]
		if !ok {
			return nil, fmt.Errorf("partition %d has state %q, which the binary form cannot carry", id, e.State)
		}
		b = binary.AppendUvarint(b, index[holder{e.Owner, e.Incarnation}])
		b = append(b, code)
		// Two's complement difference: wraps for any pair of tokens, and
		// the decoder's addition wraps back.
		b = binary.AppendVarint(b, int64(e.Token-prev))
		prev = e.Token
	}
	return b, nil
}

func appendString(b []byte, s string) ([]byte, error) {
	if len(s) > maxBinaryString {
		return nil, fmt.Errorf("name of %d bytes is over the binary form's %d", len(s), maxBinaryString)
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...), nil
}

// UnmarshalBinary sets t from its binary form (AppendBinary). Malformed or
// hostile input is an error wrapping ErrBadBinaryTable, never a panic; what
// the table means is for its reader to check.
func (t *Table) UnmarshalBinary(data []byte) error {
	r := binaryReader{b: data}
	if f := r.byte(); r.err == nil && f != tableFormat {
		return fmt.Errorf("%w: format %d, this member reads %d", ErrBadBinaryTable, f, tableFormat)
	}
	var out Table
	out.ID.Term = r.uvarint()
	out.ID.Version = r.uvarint()
	out.Leader = r.string()
	out.Members = r.strings()
	out.Voters = r.strings()
	out.PrevVoters = r.strings()
	holders := make([]holder, r.count(2)+1) // every holder takes at least 2 bytes
	for i := 1; i < len(holders) && r.err == nil; i++ {
		holders[i] = holder{r.string(), r.uvarint()}
	}
	if n := r.count(3); n > 0 { // every entry takes at least 3 bytes
		out.Partitions = make([]Entry, n)
	}
	var token uint64
	for id := range out.Partitions {
		h := r.uvarint()
		code := r.byte()
		token += uint64(r.varint())
		if r.err != nil {
			break
		}
		if h >= uint64(len(holders)) || int(code) >= len(codeStates) {
			return fmt.Errorf("%w: partition %d refers to holder %d of %d or state %d", ErrBadBinaryTable, id, h, len(holders)-1, code)
		}
		out.Partitions[id] = Entry{Owner: holders[h].owner, Incarnation: holders[h].incarnation, Token: token, State: codeStates[code]}
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d bytes after the table", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrBadBinaryTable, r.err)
	}
	*t = out
	return nil
}

// binaryReader reads the binary form; the first error sticks and every
// later read returns a zero value.
type binaryReader struct {
	b   []byte
	err error
}

func (r *binaryReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated or malformed %s", what)
	}
}

func (r *binaryReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail("byte")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *binaryReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *binaryReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a list length, refusing one over MaxBinaryItems or longer
// than the rest of the input could hold at minBytes per item.
func (r *binaryReader) count(minBytes int) int {
	n := r.uvarint()
	if r.err == nil && (n > MaxBinaryItems || n > uint64(len(r.b)/minBytes)) {
		r.err = fmt.Errorf("list of %d items in %d bytes", n, len(r.b))
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

func (r *binaryReader) string() string {
	n := r.uvarint()
	if r.err == nil && (n > maxBinaryString || n > uint64(len(r.b))) {
		r.fail("name")
	}
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// strings reads a list of strings; an empty list is nil, as in JSON. The
// strings share one allocation: a table lists every member, and a string
// each made decoding a 500-member table mostly allocation.
func (r *binaryReader) strings() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	rest := r.b
	spans := make([][2]int, n)
	off := 0
	for i := range spans {
		l, used := binary.Uvarint(rest[off:])
		if used <= 0 || l > maxBinaryString || l > uint64(len(rest)-off-used) {
			r.fail("name")
			return nil
		}
		off += used
		spans[i] = [2]int{off, off + int(l)}
		off += int(l)
	}
	all := string(rest[:off])
	out := make([]string, n)
	for i, sp := range spans {
		out[i] = all[sp[0]:sp[1]]
	}
	r.b = rest[off:]
	return out
}
