// Package clientlib is how a Go application works on the partitions the ringd
// beside it gives this member, without writing HTTP.
//
// Run long-polls GET /partitions/mine on the local ringd and, for each
// partition this member gains, runs the Handler's Work in a goroutine of its
// own with a context that is cancelled when the partition must be given up:
// moved to another member, its lease about to run out without a renewal
// (ringd unreachable, stopped, or cut off from its leader), or Run stopping.
// Once Work has returned, Run acknowledges the release to ringd with the
// grant's token, so the next owner starts only after this one stopped; it
// never acknowledges as a side effect of a poll.
//
// # Deadlines
//
// Each Partition carries its fencing token and its deadline: the instant
// until which this member may work on it. It is counted from when the poll
// that brought the answer was sent, plus the time ringd held the long-poll,
// plus the lease ringd said was left; never from when the answer arrived, so
// a slow answer can only make it earlier than it really is. Run cancels a
// worker's context the margin (WithMargin, default 500ms) before the
// deadline, by its own clock, whatever ringd does. A worker that has still
// not returned at the deadline is reported lost (LostHandler, or an error
// log): it may overlap with the next owner, and must commit nothing with its
// token.
//
// # Guarantees within one Client
//
// Use one Client, and one Run, per ringd in a process (a second Run for the
// same ringd address fails with ErrRunning).
//
//   - Work never runs twice at once for one partition: a newer grant of a
//     partition starts only after the worker of the older one has returned
//     ("revoked before assigned").
//   - Tokens given to Work for one partition never go down, even when ringd
//     restarts and its index goes back.
//   - When Run returns, every worker has returned and no goroutine of the
//     library is left.
//
// # Importing
//
// The package is a Go module of its own, github.com/ringd/ringd/clientlib,
// whose packages import nothing outside the standard library: importing it
// builds none of the daemon's (memberlist, echo, Prometheus).
package clientlib
