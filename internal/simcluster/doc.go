// Package simcluster runs whole ringd clusters in one goroutine on virtual
// time, for protocol tests in any package.
//
// Two kinds of cluster share the simulated network and clocks of
// internal/simnet (drops, one-way cuts, delays, partitions, pauses, crashes,
// clock drift) and the timings of Fast and FastElection:
//
//   - Cluster runs the protocol cores (daemon/core.Core) as the daemon does:
//     it follows the core's host contract (Ready, persist Durable, send,
//     Advance), models gossip from who can hear whom, models each member's
//     application (it reads its view and acknowledges releases), and feeds
//     what every application works on to an ownership checker
//     (internal/ownercheck) after every step.
//   - ElectionCluster runs bare election state machines (election.Node) with
//     a gossip truth the test controls, and keeps a history that checks one
//     leader per term, one vote per member and term, and terms that never go
//     back.
//
// A five-member cluster with a partition, a pause and a clock drift
// (TestFiveMembersPartitionPauseDrift has it in full):
//
//	c := simcluster.New(t, simcluster.Seed(7), simcluster.Size(5))
//	c.Require(10*time.Second, "coverage", c.Covered)
//	c.Partition([]string{"m0", "m1"}, []string{"m2", "m3", "m4"})
//	c.Pause("m0")
//	c.SetDrift("m3", 0.01)
//	c.Require(10*time.Second, "majority covers", func() bool { return c.CoveredBy([]string{"m2", "m3", "m4"}) })
//	c.RequireNoViolations()
//
// Everything random comes from the seed: the same seed and the same calls
// give the same run, and a failure names the seed to replay.
package simcluster
