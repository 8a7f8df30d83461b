//go:build linux

package restapi

import (
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// epollDepartures watches the sockets of parked polls with an epoll set of
// its own (the Go runtime's netpoller has its own set; a socket may be in
// both) for the peer's close (EPOLLRDHUP, and the HUP and ERR that epoll
// always reports) and, on idle connections, for the next request
// (EPOLLIN), in one goroutine blocked in epoll_wait. An event
// carries the poll's registration number, not its file descriptor, so a
// late event for a descriptor that was closed and reused since finds no
// poll.
type epollDepartures struct {
	epfd    int
	wake    int // eventfd that ends the loop
	onEvent func(poll *parkedPoll, readable bool)
	done    chan struct{}

	mu    sync.Mutex
	next  uint32
	polls map[uint32]*parkedPoll
}

// wakeID is the registration of the eventfd; polls start at 1.
const wakeID = 0

// startDepartures returns the Linux watcher, or one that watches nothing
// when the kernel refuses an epoll set or an eventfd (then clients that
// leave are noticed at their answer).
func startDepartures(onEvent func(poll *parkedPoll, readable bool)) departures {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return noDepartures{}
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return noDepartures{}
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeID}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(wake)
		_ = unix.Close(epfd)
		return noDepartures{}
	}
	d := &epollDepartures{epfd: epfd, wake: wake, onEvent: onEvent, done: make(chan struct{}), polls: map[uint32]*parkedPoll{}}
	go d.loop()
	return d
}

// rawConn returns the socket under c (a TLS connection's too).
func rawConn(c net.Conn) (syscall.RawConn, bool) {
	if t, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = t.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	return rc, err == nil
}

func (d *epollDepartures) watch(poll *parkedPoll) uint32 {
	rc, ok := rawConn(poll.conn)
	if !ok {
		return 0
	}
	op := unix.EPOLL_CTL_ADD
	if poll.registered {
		// Answered and resting: the socket is still in the set (forget
		// left it there), so re-arm it, one system call fewer per answer.
		op = unix.EPOLL_CTL_MOD
	}
	d.mu.Lock()
	d.next++
	if d.next == wakeID {
		d.next++
	}
	id := d.next
	d.polls[id] = poll
	d.mu.Unlock()
	events := uint32(unix.EPOLLRDHUP | unix.EPOLLONESHOT)
	if poll.idle {
		events |= unix.EPOLLIN
	}
	var cerr error
	err := rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: events, Fd: int32(id)}
		cerr = unix.EpollCtl(d.epfd, op, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		d.mu.Lock()
		delete(d.polls, id)
		d.mu.Unlock()
		return 0
	}
	poll.registered = true
	return id
}

// forget stops reporting events of poll but leaves its socket in the set:
// it is about to be answered, and then either closed (which takes it out
// of the set) or re-armed by watch.
func (d *epollDepartures) forget(poll *parkedPoll) {
	d.mu.Lock()
	delete(d.polls, poll.watch)
	d.mu.Unlock()
}

func (d *epollDepartures) unwatch(poll *parkedPoll) {
	if !poll.registered {
		return
	}
	d.forget(poll)
	poll.registered = false
	if rc, ok := rawConn(poll.conn); ok {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.EpollCtl(d.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
		})
	}
}

func (d *epollDepartures) stop() {
	var one [8]byte
	one[0] = 1 // eventfd takes a host-order uint64; any non-zero value wakes
	_, _ = unix.Write(d.wake, one[:])
	<-d.done
}

func (d *epollDepartures) loop() {
	defer close(d.done)
	defer unix.Close(d.epfd)
	defer unix.Close(d.wake)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(d.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == wakeID {
				return
			}
			d.mu.Lock()
			poll := d.polls[uint32(ev.Fd)]
			delete(d.polls, uint32(ev.Fd))
			d.mu.Unlock()
			if poll != nil {
				d.onEvent(poll, ev.Events&unix.EPOLLIN != 0)
			}
		}
	}
}
