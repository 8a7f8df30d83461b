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
