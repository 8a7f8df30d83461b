package daemon

import (
	"bytes"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
)

// newLoopbackTransport is a netTransport on 127.0.0.1 with a port the
// kernel picks, shut down when the test ends.
func newLoopbackTransport(t *testing.T) *netTransport {
	t.Helper()
	nt, err := newNetTransport("127.0.0.1", 0, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nt.Shutdown() })
	return nt
}

func (t *netTransport) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(t.Port()))
}

// TestNetTransportPacketsAndStreams sends packets and a stream between two
// transports on loopback: each packet arrives whole, from the sender's
// address, in a buffer of its own size (not the 64 KiB read buffer, which
// would be garbage for every packet), and a later packet does not change an
// earlier one.
func TestNetTransportPacketsAndStreams(t *testing.T) {
	a, b := newLoopbackTransport(t), newLoopbackTransport(t)
	if b.udp.LocalAddr().(*net.UDPAddr).Port != b.Port() {
		t.Fatalf("UDP on port %d, TCP on %d: want one port", b.udp.LocalAddr().(*net.UDPAddr).Port, b.Port())
	}
	var got []*memberlist.Packet
	for i, size := range []int{1, 300, 1400, 9000} {
		msg := bytes.Repeat([]byte{byte('a' + i)}, size)
		if _, err := a.WriteToAddress(msg, memberlist.Address{Addr: b.addr()}); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-b.PacketCh():
			if !bytes.Equal(p.Buf, msg) {
				t.Fatalf("packet %d: got %d bytes, want %d bytes of %c", i, len(p.Buf), size, rune('a'+i))
			}
			if cap(p.Buf) != len(p.Buf) {
				t.Fatalf("packet %d of %d bytes came in a buffer of %d", i, len(p.Buf), cap(p.Buf))
			}
			if from := p.From.(*net.UDPAddr); from.Port != a.Port() || p.Timestamp.IsZero() {
				t.Fatalf("packet %d from %v at %v, want from port %d", i, p.From, p.Timestamp, a.Port())
			}
			got = append(got, p)
		case <-time.After(10 * time.Second):
			t.Fatalf("packet %d did not arrive", i)
		}
	}
	if !bytes.Equal(got[1].Buf, bytes.Repeat([]byte{'b'}, 300)) {
		t.Fatal("a later packet overwrote an earlier one")
	}

	conn, err := a.DialAddressTimeout(memberlist.Address{Addr: b.addr()}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("push")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-b.StreamCh():
		defer s.Close()
		buf := make([]byte, 4)
		_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := s.Read(buf); err != nil || string(buf) != "push" {
			t.Fatalf("stream read %q, %v", buf, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream was not accepted")
	}
}

// TestNetTransportAdvertises: the bound IP and port by default, the
// configured address when there is one, and a clear error for one that is
// no IP.
func TestNetTransportAdvertises(t *testing.T) {
	nt := newLoopbackTransport(t)
	ip, port, err := nt.FinalAdvertiseAddr("", 0)
	if err != nil || !ip.Equal(net.IPv4(127, 0, 0, 1)) || port != nt.Port() {
		t.Fatalf("default: %v:%d, %v; want 127.0.0.1:%d", ip, port, err, nt.Port())
	}
	ip, port, err = nt.FinalAdvertiseAddr("10.1.2.3", 7946)
	if err != nil || ip.String() != "10.1.2.3" || port != 7946 || len(ip) != net.IPv4len {
		t.Fatalf("configured: %v:%d, %v", ip, port, err)
	}
	if _, _, err := nt.FinalAdvertiseAddr("pod-7", 7946); err == nil {
		t.Fatal("an advertise address that is no IP was taken")
	}
	if ip, port, err := nt.FinalAdvertiseAddr("10.1.2.3", 0); err != nil || ip.String() != "10.1.2.3" || port != nt.Port() {
		t.Fatalf("configured without a port: %v:%d, %v; want the bound port %d", ip, port, err, nt.Port())
	}
	// A host name binds its address (from /etc/hosts, no DNS), as
	// memberlist never did (it bound every address and advertised "::").
	byName, err := newNetTransport("localhost", 0, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Shutdown()
	if ip, _, err := byName.FinalAdvertiseAddr("", 0); err != nil || !ip.IsLoopback() {
		t.Fatalf("bound to localhost, advertises %v, %v", ip, err)
	}
	// The port is taken now: a second transport on it fails, as memberlist's
	// does, with the kernel's reason.
	if _, err := newNetTransport("127.0.0.1", nt.Port(), hclog.NewNullLogger()); err == nil {
		t.Fatal("bound a port that is in use")
	}
}

// TestNetTransportShutdownWithNobodyReading: packets and streams that
// memberlist no longer takes do not hold Shutdown.
func TestNetTransportShutdownWithNobodyReading(t *testing.T) {
	a := newLoopbackTransport(t)
	b, err := newNetTransport("127.0.0.1", 0, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteTo([]byte("x"), b.addr()); err != nil {
		t.Fatal(err)
	}
	conn, err := a.DialTimeout(b.addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		_ = b.Shutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown hangs while a packet and a stream wait for memberlist")
	}
}

// TestSeedUnseen: a seed counts as unseen unless gossip shows its address
// (a seed without a port is on the gossip port) or it is this member.
func TestSeedUnseen(t *testing.T) {
	seen := []string{"10.0.0.1:7946", "10.0.0.2:7946", "[fd00::3]:7946"}
	for _, tc := range []struct {
		seeds []string
		want  bool
	}{
		{[]string{"10.0.0.1:7946", "10.0.0.2"}, false},
		{[]string{"10.0.0.9:7946"}, true},
		{[]string{"10.0.0.1:7947"}, true},
		{[]string{"10.0.0.5:7946", "10.0.0.1:7946"}, false}, // self and a seen one
		{[]string{"fd00::3"}, false},
		{[]string{"[fd00::3]"}, false},
		{[]string{"ringd-0.ringd"}, true},
		{nil, false},
	} {
		if got := seedUnseen(tc.seeds, seen, "10.0.0.5:7946", 7946); got != tc.want {
			t.Errorf("seeds %v: unseen %v, want %v", tc.seeds, got, tc.want)
		}
	}
}
