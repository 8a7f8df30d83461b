package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/daemon"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/memnet"
	"github.com/ringd/ringd/partitions"
)

func init() {
	register(Figure{ID: "e", Title: "convergence at scale (in-process clusters on the in-memory transport)", Run: runScale})
}

const (
	// scalePartitions is P for figure e (issue 11).
	scalePartitions = 1024
	// scaleGoal: a new table reaches every member of a 500-member cluster
	// within this time (issue 11).
	scaleGoal = time.Second
	// scaleSeeds is how many members bootstrap the cluster, and every
	// other member joins through them: as many as the default voters, so
	// the cluster starts with its full voter set.
	scaleSeeds = 5
	// scaleStartRate is how many members per second start after the
	// seeds, as the pods of a scaled-up Deployment come up over some
	// seconds. All 495 at once made every one push its state to the five
	// seeds in the same instant: memberlist refused most ("too many pending
	// push/pull requests") and the in-process cluster, on two cores, spent
	// minutes in suspicion and refutation before anything else happened.
	scaleStartRate = 25
	// scaleGossipProfile is memberlist's timing profile for figure e, as
	// docs/operations.md advises for hundreds of members. At LAN rates 500
	// memberlists in one process need more than two cores for gossip alone:
	// probes time out for want of CPU, members suspect each other, and the
	// refutations fill every gossip queue.
	scaleGossipProfile = "wan"
	// scalePoll is how often the figure looks at the members' snapshots.
	scalePoll = 5 * time.Millisecond
)

// scaleRun is what one cluster size gives.
type scaleRun struct {
	n         int
	formed    time.Duration
	admission []time.Duration // join: leader's table admitting the joiner -> last member
	tables    []time.Duration // every table published during the joins -> last member
	late      int             // tables of the joins that some live member never applied
	leader    []time.Duration // leader crash -> new leader with a valid lease
	coverage  []time.Duration // leader crash -> every partition held by exactly one live member
	// crashTimeouts counts the leader-crash trials that did not reach full
	// coverage within scaleCrashWait (or never found a leader with its
	// voters whole to crash).
	crashTimeouts int
	// failed says why the run stopped early (the cluster did not form, a
	// join was never admitted); the figures before it stand.
	failed   string
	cost     processCost
	profiles string
}

func runScale(ctx context.Context, env *Env) (Section, error) {
	sizes := []int{100, 500}
	if env.Quick {
		sizes = []int{25, 100}
	}
	if len(env.ScaleSizes) > 0 {
		sizes = env.ScaleSizes
	}
	trials := env.Trials(5, 1)
	var runs []scaleRun
	for i, n := range sizes {
		profile := i == len(sizes)-1 // the size the goal is about
		r, err := measureScale(ctx, env, n, trials, profile)
		if err != nil {
			if ctx.Err() != nil {
				return Section{}, ctx.Err()
			}
			// A size that does not form or converge is a result too.
			r.failed = err.Error()
			env.Log.Warn("stopped early", "members", n, "error", err)
		}
		runs = append(runs, r)
	}
	return scaleSection(env, sizes, trials, runs), nil
}

func scaleSection(env *Env, sizes []int, trials int, runs []scaleRun) Section {
	conv := Table{Header: []string{"members", "table everywhere after a join (min / median / p99)", "every table during the joins", "goal"}}
	fail := Table{Header: []string{"members", "leader crash → new leader", "leader crash → every partition held by exactly one live member"}}
	cost := Table{Header: []string{"members", "cluster formed after", "CPU, idle cluster (cores)", "RSS after forming", "Go heap in use", "goroutines"}}
	var notes []string
	for _, r := range runs {
		goal := "—"
		if r.n == slices.Max(sizes) {
			goal = fmt.Sprintf("≤ %v at 500 members", scaleGoal)
		}
		every := Durations(r.tables).Seconds()
		if r.late > 0 {
			every += fmt.Sprintf("; %d never reached every member", r.late)
		}
		if r.failed != "" {
			notes = append(notes, fmt.Sprintf("%d members: the run stopped early: %s.", r.n, r.failed))
		}
		conv.AddRow(r.n, Durations(r.admission).Seconds(), every, goal)
		covered := Durations(r.coverage).Seconds()
		if r.crashTimeouts > 0 {
			covered += fmt.Sprintf("; %d trial(s) not covered within %v", r.crashTimeouts, scaleCrashWait)
		}
		fail.AddRow(r.n, Durations(r.leader).Seconds(), covered)
		if r.formed == 0 {
			cost.AddRow(r.n, "did not form", "—", "—", "—", "—")
		} else {
			cost.AddRow(r.n, r.formed.Round(100*time.Millisecond), fmt.Sprintf("%.2f", r.cost.cores),
				mib(int64(r.cost.rss)), mib(int64(r.cost.heap)), r.cost.goroutines)
		}
		if r.profiles != "" {
			notes = append(notes, fmt.Sprintf("CPU and heap profiles of the %d-member run were written to %s (kept with --keep).", r.n, r.profiles))
		}
	}
	last := runs[len(runs)-1]
	if last.n >= 500 {
		p99 := Durations(last.tables).P99
		verdict := "met"
		if len(last.tables) == 0 || p99 > scaleGoal.Seconds() || last.late > 0 {
			verdict = "missed"
		}
		judged := fmt.Sprintf("%s, p99 %.2f s", verdict, p99)
		if last.failed != "" && len(last.tables) == 0 {
			judged = "not judged: the cluster did not get that far"
		}
		notes = append([]string{fmt.Sprintf("Goal (table everywhere ≤ %v at 500 members, p99 over every table published during the joins): %s.", scaleGoal, judged)}, notes...)
	} else {
		notes = append([]string{fmt.Sprintf("Quick run: the goal (≤ %v at 500 members) is judged by the full run; the largest size here is %d.", scaleGoal, last.n)}, notes...)
	}
	return Section{
		Title:   "e. Convergence at scale",
		Command: "go run ./cmd/ringbench --figures e",
		Setup: fmt.Sprintf("In-process clusters of %v members (real daemons, real memberlist with its WAN profile, --gossip-profile %s, "+
			"on the in-memory transport internal/memnet: every member in this one process, so the process's cores are shared by all of them), "+
			"P = %d, default timings otherwise, voters = 5. The first %d members bootstrap (--bootstrap-expect %d); the others start at %d per second "+
			"and join through them. "+
			"A table's time to reach every member runs from the leader applying it (it publishes and sends in the same loop turn) "+
			"to the last live member applying it or a newer one, as the daemons' loops report them. "+
			"Joins: %d trials, each a new member; the admission table is the first listing it. "+
			"Leader crashes: %d trials, each without drain or leave (the transport cut, the daemon stopped), "+
			"each after the voters are whole again; coverage read from every member's snapshot every %v. "+
			"CPU is the process's over %v of an idle formed cluster.",
			sizes, scaleGossipProfile, scalePartitions, scaleSeeds, scaleSeeds, scaleStartRate, trials, trials, scalePoll, env.idleWindow()),
		Tables: []Table{conv, fail, cost},
		Notes:  notes,
	}
}

func (e *Env) idleWindow() time.Duration {
	if e.Quick {
		return 3 * time.Second
	}
	return 10 * time.Second
}

// measureScale forms a cluster of n, then runs the join and the leader-crash
// trials on it.
func measureScale(ctx context.Context, env *Env, n, trials int, profile bool) (scaleRun, error) {
	r := scaleRun{n: n}
	if profile && !env.LiveProfiles {
		stop, err := startCPUProfile(filepath.Join(env.Dir, fmt.Sprintf("scale-%d-cpu.pprof", n)))
		if err != nil {
			return r, err
		}
		defer stop()
		r.profiles = env.Dir
	}
	c, err := newScaleCluster(env, n)
	if err != nil {
		return r, err
	}
	defer c.close()
	// The first members bootstrap the cluster and the others join it, as
	// a cluster grows in production. A bootstrap of all n at once would
	// make all n the first voters, and need n members to agree on who is
	// alive before anything starts.
	start := time.Now()
	for i := range c.seeds {
		if err := c.start(i); err != nil {
			return r, err
		}
	}
	if err := c.waitFormed(ctx, c.seeds, formTimeout(c.seeds)); err != nil {
		return r, err
	}
	env.Log.Info("seed members formed the cluster; starting the others", "seeds", c.seeds, "members", n,
		"per_second", scaleStartRate)
	pace := time.NewTicker(time.Second / scaleStartRate)
	defer pace.Stop()
	for i := c.seeds; i < n; i++ {
		if err := c.start(i); err != nil {
			return r, err
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-pace.C:
		}
	}
	if err := c.waitFormed(ctx, n, formTimeout(n)); err != nil {
		return r, err
	}
	r.formed = time.Since(start)
	env.Log.Info("cluster formed", "members", n, "after", r.formed.Round(time.Millisecond))
	r.cost, err = measureIdle(ctx, env.idleWindow())
	if err != nil {
		return r, err
	}
	env.Log.Info("idle cost", "members", n, "cores", fmt.Sprintf("%.2f", r.cost.cores), "rss_mib", r.cost.rss>>20)

	joinsFrom := time.Now()
	for t := range trials {
		took, err := c.joinTrial(ctx, n+t)
		if err != nil {
			return r, fmt.Errorf("join trial %d: %w", t+1, err)
		}
		r.admission = append(r.admission, took)
		env.Log.Info("join", "members", n, "trial", t+1, "admission_table_everywhere", took.Round(time.Millisecond))
	}
	// Let the tables the joins started (grants after the new members'
	// hold-down) arrive, then judge every table published meanwhile.
	_ = c.waitTablesSettled(ctx, 15*time.Second)
	r.tables, r.late = c.log.spreads(joinsFrom, c.liveNames())
	env.Log.Info("tables during the joins", "members", n, "tables", len(r.tables), "never_everywhere", r.late,
		"spread", Durations(r.tables).Seconds())

	for t := range trials {
		lead, cover, err := c.leaderCrashTrial(ctx, env, scaleCrashWait)
		if err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			// A cluster that does not recover is a result, not a broken
			// run: count it, and stop crashing after the second.
			r.crashTimeouts++
			env.Log.Warn("leader crash trial timed out", "members", n, "trial", t+1, "error", err)
			if r.crashTimeouts >= 2 {
				break
			}
			continue
		}
		r.leader = append(r.leader, lead)
		r.coverage = append(r.coverage, cover)
		env.Log.Info("leader crash", "members", n, "trial", t+1, "new_leader", lead.Round(time.Millisecond),
			"coverage", cover.Round(time.Millisecond))
	}
	if profile {
		if err := writeHeapProfile(filepath.Join(env.Dir, fmt.Sprintf("scale-%d-heap.pprof", n))); err != nil {
			env.Log.Warn("heap profile", "error", err)
		}
	}
	return r, nil
}

// scaleCrashWait bounds one leader-crash trial (finding a leader with its
// voters whole, then full coverage after the crash).
const scaleCrashWait = 90 * time.Second

// formTimeout bounds the start of a cluster of n: gossip has to spread the
// members and the leader to grant every partition.
func formTimeout(n int) time.Duration { return 60*time.Second + time.Duration(n)*200*time.Millisecond }

// scaleCluster is n in-process daemons on one memnet network.
type scaleCluster struct {
	env     *Env
	net     *memnet.Network
	logFile *os.File
	logBuf  *lockedWriter // in front of logFile
	logger  hclog.Logger
	log     *tableLog
	// seeds is how many members bootstrap the cluster (--bootstrap-expect);
	// every member joins through them.
	seeds int

	mu      sync.Mutex
	members []*scaleMember
}

type scaleMember struct {
	name    string
	addr    string
	d       *daemon.Daemon
	crashed bool
}

func newScaleCluster(env *Env, n int) (*scaleCluster, error) {
	f, err := os.Create(filepath.Join(env.Dir, fmt.Sprintf("scale-%d.log", n)))
	if err != nil {
		return nil, err
	}
	// Warnings and errors only (the seeds log at info): at info, hundreds of members logging every
	// leader change would measure the logger. Buffered: each member of a
	// real cluster writes its own log, while here all share one file, and
	// a write call per line made thousands of goroutines queue for it
	// whenever gossip warned about many members at once.
	buf := &lockedWriter{w: bufio.NewWriterSize(f, 1<<20)}
	logger := hclog.New(&hclog.LoggerOptions{Name: "ringd", Level: hclog.Warn, Output: buf, IndependentLevels: true})
	return &scaleCluster{env: env, net: memnet.New(1), logFile: f, logBuf: buf, logger: logger, log: newTableLog(), seeds: min(scaleSeeds, n)}, nil
}

// scaleAddr is member i's address on the in-memory network (nothing leaves
// the process; the addresses only have to be distinct IPs).
func scaleAddr(i int) string { return fmt.Sprintf("127.0.%d.%d:7946", i/250, i%250+1) }

func (c *scaleCluster) start(i int) error {
	m := &scaleMember{name: fmt.Sprintf("m%03d", i), addr: scaleAddr(i)}
	cfg := daemon.DefaultConfig()
	cfg.Name = m.name
	cfg.GossipAddr = m.addr
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Partitions = scalePartitions
	cfg.GossipProfile = scaleGossipProfile
	for s := range c.seeds {
		if s != i {
			cfg.Join = append(cfg.Join, scaleAddr(s))
		}
	}
	if i < c.seeds {
		cfg.BootstrapExpect = c.seeds
	}
	res, err := cfg.Resolve()
	if err != nil {
		return fmt.Errorf("member %s: %w", m.name, err)
	}
	tr, err := c.net.NewTransport(m.addr)
	if err != nil {
		return fmt.Errorf("member %s: %w", m.name, err)
	}
	name := m.name
	logger := c.logger.Named(m.name)
	if i < c.seeds {
		// The seeds are the first voters: their elections, lease losses
		// and leader changes at info tell what a slow figure went through.
		logger = c.logger.ResetNamed("ringd." + m.name)
		logger.SetLevel(hclog.Info)
	}
	d, err := daemon.Start(res, logger, daemon.WithTransport(tr),
		daemon.WithTableApplied(func(t partitions.Table, at time.Time) { c.log.applied(name, t, at) }))
	if err != nil {
		_ = tr.Shutdown()
		return fmt.Errorf("starting member %s: %w", m.name, err)
	}
	m.d = d
	c.mu.Lock()
	c.members = append(c.members, m)
	c.mu.Unlock()
	return nil
}

func (c *scaleCluster) live() []*scaleMember {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*scaleMember
	for _, m := range c.members {
		if !m.crashed {
			out = append(out, m)
		}
	}
	return out
}

func (c *scaleCluster) liveNames() []string {
	var out []string
	for _, m := range c.live() {
		out = append(out, m.name)
	}
	return out
}

// crash kills a member like SIGKILL: its traffic stops at once, then the
// daemon stops without drain or leave.
func (c *scaleCluster) crash(m *scaleMember) {
	c.net.Crash(m.addr)
	m.d.Crash()
	c.mu.Lock()
	m.crashed = true
	c.mu.Unlock()
}

func (c *scaleCluster) close() {
	began := time.Now()
	defer func() { c.env.Log.Debug("cluster stopped", "after", time.Since(began)) }()
	stuck := time.AfterFunc(15*time.Second, func() {
		f, err := os.Create(filepath.Join(c.env.Dir, "stuck-close-goroutines.txt"))
		if err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(f, 2)
			f.Close()
		}
		c.env.Log.Warn("stopping the cluster takes long; goroutines dumped", "dir", c.env.Dir)
	})
	defer stuck.Stop()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, m := range c.live() {
		c.net.Crash(m.addr)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m.d.Crash()
		})
	}
	wg.Wait()
	_ = c.logBuf.flush()
	c.logFile.Close()
}

// leader returns the live member that leads with a valid lease, or nil when
// none or more than one does.
func (c *scaleCluster) leader(now time.Time) *scaleMember {
	var found *scaleMember
	for _, m := range c.live() {
		v := m.d.View()
		if v.Role == election.Leader && now.Before(v.LeaseUntil) {
			if found != nil {
				return nil
			}
			found = m
		}
	}
	return found
}

// coverage reads every live member's holdings as GET /partitions/mine would
// answer now.
func (c *scaleCluster) coverage(now time.Time) (covered, doubles int) {
	var held [][]int
	for _, m := range c.live() {
		v := m.d.View()
		var ids []int
		if now.Before(v.LeaseUntil) {
			for _, h := range v.Holdings {
				if now.Before(h.Until) {
					ids = append(ids, h.ID)
				}
			}
		}
		held = append(held, ids)
	}
	return countCoverage(scalePartitions, held)
}

// countCoverage counts, from each member's held partition ids, the
// partitions held by exactly one member and those held by more than one.
func countCoverage(partitionCount int, held [][]int) (covered, doubles int) {
	count := make([]int, partitionCount)
	for _, ids := range held {
		for _, id := range ids {
			if id >= 0 && id < partitionCount {
				count[id]++
			}
		}
	}
	for _, k := range count {
		switch {
		case k == 1:
			covered++
		case k > 1:
			doubles++
		}
	}
	return covered, doubles
}

// poll calls cond every scalePoll until it is true, ctx ends or within
// passes; what names the wait in the error.
func poll(ctx context.Context, within time.Duration, what string, cond func(now time.Time) bool) error {
	deadline := time.Now().Add(within)
	t := time.NewTicker(scalePoll)
	defer t.Stop()
	for {
		now := time.Now()
		if cond(now) {
			return nil
		}
		if now.After(deadline) {
			return fmt.Errorf("no %s within %v", what, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// waitFormed waits until one leader leads a table that lists all n members,
// every member applied it, and every partition is held by exactly one.
func (c *scaleCluster) waitFormed(ctx context.Context, n int, within time.Duration) error {
	last := time.Now()
	var seen string // what the last look found, for the error
	err := poll(ctx, within, fmt.Sprintf("cluster of %d with every partition held", n), func(now time.Time) bool {
		l := c.leader(now)
		covered, _ := c.coverage(now)
		admitted := 0
		if l != nil {
			admitted = len(l.d.View().Table.Members)
		}
		seen = fmt.Sprintf("leader with a valid lease: %t, members admitted: %d, partitions held once: %d of %d",
			l != nil, admitted, covered, scalePartitions)
		if now.Sub(last) > 10*time.Second {
			last = now
			c.env.Log.Info("forming", "leader", l != nil, "admitted", admitted, "covered", covered)
		}
		if l == nil {
			return false
		}
		lt := l.d.View().Table
		if len(lt.Members) != n {
			return false
		}
		for _, m := range c.live() {
			if m.d.View().Table.ID.Less(lt.ID) {
				return false
			}
		}
		covered, doubles := c.coverage(now)
		return covered == scalePartitions && doubles == 0
	})
	if err != nil && seen != "" {
		return fmt.Errorf("%w (last seen: %s; member logs in %s)", err, seen, c.logFile.Name())
	}
	return err
}

// joinTrial starts member i and returns the time from the leader applying
// the first table that admits it to the last live member applying that
// table or a newer one.
func (c *scaleCluster) joinTrial(ctx context.Context, i int) (time.Duration, error) {
	if err := c.start(i); err != nil {
		return 0, err
	}
	name := fmt.Sprintf("m%03d", i)
	var admitted partitions.TableID
	// Admission waits for --settle (2 s) and for gossip to spread the new
	// member.
	if err := poll(ctx, 60*time.Second, "table admitting "+name, func(time.Time) bool {
		id, ok := c.log.firstListing(name)
		admitted = id
		return ok
	}); err != nil {
		return 0, err
	}
	var took time.Duration
	err := poll(ctx, 30*time.Second, "table "+admitted.String()+" at every member", func(time.Time) bool {
		d, ok := c.log.spread(admitted, c.liveNames())
		took = d
		return ok
	})
	return took, err
}

// waitTablesSettled waits until every live member applied the leader's
// current table.
func (c *scaleCluster) waitTablesSettled(ctx context.Context, within time.Duration) error {
	return poll(ctx, within, "every member on the leader's table", func(now time.Time) bool {
		l := c.leader(now)
		if l == nil {
			return false
		}
		id := l.d.View().Table.ID
		for _, m := range c.live() {
			if m.d.View().Table.ID.Less(id) {
				return false
			}
		}
		return true
	})
}

// leaderCrashTrial waits until the voters are whole and every partition is
// held, crashes the leader, and returns the time to a new leader and to
// full coverage again.
func (c *scaleCluster) leaderCrashTrial(ctx context.Context, env *Env, within time.Duration) (lead, cover time.Duration, err error) {
	var victim *scaleMember
	lacking := "no leader"
	if err := poll(ctx, within, "leader with five live voters and every partition held", func(now time.Time) bool {
		victim = c.leader(now)
		if victim == nil {
			lacking = "no leader"
			return false
		}
		// A crash costs a voter; the leader replaces it after
		// --dead-voter-timeout, counted from gossip's verdict. Crashing the
		// next leader before then could take the majority: the voters
		// must all be live processes (what the leader's gossip view says
		// lags behind, by most of a minute with the WAN profile, and
		// trusting it crashed three voters of five in a row).
		v := victim.d.View()
		live := map[string]bool{}
		for _, name := range c.liveNames() {
			live[name] = true
		}
		voters, alive := len(v.Table.Voters), 0
		for _, ev := range v.Table.Voters {
			if name, _, _ := strings.Cut(ev, "@"); live[name] {
				alive++
			}
		}
		if len(v.Table.PrevVoters) > 0 || voters != min(5, len(live)) || alive != voters {
			lacking = fmt.Sprintf("leader %s's table has %d voters, %d of them live processes, %d previous voters", victim.name, voters, alive, len(v.Table.PrevVoters))
			return false
		}
		covered, doubles := c.coverage(now)
		lacking = fmt.Sprintf("%d of %d partitions held by exactly one member, %d by more", covered, scalePartitions, doubles)
		return covered == scalePartitions && doubles == 0
	}); err != nil {
		return 0, 0, fmt.Errorf("%w (last: %s)", err, lacking)
	}
	env.Log.Debug("crashing the leader", "leader", victim.name)
	start := time.Now()
	c.crash(victim)
	var sawLeader bool
	err = poll(ctx, within, "new leader and full coverage after the leader crash", func(now time.Time) bool {
		if !sawLeader && c.leader(now) != nil {
			sawLeader, lead = true, now.Sub(start)
		}
		covered, doubles := c.coverage(now)
		if doubles > 0 {
			env.Log.Warn("a partition is listed by two live members", "partitions", doubles)
		}
		if sawLeader && covered == scalePartitions && doubles == 0 {
			cover = now.Sub(start)
			return true
		}
		return false
	})
	return lead, cover, err
}

// tableLog records when each member applied each table, as the daemons'
// loops report it (daemon.WithTableApplied).
type tableLog struct {
	mu sync.Mutex
	// applies lists, per member, the tables it applied in order.
	applies map[string][]tableApply
	// published is when each table was first applied anywhere (at its
	// leader, which applies it as it sends it), with its members.
	published map[partitions.TableID]publication
}

type tableApply struct {
	id partitions.TableID
	at time.Time
}

type publication struct {
	at      time.Time
	members []string
}

func newTableLog() *tableLog {
	return &tableLog{applies: map[string][]tableApply{}, published: map[partitions.TableID]publication{}}
}

func (l *tableLog) applied(member string, t partitions.Table, at time.Time) {
	if len(t.Partitions) == 0 {
		return // no table yet
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.applies[member] = append(l.applies[member], tableApply{id: t.ID, at: at})
	if p, ok := l.published[t.ID]; !ok || at.Before(p.at) {
		l.published[t.ID] = publication{at: at, members: t.Members}
	}
}

// firstListing returns the oldest table that lists member among its
// members.
func (l *tableLog) firstListing(member string) (partitions.TableID, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best partitions.TableID
	found := false
	for id, p := range l.published {
		if slices.Contains(p.members, member) && (!found || id.Less(best)) {
			best, found = id, true
		}
	}
	return best, found
}

// spread returns the time from the first application of table id to the
// moment the last of members had applied it or a newer table; false while
// some member has not.
func (l *tableLog) spread(id partitions.TableID, members []string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return spreadOf(l.published[id].at, id, l.applies, members)
}

// spreads returns the spread of every table first applied at or after from,
// and how many of them some live member never reached.
func (l *tableLog) spreads(from time.Time, members []string) (took []time.Duration, late int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]partitions.TableID, 0, len(l.published))
	for id, p := range l.published {
		if !p.at.Before(from) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b partitions.TableID) int {
		if a.Less(b) {
			return -1
		}
		if b.Less(a) {
			return 1
		}
		return 0
	})
	for _, id := range ids {
		// Members that started after the table was published received a
		// newer one; they would only blur the figure.
		p := l.published[id]
		var present []string
		for _, m := range members {
			if as := l.applies[m]; len(as) > 0 && !as[0].at.After(p.at) {
				present = append(present, m)
			}
		}
		if d, ok := spreadOf(p.at, id, l.applies, present); ok {
			took = append(took, d)
		} else {
			late++
		}
	}
	return took, late
}

// spreadOf is spread over an application history: for each member the first
// application of id or a newer table, and the latest of those minus
// published.
func spreadOf(published time.Time, id partitions.TableID, applies map[string][]tableApply, members []string) (time.Duration, bool) {
	var last time.Time
	for _, m := range members {
		i := slices.IndexFunc(applies[m], func(a tableApply) bool { return !a.id.Less(id) })
		if i < 0 {
			return 0, false
		}
		if at := applies[m][i].at; at.After(last) {
			last = at
		}
	}
	return max(last.Sub(published), 0), true
}

// processCost is what this process spends while a formed cluster idles.
type processCost struct {
	cores      float64 // CPU seconds per second of the window
	rss        uint64
	heap       uint64
	goroutines int
}

// measureIdle samples this process's CPU over window, and its memory at the
// end.
func measureIdle(ctx context.Context, window time.Duration) (processCost, error) {
	cpu0, err := processCPU()
	if err != nil {
		return processCost{}, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return processCost{}, ctx.Err()
	case <-time.After(window):
	}
	cpu1, err := processCPU()
	if err != nil {
		return processCost{}, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := processRSS()
	if err != nil {
		return processCost{}, err
	}
	return processCost{
		cores: (cpu1 - cpu0).Seconds() / time.Since(t0).Seconds(),
		rss:   rss, heap: ms.HeapInuse, goroutines: runtime.NumGoroutine(),
	}, nil
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// lockedWriter is a buffered writer that is safe for concurrent use.
type lockedWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Flush()
}
