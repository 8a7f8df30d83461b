// Package memnet is an in-memory, fault-injecting network for running real
// hashicorp/memberlist instances (and the peer messages ringd sends over
// memberlist) inside one test process. Nothing goes over a socket.
//
// A Network hands out Transports, one per address ("127.0.0.X:7946"). Each
// Transport implements memberlist.NodeAwareTransport, so it can be put into
// memberlist.Config.Transport; memberlist's own label and encryption wrapping
// work on top of it unchanged.
//
// # Faults
//
// Faults are set on the Network and addressed by transport address. They are
// properties of the network, not of a transport: they stay in force when a
// node restarts on the same address, until Heal (or Resume) removes them.
//
//	SetDrop(from, to, f)   packets from->to are lost with probability f;
//	                       a dial from->to is lost (times out) with probability f
//	SetDelay(from, to, ..) packets from->to arrive after a random delay, so
//	                       they get reordered; streams are not delayed
//	Cut(from, to)          packets from->to vanish; no stream between the two
//	Partition(groups...)   Cut both ways between groups; a node in no group is
//	                       cut off from everyone
//	Heal()                 removes drops, delays, cuts and the partition
//	Pause(addr)            the process is stopped (SIGSTOP, a long GC pause)
//	Resume(addr)           ... and continues
//	Crash(addr)            the process is gone; NewTransport on the same address
//	                       later is a restart
//
// # Packets (memberlist's UDP path)
//
// WriteTo copies the bytes and never blocks: like UDP it reports success even
// when the packet is lost. A packet to an address without a transport
// vanishes. Each receiver has a buffer of 1024 packets (a socket receive
// buffer); when it is full, further packets are dropped. The Packet's
// Timestamp is taken when memberlist's reader takes it from that buffer.
//
// Drop and delay decisions come from a random source per directed link,
// seeded from the Network's seed and the two addresses: for a given seed the
// n-th packet (or dial) on a link always meets the same fate, whatever the
// other links do. Which packet is the n-th is up to the goroutines that
// send them.
//
// # Streams (memberlist's TCP path)
//
// DialTimeout returns one end of an in-memory connection whose other end
// arrives on the target's StreamCh. Each direction has an unbounded buffer:
// a Write never waits for the reader, so two ends that both write before
// they read do not deadlock (net.Pipe would). Deadlines work as on a socket
// and time out with os.ErrDeadlineExceeded (a net.Error with Timeout()).
// Bytes on an established connection are never lost, reordered or delayed.
//
// A TCP connection needs both directions (the handshake goes both ways), so
// a Cut or Partition in either direction between two nodes resets the
// connections between them, and a dial between them in either direction
// waits; it fails when its timeout runs out, or goes through if the fault is
// healed first. SetDrop applies to the dialing direction only: a lost dial
// waits for its timeout and fails. A dial to an address with no transport
// (never created, crashed or shut down) fails at once with ErrConnRefused.
// A dial never takes longer than its timeout; a timeout <= 0 means the dial
// gets one try and fails at once if it would have to wait.
//
// # Pause
//
// A paused node neither sends nor receives. Its outbound packets are dropped
// (the process is not running to send them); inbound packets are held in its
// 1024-packet buffer and delivered on Resume, the excess dropped. Dials to or
// from it wait until Resume or their timeout. Its established connections
// freeze: writes are buffered and nothing becomes readable at either end
// until Resume. A read deadline still fires during the pause: memberlist's
// goroutines keep running in this process even though the node is "stopped";
// only the network around them is frozen.
//
// # Crash and Shutdown
//
// Crash removes the transport from the network: its connections are reset,
// packets held for it or in flight to it are dropped, its own sends vanish
// and its dials fail with ErrClosed. The memberlist instance above keeps
// running, cut off from everything, until the test shuts it down. The
// address is free again at once, so a NewTransport on it and a new memberlist
// with the same name models a restart. Crash also ends a Pause of the
// address. Shutdown does the same for a clean stop; it is idempotent and
// returns only when the transport's goroutine has ended.
package memnet
