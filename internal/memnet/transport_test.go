package memnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// newTransports attaches a transport at each address; they are shut down
// when the test ends.
func newTransports(t *testing.T, n *Network, addrs ...string) []*Transport {
	t.Helper()
	out := make([]*Transport, len(addrs))
	for i, a := range addrs {
		tr, err := n.NewTransport(a)
		if err != nil {
			t.Fatalf("NewTransport(%s): %v", a, err)
		}
		t.Cleanup(func() { _ = tr.Shutdown() })
		out[i] = tr
	}
	return out
}

// sink reads a transport's packets (as memberlist would) until the test
// ends.
type sink struct {
	mu   sync.Mutex
	pkts []*memberlist.Packet
}

func collect(t *testing.T, tr *Transport) *sink {
	s := &sink{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case p := <-tr.PacketCh():
				s.mu.Lock()
				s.pkts = append(s.pkts, p)
				s.mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return s
}

func (s *sink) payloads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.pkts))
	for i, p := range s.pkts {
		out[i] = string(p.Buf)
	}
	return out
}

func (s *sink) packet(i int) *memberlist.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pkts[i]
}

func (s *sink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pkts)
}

func send(t *testing.T, tr *Transport, to string, payload string) {
	t.Helper()
	if _, err := tr.WriteTo([]byte(payload), to); err != nil {
		t.Fatalf("WriteTo(%s): %v", to, err)
	}
}

// settled waits until every packet sent on the link is delivered or
// dropped, and returns the counters.
func settled(t *testing.T, n *Network, from, to string) LinkStats {
	t.Helper()
	var st LinkStats
	eventually(t, 2*time.Second, "all packets "+from+"->"+to+" accounted for", func() bool {
		st = n.Stats()[Link{From: from, To: to}]
		return st.Sent == st.Delivered+st.Dropped
	})
	return st
}

const (
	addrA = "127.0.0.1:7946"
	addrB = "127.0.0.2:7946"
	addrC = "127.0.0.3:7946"
	addrD = "127.0.0.4:7946"
)

func TestNewTransportAddresses(t *testing.T) {
	n := New(1)
	for _, bad := range []string{"", "foo", "localhost:7946", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x"} {
		if _, err := n.NewTransport(bad); !errors.Is(err, ErrBadAddr) {
			t.Errorf("NewTransport(%q) = %v, want ErrBadAddr", bad, err)
		}
	}
	a := newTransports(t, n, addrA)[0]
	if _, err := n.NewTransport("[::ffff:127.0.0.1]:7946"); !errors.Is(err, ErrAddrInUse) {
		t.Errorf("same address in IPv6 form: err = %v, want ErrAddrInUse", err)
	}
	ip, port, err := a.FinalAdvertiseAddr("10.1.2.3", 9999)
	if err != nil || !ip.Equal(net.ParseIP("127.0.0.1")) || len(ip) != net.IPv4len || port != 7946 {
		t.Errorf("FinalAdvertiseAddr = %v (len %d), %d, %v; want 127.0.0.1 (4 bytes), 7946", ip, len(ip), port, err)
	}

	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if _, err := a.WriteTo([]byte("x"), addrB); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteTo after Shutdown: %v, want ErrClosed", err)
	}
	if _, err := a.DialTimeout(addrB, time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("DialTimeout after Shutdown: %v, want ErrClosed", err)
	}
	// The address is free again.
	newTransports(t, n, addrA)
}

func TestPacketDelivery(t *testing.T) {
	n := New(1)
	tr := newTransports(t, n, addrA, addrB)
	a, b := tr[0], tr[1]
	got := collect(t, b)

	buf := []byte("hello")
	sent, err := a.WriteTo(buf, addrB)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX") // the network must have taken a copy
	eventually(t, time.Second, "packet arrives", func() bool { return got.len() == 1 })
	p := got.packet(0)
	if string(p.Buf) != "hello" {
		t.Errorf("payload %q, want hello", p.Buf)
	}
	if from, ok := p.From.(*net.UDPAddr); !ok || from.String() != addrA {
		t.Errorf("From = %#v, want *net.UDPAddr %s", p.From, addrA)
	}
	if p.Timestamp.Before(sent) {
		t.Errorf("Timestamp %v before send time %v", p.Timestamp, sent)
	}

	// Nobody at the address: the packet vanishes without an error.
	send(t, a, addrC, "lost")
	if st := n.Stats()[Link{addrA, addrC}]; st.Sent != 1 || st.Dropped != 1 {
		t.Errorf("stats to a missing address: %+v, want 1 sent, 1 dropped", st)
	}
	if _, err := a.WriteTo(make([]byte, maxPacketSize+1), addrB); !errors.Is(err, ErrMsgSize) {
		t.Errorf("oversized packet: %v, want ErrMsgSize", err)
	}
	if _, err := a.WriteTo([]byte("x"), "nonsense"); !errors.Is(err, ErrBadAddr) {
		t.Errorf("bad address: %v, want ErrBadAddr", err)
	}
}

// deliveredUnderDrop sends count numbered packets a->b with the given drop
// fraction and returns the numbers that arrived, in order.
func deliveredUnderDrop(t *testing.T, seed int64, fraction float64, count int) []string {
	n := New(seed)
	tr := newTransports(t, n, addrA, addrB)
	got := collect(t, tr[1])
	n.SetDrop(addrA, addrB, fraction)
	for i := range count {
		send(t, tr[0], addrB, strconv.Itoa(i))
	}
	st := settled(t, n, addrA, addrB)
	if st.Sent != uint64(count) {
		t.Fatalf("stats %+v, want %d sent", st, count)
	}
	eventually(t, time.Second, "delivered packets are read", func() bool { return uint64(got.len()) == st.Delivered })
	return got.payloads()
}

func TestDrop(t *testing.T) {
	const count = 1000
	if got := deliveredUnderDrop(t, 7, 1.0, count); len(got) != 0 {
		t.Errorf("drop 1.0: %d of %d packets arrived", len(got), count)
	}
	if got := deliveredUnderDrop(t, 7, 0, 10); len(got) != 10 {
		t.Errorf("drop 0: %d of 10 packets arrived", len(got))
	}

	half := deliveredUnderDrop(t, 7, 0.5, count)
	if len(half) < count*4/10 || len(half) > count*6/10 {
		t.Errorf("drop 0.5: %d of %d packets arrived, want 40%%-60%%", len(half), count)
	}
	again := deliveredUnderDrop(t, 7, 0.5, count)
	if !slices.Equal(half, again) {
		t.Errorf("drop 0.5 with the same seed delivered different packets (%d vs %d)", len(half), len(again))
	}
	other := deliveredUnderDrop(t, 8, 0.5, count)
	if slices.Equal(half, other) {
		t.Errorf("drop 0.5 with seeds 7 and 8 delivered the same packets")
	}
}

func TestDropDials(t *testing.T) {
	n := New(3)
	tr := newTransports(t, n, addrA, addrB)
	a := tr[0]
	go acceptAll(t, tr[1])

	n.SetDrop(addrA, addrB, 1)
	start := time.Now()
	_, err := a.DialTimeout(addrB, 30*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("dial over a link dropping everything: %v, want a timeout", err)
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Errorf("dial error %v is not a net.Error with Timeout()", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > time.Second {
		t.Errorf("lost dial failed after %v, want its 30ms timeout", d)
	}
	// The reverse direction is not affected by a drop fraction.
	c, err := tr[1].DialTimeout(addrA, time.Second)
	if err == nil {
		_ = c.Close()
	} else {
		t.Errorf("dial b->a with a->b dropping: %v", err)
	}

	n.SetDrop(addrA, addrB, 0.5)
	failed := 0
	const dials = 200
	for range dials {
		c, err := a.DialTimeout(addrB, time.Millisecond)
		if err != nil {
			failed++
			continue
		}
		_ = c.Close()
	}
	if failed < dials*3/10 || failed > dials*7/10 {
		t.Errorf("drop 0.5: %d of %d dials failed, want 30%%-70%%", failed, dials)
	}
}

// acceptAll closes every connection that arrives on tr until it shuts down.
func acceptAll(t *testing.T, tr *Transport) {
	for {
		select {
		case c := <-tr.StreamCh():
			_ = c.Close()
		case <-tr.done:
			return
		}
	}
}

func TestDelayReorders(t *testing.T) {
	n := New(5)
	tr := newTransports(t, n, addrA, addrB, addrC)
	got := collect(t, tr[1])
	n.SetDelay(addrA, addrB, 0, 20*time.Millisecond)
	const count = 200
	for i := range count {
		send(t, tr[0], addrB, strconv.Itoa(i))
	}
	st := settled(t, n, addrA, addrB)
	if st.Delivered != count || st.Dropped != 0 {
		t.Fatalf("stats %+v, want all %d delivered", st, count)
	}
	eventually(t, time.Second, "all packets read", func() bool { return got.len() == count })
	inversions := 0
	p := got.payloads()
	for i := 1; i < len(p); i++ {
		x, _ := strconv.Atoi(p[i-1])
		y, _ := strconv.Atoi(p[i])
		if x > y {
			inversions++
		}
	}
	if inversions == 0 {
		t.Errorf("random delays in [0,20ms] did not reorder %d packets", count)
	}

	// A fixed delay: every packet arrives no sooner.
	gotC := collect(t, tr[2])
	n.SetDelay(addrA, addrC, 15*time.Millisecond, 15*time.Millisecond)
	start := time.Now()
	send(t, tr[0], addrC, "late")
	eventually(t, time.Second, "delayed packet arrives", func() bool { return gotC.len() == 1 })
	if d := gotC.packet(0).Timestamp.Sub(start); d < 15*time.Millisecond {
		t.Errorf("packet with a 15ms delay arrived after %v", d)
	}

	// Heal removes the delay; a pending delayed packet is dropped when its
	// receiver shuts down.
	n.SetDelay(addrA, addrC, time.Hour, time.Hour)
	send(t, tr[0], addrC, "never")
	if err := tr[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	if st := n.Stats()[Link{addrA, addrC}]; st.Sent != 2 || st.Delivered != 1 || st.Dropped != 1 {
		t.Errorf("stats after shutting down a receiver with a packet in flight: %+v", st)
	}
}

func TestCutIsOneWayForPacketsAndBothWaysForStreams(t *testing.T) {
	n := New(1)
	tr := newTransports(t, n, addrA, addrB)
	a, b := tr[0], tr[1]
	gotA := collect(t, a)

	// An established connection between the two is reset by the cut.
	c, err := a.DialTimeout(addrB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := <-b.StreamCh()
	defer srv.Close()

	n.Cut(addrA, addrB)
	if _, err := srv.Read(make([]byte, 1)); !errors.Is(err, ErrConnReset) {
		t.Errorf("read on a conn across a cut: %v, want ErrConnReset", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, ErrConnReset) {
		t.Errorf("write on a conn across a cut: %v, want ErrConnReset", err)
	}

	send(t, a, addrB, "a->b")
	send(t, b, addrA, "b->a")
	if st := settled(t, n, addrA, addrB); st.Dropped != 1 || st.Delivered != 0 {
		t.Errorf("a->b across the cut: %+v, want dropped", st)
	}
	eventually(t, time.Second, "b->a still arrives", func() bool { return gotA.len() == 1 })

	for _, d := range []struct {
		from *Transport
		to   string
	}{{a, addrB}, {b, addrA}} {
		start := time.Now()
		_, err := d.from.DialTimeout(d.to, 40*time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("dial %s->%s across a one-way cut: %v, want timeout", d.from.Addr(), d.to, err)
		}
		if el := time.Since(start); el < 40*time.Millisecond || el > time.Second {
			t.Errorf("dial across a cut returned after %v, want its 40ms timeout", el)
		}
	}

	// A dial that is waiting goes through once the cut heals.
	time.AfterFunc(20*time.Millisecond, n.Heal)
	c2, err := a.DialTimeout(addrB, 5*time.Second)
	if err != nil {
		t.Fatalf("dial waiting for Heal: %v", err)
	}
	_ = c2.Close()
	send(t, a, addrB, "healed")
	if st := settled(t, n, addrA, addrB); st.Delivered != 1 {
		t.Errorf("after Heal: %+v, want 1 delivered", st)
	}
}

func TestPartition(t *testing.T) {
	n := New(1)
	tr := newTransports(t, n, addrA, addrB, addrC, addrD)
	for _, x := range tr {
		collect(t, x)
	}
	n.Partition([]string{addrA, addrB}, []string{addrC})
	all := []string{addrA, addrB, addrC, addrD}
	for _, from := range tr {
		for _, to := range all {
			send(t, from, to, "p")
		}
	}
	open := map[Link]bool{
		{addrA, addrA}: true, {addrA, addrB}: true, {addrB, addrA}: true, {addrB, addrB}: true,
		{addrC, addrC}: true,
	}
	for _, from := range all {
		for _, to := range all {
			l := Link{from, to}
			st := settled(t, n, from, to)
			if open[l] && st.Delivered != 1 || !open[l] && st.Dropped != 1 {
				t.Errorf("%s->%s: %+v, open=%v", from, to, st, open[l])
			}
		}
	}
	if _, err := tr[0].DialTimeout(addrC, 10*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("dial across the partition: %v, want timeout", err)
	}
	n.Heal()
	send(t, tr[3], addrA, "q")
	if st := settled(t, n, addrD, addrA); st.Delivered != 1 {
		t.Errorf("after Heal d->a: %+v, want one delivered", st)
	}
}

func TestPauseHoldsPacketsAndFreezesStreams(t *testing.T) {
	n := New(1)
	tr := newTransports(t, n, addrA, addrB)
	a, b := tr[0], tr[1]
	gotA := collect(t, a)

	// A connection established before the pause.
	c, err := a.DialTimeout(addrB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := <-b.StreamCh()
	defer srv.Close()

	n.Pause(addrB)
	const count = inboxSize + 76
	for i := range count {
		send(t, a, addrB, strconv.Itoa(i))
	}
	send(t, b, addrA, "from the paused node")
	if st := n.Stats()[Link{addrA, addrB}]; st.Delivered != 0 || st.Dropped != count-inboxSize {
		t.Errorf("while paused: %+v, want 0 delivered, %d dropped (buffer full)", st, count-inboxSize)
	}
	if st := settled(t, n, addrB, addrA); st.Dropped != 1 {
		t.Errorf("packet from the paused node: %+v, want dropped", st)
	}
	select {
	case p := <-b.PacketCh():
		t.Fatalf("paused node got packet %q", p.Buf)
	default:
	}

	// The connection is frozen both ways: writes are accepted, nothing can
	// be read until Resume; the read deadline still fires.
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("write to a paused peer: %v", err)
	}
	_ = srv.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := srv.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read on a paused node's conn: %v, want deadline exceeded", err)
	}
	_ = srv.SetReadDeadline(time.Time{})

	// Dials to the paused node wait: until the timeout...
	start := time.Now()
	if _, err := a.DialTimeout(addrB, 30*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("dial to a paused node: %v, want timeout", err)
	} else if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("dial to a paused node failed after %v, before its timeout", d)
	}
	// ... or until Resume.
	time.AfterFunc(30*time.Millisecond, func() { n.Resume(addrB) })
	c2, err := a.DialTimeout(addrB, 5*time.Second)
	if err != nil {
		t.Fatalf("dial across Resume: %v", err)
	}
	_ = c2.Close()

	// Held packets arrive in order, the frozen stream moves on.
	var held []string
	for len(held) < inboxSize {
		select {
		case p := <-b.PacketCh():
			held = append(held, string(p.Buf))
		case <-time.After(2 * time.Second):
			t.Fatalf("only %d held packets delivered after Resume", len(held))
		}
	}
	for i, p := range held {
		if p != strconv.Itoa(i) {
			t.Fatalf("held packet %d is %q", i, p)
		}
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(srv, buf); err != nil || string(buf) != "ping" {
		t.Errorf("read after Resume: %q, %v", buf, err)
	}
	send(t, b, addrA, "resumed")
	eventually(t, time.Second, "resumed node sends again", func() bool { return gotA.len() == 1 })
}

func TestCrashAndRestart(t *testing.T) {
	n := New(1)
	tr := newTransports(t, n, addrA, addrB)
	a, b := tr[0], tr[1]
	gotA := collect(t, a)

	c, err := a.DialTimeout(addrB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	n.Pause(addrB)
	send(t, a, addrB, "held, then lost")
	n.Crash(addrB)
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrConnReset) {
		t.Errorf("read on a crashed peer's conn: %v, want ErrConnReset", err)
	}
	if st := n.Stats()[Link{addrA, addrB}]; st.Dropped != 1 {
		t.Errorf("packet held for the crashed node: %+v, want dropped", st)
	}
	start := time.Now()
	if _, err := a.DialTimeout(addrB, 5*time.Second); !errors.Is(err, ErrConnRefused) {
		t.Errorf("dial to a crashed node: %v, want ErrConnRefused", err)
	} else if d := time.Since(start); d > time.Second {
		t.Errorf("dial to a crashed node took %v, want an immediate refusal", d)
	}
	// The crashed node's memberlist keeps running but reaches nobody.
	if _, err := b.WriteTo([]byte("ghost"), addrA); err != nil {
		t.Errorf("WriteTo on a crashed transport: %v, want silent loss", err)
	}
	if _, err := b.DialTimeout(addrA, time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("dial from a crashed transport: %v, want ErrClosed", err)
	}

	// Restart on the same address; it is not paused any more.
	b2 := newTransports(t, n, addrB)[0]
	gotB := collect(t, b2)
	send(t, a, addrB, "hello again")
	eventually(t, time.Second, "restarted node receives", func() bool { return gotB.len() == 1 })
	send(t, b2, addrA, "back")
	eventually(t, time.Second, "restarted node sends", func() bool { return gotA.len() == 1 })
	if p := gotA.payloads(); p[0] != "back" {
		t.Errorf("a received %q, want only the restarted node's packet", p)
	}
}

func TestStreamConn(t *testing.T) {
	n := New(1)
	tr := newTransports(t, n, addrA, addrB)
	a, b := tr[0], tr[1]

	c, err := a.DialTimeout(addrB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	srv := <-b.StreamCh()
	if c.RemoteAddr().String() != addrB || srv.RemoteAddr().String() != addrA || c.LocalAddr().String() != addrA {
		t.Errorf("addresses: dialer %v->%v, accepted from %v", c.LocalAddr(), c.RemoteAddr(), srv.RemoteAddr())
	}

	// Both ends write a lot before either reads: socket-like buffering, no
	// deadlock (net.Pipe would block here).
	big := bytes.Repeat([]byte("0123456789"), 100_000)
	for _, end := range []net.Conn{c, srv} {
		_ = end.SetWriteDeadline(time.Now().Add(time.Second))
		if n, err := end.Write(big); err != nil || n != len(big) {
			t.Fatalf("write %d bytes: %d, %v", len(big), n, err)
		}
	}
	for _, end := range []net.Conn{c, srv} {
		got := make([]byte, len(big))
		if _, err := io.ReadFull(end, got); err != nil || !bytes.Equal(got, big) {
			t.Fatalf("read back: %v, equal=%v", err, bytes.Equal(got, big))
		}
	}

	// A read waits for its deadline; moving the deadline wakes it.
	_ = c.SetReadDeadline(time.Now().Add(time.Hour))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	_ = c.SetReadDeadline(time.Now())
	select {
	case err := <-errc:
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Errorf("read past its deadline: %v, want a timeout net.Error", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("moving the read deadline did not wake the reader")
	}
	_ = c.SetDeadline(time.Time{})
	_ = c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write past its deadline: %v", err)
	}
	_ = c.SetWriteDeadline(time.Time{})

	// Close: the other end reads what was written, then EOF; its writes fail.
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v, want net.ErrClosed", err)
	}
	rest, err := io.ReadAll(srv)
	if err != nil || string(rest) != "bye" {
		t.Errorf("after peer Close: read %q, %v; want bye, EOF", rest, err)
	}
	if _, err := srv.Write([]byte("x")); !errors.Is(err, ErrConnReset) {
		t.Errorf("write to a closed peer: %v, want ErrConnReset", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after own Close: %v, want net.ErrClosed", err)
	}
	_ = srv.Close()
	n.mu.Lock()
	open := len(n.conns)
	n.mu.Unlock()
	if open != 0 {
		t.Errorf("%d connections still registered after both ends closed", open)
	}

	// Shutting a transport down resets its connections.
	c3, err := a.DialTimeout(addrB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := c3.Read(make([]byte, 1)); !errors.Is(err, ErrConnReset) {
		t.Errorf("read after the peer shut down: %v, want ErrConnReset", err)
	}
}

func TestDialNowhereFailsFast(t *testing.T) {
	n := New(1)
	a := newTransports(t, n, addrA)[0]
	start := time.Now()
	if _, err := a.DialTimeout(addrB, 10*time.Second); !errors.Is(err, ErrConnRefused) {
		t.Errorf("dial to an address without a transport: %v, want ErrConnRefused", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refused dial took %v", d)
	}
	if _, err := a.DialTimeout("not an address", time.Second); !errors.Is(err, ErrBadAddr) {
		t.Errorf("dial to a malformed address: %v, want ErrBadAddr", err)
	}
}
