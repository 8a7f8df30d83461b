package daemon

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	sockaddr "github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"
)

// netTransport is memberlist's transport on real sockets: one TCP listener
// for streams (push/pull, reliable peer messages) and one UDP socket for
// packets (probes, gossip, heartbeats), on the same address and port.
//
// memberlist's own NetTransport reads every UDP packet into a fresh 64 KiB
// buffer and hands that buffer on. An idle leader takes ~40 packets a
// second, so that was ~2.5 MB of garbage a second for packets of a few
// hundred bytes, and garbage collection a fifth of the leader's idle CPU
// (figure g of docs/benchmarks.md). This one reads into one buffer and
// hands on a copy of the packet's size. It behaves as NetTransport
// otherwise: port 0 picks a free port for both, and a wildcard bind
// advertises the host's private IP.
type netTransport struct {
	log     hclog.Logger
	bindIP  net.IP
	tcp     *net.TCPListener
	udp     *net.UDPConn
	packets chan *memberlist.Packet
	streams chan net.Conn
	// done is closed by Shutdown: a reader blocked handing something to
	// memberlist gives up.
	done     chan struct{}
	doneOnce sync.Once
	closed   atomic.Bool
	wg       sync.WaitGroup
}

var _ memberlist.NodeAwareTransport = (*netTransport)(nil)

// Socket sizes, as memberlist's NetTransport has them: the largest UDP
// packet, and the receive buffer asked for so that a burst of gossip is not
// dropped (halved until the kernel accepts it).
const (
	maxPacketSize = 65536
	udpRecvBuffer = 2 << 20
)

// bindAttempts is how often a transport on port 0 tries to find a port free
// for both TCP and UDP: the kernel picks the TCP port, and UDP may have it
// taken already.
const bindAttempts = 10

// newNetTransport binds host:port (port 0: a free port) for TCP and UDP and
// starts reading both.
func newNetTransport(host string, port int, log hclog.Logger) (*netTransport, error) {
	ip, err := bindIP(host)
	if err != nil {
		return nil, err
	}
	attempts := 1
	if port == 0 {
		attempts = bindAttempts
	}
	for range attempts {
		var t *netTransport
		if t, err = bindNetTransport(ip, port, log); err == nil {
			t.wg.Add(2)
			go t.acceptStreams()
			go t.readPackets()
			return t, nil
		}
	}
	return nil, err
}

// bindIP is the IP to bind for host: none (every address) for an empty
// host, the IP itself, or a host name's first address (IPv4 first).
func bindIP(host string) (net.IP, error) {
	if host == "" {
		return nil, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return nil, fmt.Errorf("resolving %q to bind: %w", host, err)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip, nil
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%q resolves to no address", host)
	}
	return ips[0], nil
}

// bindNetTransport opens the two sockets.
func bindNetTransport(ip net.IP, port int, log hclog.Logger) (*netTransport, error) {
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
	if err != nil {
		return nil, err
	}
	port = tcp.Addr().(*net.TCPAddr).Port
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		_ = tcp.Close()
		return nil, err
	}
	for size := udpRecvBuffer; size > 0; size /= 2 {
		if err = udp.SetReadBuffer(size); err == nil {
			break
		}
	}
	if err != nil {
		_ = tcp.Close()
		_ = udp.Close()
		return nil, fmt.Errorf("setting the UDP receive buffer: %w", err)
	}
	return &netTransport{
		log: log, bindIP: ip, tcp: tcp, udp: udp,
		packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn),
		done:    make(chan struct{}),
	}, nil
}

// Port is the port both sockets are bound to.
func (t *netTransport) Port() int { return t.tcp.Addr().(*net.TCPAddr).Port }

// FinalAdvertiseAddr is the address other members reach this one at: the
// configured one, or else the bound IP (for a wildcard bind, the host's
// private IP) and port.
func (t *netTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		addr := net.ParseIP(ip)
		if addr == nil {
			return nil, 0, fmt.Errorf("advertise address %q is not an IP address", ip)
		}
		if v4 := addr.To4(); v4 != nil {
			addr = v4
		}
		if port == 0 {
			// No port to advertise: the one bound (port 0 picked it).
			port = t.Port()
		}
		return addr, port, nil
	}
	addr := t.bindIP
	if addr == nil || addr.IsUnspecified() {
		private, err := sockaddr.GetPrivateIP()
		if err != nil {
			return nil, 0, fmt.Errorf("finding a private IP to advertise: %w", err)
		}
		if private == "" {
			return nil, 0, errors.New("no private IP address found to advertise; set the advertise address")
		}
		if addr = net.ParseIP(private); addr == nil {
			return nil, 0, fmt.Errorf("the private IP found, %q, does not parse; set the advertise address", private)
		}
	}
	if v4 := addr.To4(); v4 != nil {
		addr = v4
	}
	return addr, t.Port(), nil
}

// WriteTo sends one packet to addr (host:port).
func (t *netTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, to)
	return time.Now(), err
}

// WriteToAddress sends one packet to a.Addr.
func (t *netTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

// PacketCh delivers the packets received.
func (t *netTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

// DialTimeout opens a stream to addr.
func (t *netTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", addr)
}

// DialAddressTimeout opens a stream to a.Addr.
func (t *netTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

// StreamCh delivers the streams accepted.
func (t *netTransport) StreamCh() <-chan net.Conn { return t.streams }

// Shutdown closes both sockets and waits for the readers to end.
func (t *netTransport) Shutdown() error {
	t.closed.Store(true)
	t.doneOnce.Do(func() { close(t.done) })
	_ = t.tcp.Close()
	_ = t.udp.Close()
	t.wg.Wait()
	return nil
}

// acceptStreams hands accepted connections to memberlist, backing off on
// errors (out of file descriptors) as net/http does.
func (t *netTransport) acceptStreams() {
	defer t.wg.Done()
	const maxBackoff = time.Second
	backoff := time.Duration(0)
	for {
		conn, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.closed.Load() {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), maxBackoff)
			t.log.Error("accepting a gossip stream", "error", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-t.done:
				return
			}
			continue
		}
		backoff = 0
		select {
		case t.streams <- conn:
		case <-t.done:
			_ = conn.Close()
			return
		}
	}
}

// readPackets hands received packets to memberlist, each in a buffer of
// its own size.
func (t *netTransport) readPackets() {
	defer t.wg.Done()
	buf := make([]byte, maxPacketSize)
	for {
		n, from, err := t.udp.ReadFrom(buf)
		at := time.Now()
		if err != nil {
			if t.closed.Load() {
				return
			}
			t.log.Error("reading a gossip packet", "error", err)
			continue
		}
		if n == 0 {
			// memberlist needs at least the message type.
			continue
		}
		packet := make([]byte, n)
		copy(packet, buf)
		select {
		case t.packets <- &memberlist.Packet{Buf: packet, From: from, Timestamp: at}:
		case <-t.done:
			return
		}
	}
}
