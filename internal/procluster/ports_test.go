package procluster

import (
	"net"
	"strconv"
	"testing"
)

func TestPickPortsDistinctAndFree(t *testing.T) {
	const n = 5
	gossip, httpPorts, err := pickPorts("127.0.0.1", n)
	if err != nil {
		t.Fatal(err)
	}
	if len(gossip) != n || len(httpPorts) != n {
		t.Fatalf("got %d gossip and %d http ports, want %d each", len(gossip), len(httpPorts), n)
	}
	seen := map[int]bool{}
	for _, p := range append(append([]int(nil), gossip...), httpPorts...) {
		if p <= 0 || p > 65535 || seen[p] {
			t.Fatalf("port %d invalid or repeated in %v %v", p, gossip, httpPorts)
		}
		seen[p] = true
	}
	// Once pickPorts returns, every port is free again: gossip ones for TCP
	// and UDP (memberlist binds both), HTTP ones for TCP.
	for _, p := range gossip {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("gossip port %d not free for TCP: %v", p, err)
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Errorf("gossip port %d not free for UDP: %v", p, err)
		} else {
			pc.Close()
		}
		ln.Close()
	}
	for _, p := range httpPorts {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("http port %d not free: %v", p, err)
			continue
		}
		ln.Close()
	}
}

// busyForUDP returns a TCP listener on a port that is taken for UDP, and
// closes the UDP socket at the end of the test.
func busyForUDP(t *testing.T) net.Listener {
	t.Helper()
	for try := 0; try < 100; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err != nil {
			ln.Close() // UDP side taken by someone else: try another port
			continue
		}
		t.Cleanup(func() { pc.Close() })
		return ln
	}
	t.Fatal("no port to hold for both TCP and UDP")
	return nil
}

func TestPickGossipPortSkipsPortsTakenForUDP(t *testing.T) {
	// The first candidate is free for TCP but taken for UDP: it must be
	// skipped and the next candidate taken.
	busy := busyForUDP(t)
	busyPort := busy.Addr().(*net.TCPAddr).Port
	calls := 0
	listen := func(host string) (net.Listener, error) {
		calls++
		if calls == 1 {
			return busy, nil
		}
		return anyTCPPort(host)
	}
	port, closers, err := pickGossipPort("127.0.0.1", 10, listen)
	if err != nil {
		t.Fatalf("pickGossipPort: %v", err)
	}
	for _, c := range closers {
		c.Close()
	}
	if port == busyPort || calls != 2 {
		t.Errorf("picked %d after %d candidates; want to skip %d, taken for UDP", port, calls, busyPort)
	}
	if _, err := busy.Accept(); err == nil {
		t.Error("the skipped candidate's TCP listener was left open")
	}

	// With every candidate taken for UDP it gives up with an error.
	var candidates []net.Listener
	for i := 0; i < 3; i++ {
		candidates = append(candidates, busyForUDP(t))
	}
	next := func(string) (net.Listener, error) {
		ln := candidates[0]
		candidates = candidates[1:]
		return ln, nil
	}
	if _, _, err := pickGossipPort("127.0.0.1", 3, next); err == nil {
		t.Error("no error when no candidate is free for UDP")
	}
	if len(candidates) != 0 {
		t.Errorf("%d candidates left untried", len(candidates))
	}
}
