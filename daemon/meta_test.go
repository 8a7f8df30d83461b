package daemon

import "testing"

func TestGossipNameCarriesIncarnation(t *testing.T) {
	a, b := gossipName("web-0", 1796095941552107386), gossipName("web-0", 1796095941552107387)
	if a == b {
		t.Fatalf("two incarnations share the gossip name %q", a)
	}
	for _, g := range []string{a, b, "web-0"} {
		if got := memberName(g); got != "web-0" {
			t.Errorf("memberName(%q) = %q, want web-0", g, got)
		}
	}
}

// FuzzDecodeMeta: gossip metadata comes from any host that can reach the
// gossip port. No input makes the decoder panic, and what it accepts
// encodes again to metadata that decodes the same (or is refused for its
// size, as the sender's own encode would).
func FuzzDecodeMeta(f *testing.F) {
	for _, m := range []nodeMeta{
		{Version: 3, Incarnation: 1796098851699123456, Identity: 42, Priority: 2, HTTPAddr: "10.0.0.3:7070", Partitions: 271, Fingerprint: "0123456789abcdef"},
		{Version: 2, Draining: true, Leaving: true, HasTable: true, Partitions: 1},
	} {
		b, err := m.encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":3,"n":-1,"i":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		again, err := m.encode()
		if err != nil {
			return // longer once re-encoded (escapes): refused like an own one
		}
		back, err := decodeMeta(again)
		if err != nil || back != m {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, m)
		}
	})
}
