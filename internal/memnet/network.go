package memnet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Errors returned by transports and their connections. Dial and connection
// errors come wrapped in a *net.OpError; use errors.Is. Timeouts are
// os.ErrDeadlineExceeded, as on real sockets.
var (
	// ErrClosed: the transport was shut down or crashed.
	ErrClosed = errors.New("memnet: transport closed")
	// ErrAddrInUse: NewTransport on an address that already has a transport.
	ErrAddrInUse = errors.New("memnet: address already in use")
	// ErrBadAddr: the address is not an IP:port.
	ErrBadAddr = errors.New("memnet: bad address")
	// ErrConnRefused: a dial to an address with no transport.
	ErrConnRefused = errors.New("memnet: connection refused")
	// ErrConnReset: the connection was broken by a fault (cut, partition,
	// crash, shutdown), or the other end closed it before this write.
	ErrConnReset = errors.New("memnet: connection reset")
	// ErrMsgSize: a packet larger than a UDP datagram can be.
	ErrMsgSize = errors.New("memnet: message too long")
)

const (
	// inboxSize is how many packets a transport buffers before dropping
	// (a socket receive buffer).
	inboxSize = 1024
	// backlog is how many accepted connections may wait for memberlist to
	// take them from StreamCh (a listen backlog).
	backlog = 64
	// maxPacketSize is the largest UDP payload over IPv4.
	maxPacketSize = 65507
)

// Link is a directed link between two transport addresses.
type Link struct {
	From, To string
}

// LinkStats counts the packets on one link. Sent = Delivered + Dropped +
// packets still in flight (delayed, or held for a paused receiver).
type LinkStats struct {
	Sent      uint64 // written by the sender (not counted: sends of a crashed or shut-down transport)
	Delivered uint64 // handed to the receiving memberlist
	Dropped   uint64 // lost: drop fraction, cut, partition, paused sender, no receiver, full buffer, crash
}

// linkState is one directed link. Its faults are set under Network.mu
// (write) and read under it (read); its random source has its own lock and
// its counters are atomic, so that packets on different links, and on one
// link from several goroutines, do not wait for each other.
type linkState struct {
	cut      bool
	drop     float64
	delayMin time.Duration
	delayMax time.Duration

	rngMu sync.Mutex
	rng   *rand.Rand

	sent, delivered, dropped atomic.Uint64
}

// lost rolls the dice for one packet or dial. Network.mu must be held
// (read is enough).
func (ls *linkState) lost() bool {
	switch {
	case ls.drop <= 0:
		return false
	case ls.drop >= 1:
		return true
	default:
		ls.rngMu.Lock()
		defer ls.rngMu.Unlock()
		return ls.rng.Float64() < ls.drop
	}
}

// delay draws one packet's delay. Network.mu must be held (read is enough).
func (ls *linkState) delay() time.Duration {
	if ls.delayMax <= 0 {
		return 0
	}
	if ls.delayMax == ls.delayMin {
		return ls.delayMin
	}
	ls.rngMu.Lock()
	defer ls.rngMu.Unlock()
	return ls.delayMin + time.Duration(ls.rng.Int64N(int64(ls.delayMax-ls.delayMin)+1))
}

func (ls *linkState) stats() LinkStats {
	return LinkStats{Sent: ls.sent.Load(), Delivered: ls.delivered.Load(), Dropped: ls.dropped.Load()}
}

// Network is a simulated network of Transports with injectable faults. It
// is safe for concurrent use. The zero value is not usable; call New.
//
// Locks, always taken in this order: mu (the faults and the transports:
// written by fault changes and by transports coming and going, read by every
// packet and dial), connsMu (the open connections), then a transport's own
// lock (its inbox). A single lock for everything made hundreds of members
// queue behind it (issue 11, figure e: 500 in-process members never elected
// a leader, most goroutines waiting for it).
type Network struct {
	seed int64

	// links maps a Link to its *linkState. It has its own synchronisation
	// and never shrinks, so a *linkState stays valid: hundreds of members
	// open tens of thousands of links while they meet each other, and
	// creating each under mu stalled every packet.
	links sync.Map

	mu         sync.RWMutex
	transports map[string]*Transport // live transports by canonical address
	partition  map[string]int        // address -> group; nil when there is no partition
	paused     map[string]bool
	changed    chan struct{} // closed and replaced when a fault changes or a node appears

	connsMu sync.Mutex
	conns   map[*connPair]struct{}
}

// New returns an empty network whose random drops and delays derive from
// seed.
func New(seed int64) *Network {
	return &Network{
		seed:       seed,
		transports: make(map[string]*Transport),
		paused:     make(map[string]bool),
		conns:      make(map[*connPair]struct{}),
		changed:    make(chan struct{}),
	}
}

// parseAddr checks that addr is IP:port and returns its canonical form
// (the form memberlist builds from an advertised IP and port).
func parseAddr(addr string) (canonical string, ip net.IP, port int, err error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, 0, fmt.Errorf("%w %q: %v", ErrBadAddr, addr, err)
	}
	ip = net.ParseIP(host)
	if ip == nil {
		return "", nil, 0, fmt.Errorf("%w %q: host is not an IP address", ErrBadAddr, addr)
	}
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	p, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || p == 0 {
		return "", nil, 0, fmt.Errorf("%w %q: port must be 1-65535", ErrBadAddr, addr)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(p))), ip, int(p), nil
}

// canon returns the canonical form of addr, or addr itself if it does not
// parse (a fault on such an address simply never matches a transport).
func canon(addr string) string {
	c, _, _, err := parseAddr(addr)
	if err != nil {
		return addr
	}
	return c
}

// NewTransport attaches a transport at addr, an "IP:port" that no live
// transport uses. The address of a crashed or shut-down transport can be
// used again (a restart).
func (n *Network) NewTransport(addr string) (*Transport, error) {
	c, ip, port, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.transports[c] != nil {
		return nil, fmt.Errorf("%w: %s", ErrAddrInUse, c)
	}
	t := &Transport{
		net:      n,
		addr:     c,
		ip:       ip,
		port:     port,
		udpAddr:  &net.UDPAddr{IP: ip, Port: port},
		tcpAddr:  &net.TCPAddr{IP: ip, Port: port},
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn, backlog),
		done:     make(chan struct{}),
		kick:     make(chan struct{}, 1),
		pumpDone: make(chan struct{}),
		delayed:  make(map[*delayedPacket]struct{}),
	}
	n.transports[c] = t
	n.notifyLocked()
	go t.pump()
	return t, nil
}

// SetDrop makes the link from->to lose the given fraction of its packets
// (clamped to [0, 1]; 0 removes the fault). A dial from->to is lost with the
// same probability and then fails at its timeout.
func (n *Network) SetDrop(from, to string, fraction float64) {
	if math.IsNaN(fraction) || fraction < 0 {
		fraction = 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.link(canon(from), canon(to)).drop = min(fraction, 1)
	n.notifyLocked()
}

// SetDelay delays each packet on the link from->to by a random duration in
// [lo, hi], so packets get reordered. Zero for both removes the delay.
// Streams are not delayed.
func (n *Network) SetDelay(from, to string, lo, hi time.Duration) {
	lo, hi = max(lo, 0), max(hi, 0)
	if lo > hi {
		lo, hi = hi, lo
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	ls := n.link(canon(from), canon(to))
	ls.delayMin, ls.delayMax = lo, hi
}

// Cut makes packets from->to vanish (a one-way cut). Streams need both
// directions, so connections between the two nodes are reset and dials
// between them, either way, wait until Heal or their timeout.
func (n *Network) Cut(from, to string) {
	from, to = canon(from), canon(to)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.link(from, to).cut = true
	n.breakConns(func(p *connPair) bool { return p.between(from, to) })
	n.notifyLocked()
}

// Partition cuts every link between different groups, both ways. An
// address that is in no group (also one that gets a transport later) is cut
// off from every other address. It replaces an earlier partition; Cut faults
// stay. An address listed in two groups panics.
func (n *Network) Partition(groups ...[]string) {
	part := make(map[string]int)
	for i, g := range groups {
		for _, a := range g {
			a = canon(a)
			if j, dup := part[a]; dup && j != i {
				panic(fmt.Sprintf("memnet: Partition: %s is in groups %d and %d", a, j, i))
			}
			part[a] = i
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.partition = part
	n.breakConns(func(p *connPair) bool {
		return n.blockedLocked(p.dialer.addr, p.target.addr) || n.blockedLocked(p.target.addr, p.dialer.addr)
	})
	n.notifyLocked()
}

// Heal removes every drop, delay, cut and the partition. Paused nodes stay
// paused.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links.Range(func(_, v any) bool {
		ls := v.(*linkState)
		ls.cut, ls.drop, ls.delayMin, ls.delayMax = false, 0, 0, 0
		return true
	})
	n.partition = nil
	n.notifyLocked()
}

// Pause stops the node at addr (as SIGSTOP would): see the package
// documentation. Pausing an address that has no transport yet pauses the
// transport created there later.
func (n *Network) Pause(addr string) {
	addr = canon(addr)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.paused[addr] {
		return
	}
	n.paused[addr] = true
	n.connsMu.Lock()
	for p := range n.conns {
		if p.involves(addr) {
			p.setFrozen(true)
		}
	}
	n.connsMu.Unlock()
	n.notifyLocked()
}

// Resume lets a paused node run again: held packets are delivered, frozen
// connections and waiting dials move on.
func (n *Network) Resume(addr string) {
	addr = canon(addr)
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.paused[addr] {
		return
	}
	delete(n.paused, addr)
	n.connsMu.Lock()
	for p := range n.conns {
		if p.involves(addr) {
			p.setFrozen(n.paused[p.dialer.addr] || n.paused[p.target.addr])
		}
	}
	n.connsMu.Unlock()
	if t := n.transports[addr]; t != nil {
		t.wakePump()
	}
	n.notifyLocked()
}

// Crash makes the node at addr vanish: see the package documentation.
// Crashing an address without a transport only ends a Pause of it.
func (n *Network) Crash(addr string) {
	addr = canon(addr)
	n.mu.Lock()
	delete(n.paused, addr)
	t := n.transports[addr]
	if t != nil {
		n.closeLocked(t, true)
	}
	n.notifyLocked()
	n.mu.Unlock()
	if t != nil {
		<-t.pumpDone
	}
}

// Stats returns a copy of the packet counters of every link that carried
// or was configured for traffic.
func (n *Network) Stats() map[Link]LinkStats {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make(map[Link]LinkStats)
	n.links.Range(func(l, ls any) bool {
		out[l.(Link)] = ls.(*linkState).stats()
		return true
	})
	return out
}

// link returns the state of the link from->to, creating it with its own
// random source. Its faults may be changed only with mu held for writing.
func (n *Network) link(from, to string) *linkState {
	l := Link{From: from, To: to}
	if ls, ok := n.links.Load(l); ok {
		return ls.(*linkState)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(from))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(to))
	ls, _ := n.links.LoadOrStore(l, &linkState{rng: rand.New(rand.NewPCG(uint64(n.seed), h.Sum64()))})
	return ls.(*linkState)
}

// blockedLocked reports whether a cut or the partition stops traffic
// from->to. mu must be held (read is enough).
func (n *Network) blockedLocked(from, to string) bool {
	if ls, ok := n.links.Load(Link{From: from, To: to}); ok && ls.(*linkState).cut {
		return true
	}
	if n.partition == nil {
		return false
	}
	gf, okf := n.partition[from]
	gt, okt := n.partition[to]
	return !okf || !okt || gf != gt
}

// notifyLocked wakes dials waiting for a fault to change. mu must be held
// for writing.
func (n *Network) notifyLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// breakConns resets the open connections that match.
func (n *Network) breakConns(match func(*connPair) bool) {
	n.connsMu.Lock()
	defer n.connsMu.Unlock()
	for p := range n.conns {
		if match(p) {
			delete(n.conns, p)
			p.breakConn()
		}
	}
}

// breakConn resets one connection.
func (n *Network) breakConn(p *connPair) {
	n.connsMu.Lock()
	delete(n.conns, p)
	n.connsMu.Unlock()
	p.breakConn()
}

// closeLocked takes t off the network (crashed: as a dead process, whose
// sends vanish without an error): everything held or in flight for it is
// dropped and its connections are reset. mu must be held for writing.
func (n *Network) closeLocked(t *Transport, crashed bool) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed, t.crashed = true, crashed
	close(t.done)
	for _, q := range t.inbox {
		q.link.dropped.Add(1)
	}
	t.inbox = nil
	for dp := range t.delayed {
		dp.timer.Stop()
		dp.link.dropped.Add(1)
	}
	clear(t.delayed)
	t.mu.Unlock()
	if n.transports[t.addr] == t {
		delete(n.transports, t.addr)
	}
	n.breakConns(func(p *connPair) bool { return p.dialer == t || p.target == t })
}

// send puts one packet on the link from t to the address to.
func (n *Network) send(t *Transport, to string, b []byte) error {
	ls := n.link(t.addr, to)
	// Under mu (read): a transport closes only under mu (write), so a
	// crash that returned has stopped every later send.
	n.mu.RLock()
	if closed, crashed := t.state(); closed {
		n.mu.RUnlock()
		if crashed {
			return nil // a dead process sends nothing; nobody sees an error
		}
		return ErrClosed
	}
	ls.sent.Add(1)
	dst := n.transports[to]
	if dst == nil || n.paused[t.addr] || n.blockedLocked(t.addr, to) || ls.lost() {
		n.mu.RUnlock()
		ls.dropped.Add(1)
		return nil
	}
	d := ls.delay()
	n.mu.RUnlock()
	pkt := &memberlist.Packet{Buf: append([]byte(nil), b...), From: t.udpAddr}
	if d > 0 {
		dp := &delayedPacket{pkt: pkt, link: ls}
		dst.mu.Lock()
		defer dst.mu.Unlock()
		if dst.closed {
			ls.dropped.Add(1)
			return nil
		}
		dst.delayed[dp] = struct{}{}
		// The callback takes dst.mu, so it cannot run before dp.timer is set.
		dp.timer = time.AfterFunc(d, func() { dst.deliverLate(dp) })
		return nil
	}
	dst.enqueue(pkt, ls)
	return nil
}

type delayedPacket struct {
	pkt   *memberlist.Packet
	link  *linkState
	timer *time.Timer
}

// dial connects t to the transport at to; see the package documentation
// for when it waits and how it fails.
func (n *Network) dial(t *Transport, to string, timeout time.Duration) (net.Conn, error) {
	dialErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Source: t.tcpAddr, Addr: tcpAddrOf(to), Err: err}
	}
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	ls := n.link(t.addr, to)
	rolled, lost := false, false
	for {
		n.mu.RLock()
		if closed, _ := t.state(); closed {
			n.mu.RUnlock()
			return nil, dialErr(ErrClosed)
		}
		dst := n.transports[to]
		if dst == nil {
			n.mu.RUnlock()
			return nil, dialErr(ErrConnRefused)
		}
		wait := n.paused[t.addr] || n.paused[to] ||
			n.blockedLocked(t.addr, to) || n.blockedLocked(to, t.addr)
		if !wait && !rolled {
			rolled = true
			lost = ls.lost()
		}
		if !wait && !lost {
			// Registered while mu is held, so that a fault or a crash
			// that comes after this check finds the connection to reset.
			p := newConnPair(n, t, dst)
			n.connsMu.Lock()
			n.conns[p] = struct{}{}
			n.connsMu.Unlock()
			n.mu.RUnlock()
			return n.handOver(t, dst, p, expired, dialErr)
		}
		changed := n.changed
		if lost {
			changed = nil // the dial is lost; only its timeout ends it
		}
		n.mu.RUnlock()
		if expired == nil {
			return nil, dialErr(os.ErrDeadlineExceeded)
		}
		select {
		case <-changed:
		case <-expired:
			return nil, dialErr(os.ErrDeadlineExceeded)
		case <-t.done:
			return nil, dialErr(ErrClosed)
		}
	}
}

// handOver puts the accepting end of p on dst's StreamCh.
func (n *Network) handOver(t, dst *Transport, p *connPair, expired <-chan time.Time, dialErr func(error) error) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) {
		n.breakConn(p)
		return nil, dialErr(err)
	}
	select {
	case dst.streamCh <- p.targetEnd:
		return p.dialerEnd, nil
	default:
	}
	if expired == nil {
		return fail(os.ErrDeadlineExceeded)
	}
	select {
	case dst.streamCh <- p.targetEnd:
		return p.dialerEnd, nil
	case <-dst.done:
		return fail(ErrConnRefused)
	case <-t.done:
		return fail(ErrClosed)
	case <-expired:
		return fail(os.ErrDeadlineExceeded)
	}
}

func tcpAddrOf(addr string) net.Addr {
	if _, ip, port, err := parseAddr(addr); err == nil {
		return &net.TCPAddr{IP: ip, Port: port}
	}
	return nil
}
