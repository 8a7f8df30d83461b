package core

// tokenSpan separates terms in fencing tokens: token = term*tokenSpan + n,
// where n (1..999) counts the grants of one partition within the term. A new
// term always yields bigger tokens than any earlier term could. Terms are at
// least the wall-clock millisecond of their campaign, so tokens stay below
// 2^53 (JSON numbers stay exact in JavaScript) until the year 2255.
const tokenSpan = 1_000

// termOf is the term a fencing token was minted in.
func termOf(token uint64) uint64 { return token / tokenSpan }

// tokenMinter mints one leader term's fencing tokens, counting per
// partition (see tokenSpan).
type tokenMinter struct {
	term uint64
	// minted is, per partition, the tokens minted in this term.
	minted []uint64
	// ranOut: some partition has no tokens left in this term; only a new
	// term (a new leader, maybe this member again) can grant it.
	ranOut bool
}

func newTokenMinter(term uint64, partitions int) tokenMinter {
	return tokenMinter{term: term, minted: make([]uint64, partitions)}
}

// next mints partition p's next token, or reports false (and ranOut) when
// this term has none left for p.
func (m *tokenMinter) next(p int) (uint64, bool) {
	if m.minted[p]+1 >= tokenSpan {
		m.ranOut = true
		return 0, false
	}
	m.minted[p]++
	return m.term*tokenSpan + m.minted[p], true
}
