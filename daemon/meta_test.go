package daemon

import "testing"

// TestSameShape: members of this version may differ in their lease
// settings and load (a rolling change of them) but not in partition count or
// label; a member of the version before, which counts every lease with its
// own settings, must have exactly ours.
func TestSameShape(t *testing.T) {
	cfg := validConfig()
	d := &Daemon{cfg: cfg, shape: cfg.ShapeFingerprint(), fingerprint: cfg.Fingerprint()}
	other := cfg
	other.Lease, other.LeaderLease, other.Load = 3*cfg.Lease, 2*cfg.LeaderLease, 1.5
	otherLabel := cfg
	otherLabel.ClusterLabel = "other"
	for _, tc := range []struct {
		name string
		meta nodeMeta
		ok   bool
	}{
		{"same settings", nodeMeta{Partitions: cfg.Partitions, Shape: cfg.ShapeFingerprint(), Fingerprint: cfg.Fingerprint()}, true},
		{"other leases and load", nodeMeta{Partitions: cfg.Partitions, Shape: other.ShapeFingerprint(), Fingerprint: other.Fingerprint()}, true},
		{"other partition count", nodeMeta{Partitions: cfg.Partitions + 1, Shape: cfg.ShapeFingerprint(), Fingerprint: cfg.Fingerprint()}, false},
		{"other label", nodeMeta{Partitions: cfg.Partitions, Shape: otherLabel.ShapeFingerprint(), Fingerprint: otherLabel.Fingerprint()}, false},
		{"older ringd, same settings", nodeMeta{Partitions: cfg.Partitions, Fingerprint: cfg.Fingerprint()}, true},
		{"older ringd, other leases", nodeMeta{Partitions: cfg.Partitions, Fingerprint: other.Fingerprint()}, false},
	} {
		if err := d.sameShape(&tc.meta); (err == nil) != tc.ok {
			t.Errorf("%s: sameShape = %v, want ok %t", tc.name, err, tc.ok)
		}
	}
}

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
		{Version: 3, Partitions: 271, Fingerprint: "0123456789abcdef", Shape: "fedcba9876543210", LeaseMs: 10000, LeaderLeaseMs: 2000, Load: 1.25},
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
