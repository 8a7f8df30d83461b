package memnet

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Transport is one node's attachment to a Network. It implements
// memberlist.NodeAwareTransport; create it with Network.NewTransport.
// Messages are routed by address only; the node name memberlist passes
// along is ignored, as a real network would.
type Transport struct {
	net     *Network
	addr    string // canonical IP:port
	ip      net.IP
	port    int
	udpAddr *net.UDPAddr // From of the packets it sends
	tcpAddr *net.TCPAddr

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{} // closed when the transport is shut down or crashed
	kick     chan struct{} // wakes the pump; capacity 1
	pumpDone chan struct{}

	mu      sync.Mutex // after net.mu and net.connsMu; guards what follows
	closed  bool
	crashed bool
	inbox   []queued
	delayed map[*delayedPacket]struct{}
}

// state reports whether t was shut down or crashed.
func (t *Transport) state() (closed, crashed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed, t.crashed
}

// enqueue buffers pkt for delivery, or drops it when t is closed or its
// buffer is full.
func (t *Transport) enqueue(pkt *memberlist.Packet, ls *linkState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.enqueueLocked(pkt, ls)
}

func (t *Transport) enqueueLocked(pkt *memberlist.Packet, ls *linkState) {
	if t.closed || len(t.inbox) >= inboxSize {
		ls.dropped.Add(1)
		return
	}
	t.inbox = append(t.inbox, queued{pkt: pkt, link: ls})
	t.wakePump()
}

// deliverLate buffers a delayed packet whose time has come.
func (t *Transport) deliverLate(dp *delayedPacket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.delayed[dp]; !ok {
		return // t was closed and already counted it as dropped
	}
	delete(t.delayed, dp)
	t.enqueueLocked(dp.pkt, dp.link)
}

type queued struct {
	pkt  *memberlist.Packet
	link *linkState
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// Addr returns the transport's address in canonical "IP:port" form.
func (t *Transport) Addr() string { return t.addr }

// FinalAdvertiseAddr returns the transport's own IP and port, whatever the
// configuration asks for: on this network the address is the identity.
func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.ip, t.port, nil
}

// WriteTo sends a packet to addr; see WriteToAddress.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends a copy of b as one packet to a.Addr. Like UDP it
// does not report loss. It fails only for a malformed address, a packet
// over 65507 bytes, or a transport that was shut down.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	if len(b) > maxPacketSize {
		return now, fmt.Errorf("%w: %d bytes", ErrMsgSize, len(b))
	}
	to, _, _, err := parseAddr(a.Addr)
	if err != nil {
		return now, err
	}
	return now, t.net.send(t, to, b)
}

// PacketCh delivers the packets sent to this transport.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout connects to addr; see DialAddressTimeout.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a stream connection to a.Addr whose other end
// arrives on the target's StreamCh. It returns within timeout.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	to, _, _, err := parseAddr(a.Addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Source: t.tcpAddr, Err: err}
	}
	return t.net.dial(t, to, timeout)
}

// StreamCh delivers the connections other transports dial to this one.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown takes the transport off the network, resets its connections and
// drops its pending packets. It is idempotent and waits for the transport's
// goroutine to end.
func (t *Transport) Shutdown() error {
	t.net.mu.Lock()
	t.net.closeLocked(t, false)
	t.net.notifyLocked()
	t.net.mu.Unlock()
	<-t.pumpDone
	return nil
}

func (t *Transport) wakePump() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// pump hands buffered packets to memberlist one at a time, holding them
// while the node is paused.
func (t *Transport) pump() {
	defer close(t.pumpDone)
	n := t.net
	for {
		var pkt *memberlist.Packet
		// mu (read) held while taking the packet: Pause, under mu
		// (write), then holds every packet not yet taken.
		n.mu.RLock()
		t.mu.Lock()
		if !t.closed && !n.paused[t.addr] && len(t.inbox) > 0 {
			q := t.inbox[0]
			t.inbox[0] = queued{}
			t.inbox = t.inbox[1:]
			q.link.delivered.Add(1)
			pkt = q.pkt
		}
		t.mu.Unlock()
		n.mu.RUnlock()
		if pkt == nil {
			select {
			case <-t.kick:
				continue
			case <-t.done:
				return
			}
		}
		pkt.Timestamp = time.Now()
		select {
		case t.packetCh <- pkt:
		case <-t.done:
			return
		}
	}
}
