package memnet

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipe is one direction of a stream connection. Its buffer is unbounded, so
// a write never waits for the reader.
type pipe struct {
	mu            sync.Mutex
	buf           []byte
	wake          chan struct{} // closed and replaced on every change a reader may wait for
	writeClosed   bool          // the writing end closed: the reader gets io.EOF once buf is drained
	readClosed    bool          // the reading end closed: writes fail
	reset         bool          // the network broke the connection: both ends fail
	frozen        bool          // an end is paused: nothing becomes readable
	readDeadline  time.Time
	writeDeadline time.Time
}

func newPipe() *pipe {
	return &pipe{wake: make(chan struct{})}
}

// signalLocked wakes every reader waiting on p. p.mu must be held.
func (p *pipe) signalLocked() {
	close(p.wake)
	p.wake = make(chan struct{})
}

func (p *pipe) update(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
	p.signalLocked()
}

func (p *pipe) read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		switch {
		case p.readClosed:
			p.mu.Unlock()
			return 0, net.ErrClosed
		case p.reset:
			p.mu.Unlock()
			return 0, ErrConnReset
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		case !p.frozen && len(p.buf) > 0:
			n := copy(b, p.buf)
			p.buf = p.buf[n:]
			if len(p.buf) == 0 {
				p.buf = nil
			}
			p.mu.Unlock()
			return n, nil
		case !p.frozen && p.writeClosed:
			p.mu.Unlock()
			return 0, io.EOF
		}
		deadline := p.readDeadline
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			p.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		wake := p.wake
		p.mu.Unlock()
		waitFor(wake, deadline)
	}
}

// waitFor returns when wake is closed or the deadline (if any) has passed.
func waitFor(wake <-chan struct{}, deadline time.Time) {
	if deadline.IsZero() {
		<-wake
		return
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-wake:
	case <-timer.C:
	}
}

func (p *pipe) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.writeClosed:
		return 0, net.ErrClosed
	case p.reset, p.readClosed:
		return 0, ErrConnReset
	case !p.writeDeadline.IsZero() && !time.Now().Before(p.writeDeadline):
		return 0, os.ErrDeadlineExceeded
	}
	p.buf = append(p.buf, b...)
	p.signalLocked()
	return len(b), nil
}

// conn is one end of an in-memory stream connection.
type conn struct {
	pair          *connPair
	local, remote *net.TCPAddr
	rd, wr        *pipe
	closeOnce     sync.Once
}

var _ net.Conn = (*conn)(nil)

func (c *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: err}
}

// Read reads what the other end wrote, waiting for data, the other end's
// Close (io.EOF), a reset, or the read deadline.
func (c *conn) Read(b []byte) (int, error) {
	n, err := c.rd.read(b)
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

// Write buffers b for the other end; it never waits for the reader.
func (c *conn) Write(b []byte) (int, error) {
	n, err := c.wr.write(b)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// Close ends this side: the other end reads what was already written and
// then io.EOF; its writes fail from now on.
func (c *conn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.rd.update(func() { c.rd.readClosed = true; c.rd.buf = nil })
		c.wr.update(func() { c.wr.writeClosed = true })
		c.pair.endClosed()
	})
	if !first {
		return c.opError("close", net.ErrClosed)
	}
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.rd.update(func() { c.rd.readDeadline = t })
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wr.update(func() { c.wr.writeDeadline = t })
	return nil
}

// connPair is a connection as the network sees it: the dialing and the
// accepting end, registered in Network.conns while it is open.
type connPair struct {
	net            *Network
	dialer, target *Transport
	up, down       *pipe // dialer->target and target->dialer
	dialerEnd      *conn
	targetEnd      *conn
	open           int // ends not yet closed; guarded by net.connsMu
}

func newConnPair(n *Network, dialer, target *Transport) *connPair {
	p := &connPair{net: n, dialer: dialer, target: target, up: newPipe(), down: newPipe(), open: 2}
	p.dialerEnd = &conn{pair: p, local: dialer.tcpAddr, remote: target.tcpAddr, rd: p.down, wr: p.up}
	p.targetEnd = &conn{pair: p, local: target.tcpAddr, remote: dialer.tcpAddr, rd: p.up, wr: p.down}
	return p
}

// involves reports whether addr is one of the two ends.
func (p *connPair) involves(addr string) bool {
	return p.dialer.addr == addr || p.target.addr == addr
}

// between reports whether the pair connects a and b, either way round.
func (p *connPair) between(a, b string) bool {
	return (p.dialer.addr == a && p.target.addr == b) || (p.dialer.addr == b && p.target.addr == a)
}

func (p *connPair) breakConn() {
	p.up.update(func() { p.up.reset = true })
	p.down.update(func() { p.down.reset = true })
}

func (p *connPair) setFrozen(frozen bool) {
	p.up.update(func() { p.up.frozen = frozen })
	p.down.update(func() { p.down.frozen = frozen })
}

// endClosed is called once per end on Close; the pair leaves the registry
// when both ends are closed.
func (p *connPair) endClosed() {
	n := p.net
	n.connsMu.Lock()
	defer n.connsMu.Unlock()
	p.open--
	if p.open <= 0 {
		delete(n.conns, p)
	}
}
