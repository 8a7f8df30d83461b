package core

import "testing"

func TestTokenMinterCountsPerPartition(t *testing.T) {
	m := newTokenMinter(7, 2)
	for _, want := range []struct {
		p     int
		token uint64
	}{{0, 7001}, {0, 7002}, {1, 7001}, {0, 7003}} {
		got, ok := m.next(want.p)
		if !ok || got != want.token {
			t.Fatalf("next(%d) = %d, %v; want %d, true", want.p, got, ok, want.token)
		}
		if termOf(got) != 7 {
			t.Fatalf("termOf(%d) = %d, want 7", got, termOf(got))
		}
	}
	if m.ranOut {
		t.Fatal("ranOut after four tokens")
	}
}

func TestTokenMinterRunsOutWithinTerm(t *testing.T) {
	m := newTokenMinter(3, 2)
	var last uint64
	for i := 1; i < tokenSpan; i++ {
		tok, ok := m.next(0)
		if !ok {
			t.Fatalf("token %d of the term refused", i)
		}
		if tok <= last {
			t.Fatalf("token %d not above %d", tok, last)
		}
		last = tok
	}
	if last != 3*tokenSpan+tokenSpan-1 {
		t.Fatalf("last token %d, want %d", last, 3*tokenSpan+tokenSpan-1)
	}
	if tok, ok := m.next(0); ok {
		t.Fatalf("token %d minted past the term's span", tok)
	}
	if !m.ranOut {
		t.Fatal("ranOut not set once a partition ran out")
	}
	// Other partitions keep their own count; ranOut still asks for a new
	// term.
	if tok, ok := m.next(1); !ok || tok != 3001 {
		t.Fatalf("next(1) = %d, %v; want 3001, true", tok, ok)
	}
	if !m.ranOut {
		t.Fatal("ranOut cleared")
	}
}

func TestTokensGrowAcrossTerms(t *testing.T) {
	old := newTokenMinter(41, 1)
	var last uint64
	for {
		tok, ok := old.next(0)
		if !ok {
			break
		}
		last = tok
	}
	next := newTokenMinter(42, 1)
	first, ok := next.next(0)
	if !ok || first <= last {
		t.Fatalf("first token of term 42 (%d) not above the last of term 41 (%d)", first, last)
	}
}

func TestTokensStayExactInJSON(t *testing.T) {
	// daemon.MaxTerm, the largest term any member accepts (the daemon
	// imports this package, so the value is repeated here).
	const maxTerm = 9_000_000_000_000
	m := newTokenMinter(maxTerm, 1)
	m.minted[0] = tokenSpan - 2
	tok, ok := m.next(0)
	if !ok {
		t.Fatal("last token of the largest term refused")
	}
	if tok >= 1<<53 {
		t.Fatalf("token %d is not exact in a float64 (2^53 = %d)", tok, uint64(1)<<53)
	}
}
