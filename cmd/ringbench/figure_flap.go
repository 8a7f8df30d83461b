package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

func init() {
	register(Figure{ID: "h", Title: "Stability under a flapping or lossy member", Run: runFlap})
}

// Figure h's setup (issue 11): 7 members, P = 271, default timings.
const (
	flapMembers    = 7
	flapPartitions = 271
	// flapPeriod: the flaky member's link flips every 20 s.
	flapPeriod = 20 * time.Second
	// flapLoss is the flaky member's inbound loss in the loss scenario.
	flapLoss = 80
	// The ports every member uses inside its own namespace.
	flapGossipPort = 7946
	flapHTTPPort   = 7070
)

// flapScenario is one fault on the flaky member.
type flapScenario struct {
	name string
	// fault runs for the scenario's duration and undoes itself at the end.
	fault func(ctx context.Context, lab *netLab, flaky int, d time.Duration, log func(string, ...any)) error
}

var flapScenarios = []flapScenario{
	{"80 % inbound loss", func(ctx context.Context, lab *netLab, flaky int, d time.Duration, log func(string, ...any)) error {
		if err := lab.setInboundLoss(ctx, flaky, flapLoss); err != nil {
			return err
		}
		log("inbound loss on", "percent", flapLoss)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return lab.setInboundLoss(context.WithoutCancel(ctx), flaky, 0)
	}},
	{"link flips every 20 s", func(ctx context.Context, lab *netLab, flaky int, d time.Duration, log func(string, ...any)) error {
		end := time.Now().Add(d)
		up := true
		defer lab.setLink(context.WithoutCancel(ctx), flaky, true)
		for {
			next := time.Now().Add(flapPeriod)
			if next.After(end) {
				next = end
			}
			t := time.NewTimer(time.Until(next))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			if !time.Now().Before(end) {
				return nil
			}
			up = !up
			if err := lab.setLink(ctx, flaky, up); err != nil {
				return err
			}
			log("link flipped", "up", up)
		}
	}},
}

// flapSetting is a damping setting under test.
type flapSetting struct {
	name string
	args []string
}

var flapSettings = []flapSetting{
	{"damping on (default, --flap-hold-down 30s)", nil},
	{"damping off (--flap-hold-down 0, baseline)", []string{"--flap-hold-down", "0"}},
}

func runFlap(ctx context.Context, env *Env) (Section, error) {
	d := 5 * time.Minute
	if env.Quick {
		d = time.Minute
	}
	sec := Section{
		Title:   "h. Stability under a flapping or lossy member",
		Command: "sudo go run ./cmd/ringbench --figures h",
		Setup: fmt.Sprintf("%d real ringd processes, each in its own network namespace on one bridge (veth pairs, a private /24), "+
			"P = %d, default timings, one follower flaky for %v per scenario: (i) %d %% of its inbound packets dropped "+
			"(an nftables rule on its namespace's input; this kernel has no netem), (ii) its link down and up every %v "+
			"(its bridge port). An app beside every member acknowledges releases at once, from the start. The fault starts "+
			"once the table has owned every partition, listed all %d members and stayed the same for %v. The tables the %d stable members "+
			"publish are long-polled from the root namespace; every distinct table version is analysed. "+
			"A *change caused by the flaky member* is a run of table versions that move partitions to it, or away from it "+
			"(one failover or one rebalance spans several versions, as releases come in); the first, its partitions going "+
			"away when it fails, is counted too. *Back and forth*: a partition whose owners go X, Y, X with the flaky member "+
			"as X or Y. One run per scenario and setting.",
			flapMembers, flapPartitions, d, flapLoss, flapPeriod, flapMembers, flapSettled, flapMembers-1),
	}
	tab := Table{Header: []string{"scenario", "setting", "changes caused by the flaky member", "table versions moving its partitions",
		"partitions back and forth", "partition moves in all", "leader changes (elections)", "flaky member's share at the end"}}
	var notes []string
	pass := true
	for _, sc := range flapScenarios {
		for _, st := range flapSettings {
			if ctx.Err() != nil {
				return sec, ctx.Err()
			}
			env.Log.Info("scenario", "fault", sc.name, "setting", st.name, "for", d)
			res, err := flapRun(ctx, env, sc, st, d)
			if err != nil {
				return sec, fmt.Errorf("%s, %s: %w", sc.name, st.name, err)
			}
			tab.AddRow(sc.name, st.name, res.Changes, res.Versions, res.BackAndForth, res.Moves,
				fmt.Sprintf("%d (%d)", res.LeaderChanges, res.Elections), fmt.Sprintf("%d partitions", res.FinalShare))
			env.Log.Info("result", "fault", sc.name, "setting", st.name, "changes", res.Changes,
				"back-and-forth", res.BackAndForth, "moves", res.Moves, "leader-changes", res.LeaderChanges, "elections", res.Elections)
			if st.args == nil && (res.Changes > 2 || res.BackAndForth > 0) {
				pass = false
				notes = append(notes, fmt.Sprintf("Goal missed in %q: %d changes caused by the flaky member, %d partitions back and forth.",
					sc.name, res.Changes, res.BackAndForth))
			}
		}
	}
	sec.Tables = append(sec.Tables, tab)
	if pass {
		notes = append([]string{"Goal (≤ 2 changes caused by the flaky member, no partition back and forth, with damping on) met in both scenarios."}, notes...)
	}
	notes = append(notes, "With damping on, a member back from an outage within its process (dead in gossip, or silent to the leader "+
		"for a lease) waits --flap-hold-down (30 s), doubling with every further flap, before it gets partitions again; "+
		"a restart is a new process and waits only --settle (docs/architecture.md, \"Flapping members\"). "+
		"The figures count from the first fault on, over the fault's duration only. Leader changes count changes of the "+
		"leader's name; elections count new terms, also when the same leader is elected again after it lost its leader "+
		"lease (on a loaded machine that happens without any fault).")
	sec.Notes = notes
	return sec, nil
}

// flapCluster is one run's processes in their namespaces.
type flapCluster struct {
	lab   *netLab
	procs []*os.Process
	done  []chan struct{}
}

func (c *flapCluster) httpAddr(i int) string {
	return fmt.Sprintf("%s:%d", c.lab.addr(i), flapHTTPPort)
}

// stop kills every member (they are measured, not drained) and waits.
func (c *flapCluster) stop() {
	for i, p := range c.procs {
		if p != nil {
			_ = p.Signal(syscall.SIGKILL)
			<-c.done[i]
		}
	}
}

// flapRun measures one scenario with one setting: it builds the namespaces,
// starts the members, waits for full coverage, faults a follower for d
// while recording every table the others publish, and tears it all down.
func flapRun(ctx context.Context, env *Env, sc flapScenario, st flapSetting, d time.Duration) (flapResult, error) {
	lab, err := newNetLab(ctx, env.Log, flapMembers)
	if err != nil {
		return flapResult{}, err
	}
	defer lab.close()
	dir, err := os.MkdirTemp(env.Dir, "run-")
	if err != nil {
		return flapResult{}, err
	}
	c := &flapCluster{lab: lab}
	defer c.stop()
	for i := range flapMembers {
		var join []string
		for j := range flapMembers {
			if j != i {
				join = append(join, fmt.Sprintf("%s:%d", lab.addr(j), flapGossipPort))
			}
		}
		args := []string{
			"--name", fmt.Sprintf("ringd-%d", i),
			"--gossip-addr", fmt.Sprintf("%s:%d", lab.addr(i), flapGossipPort),
			"--http-addr", c.httpAddr(i),
			"--partitions", strconv.Itoa(flapPartitions),
			"--bootstrap-expect", strconv.Itoa(flapMembers),
			"--join", strings.Join(join, ","),
			"--data-dir", filepath.Join(dir, fmt.Sprintf("ringd-%d.data", i)),
		}
		args = append(args, st.args...)
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("ringd-%d.log", i)))
		if err != nil {
			return flapResult{}, err
		}
		cmd := lab.command(context.WithoutCancel(ctx), i, env.Ringd, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			logf.Close()
			return flapResult{}, fmt.Errorf("starting member %d: %w", i, err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
		c.procs = append(c.procs, cmd.Process)
		c.done = append(c.done, done)
	}
	// An app beside every member acknowledges releases at once, from the
	// start: without it, moves planned while the cluster formed would wait
	// for their release timeout and complete during the fault, where they
	// would count against the flaky member.
	recCtx, stopRec := context.WithCancel(ctx)
	defer stopRec()
	var wg sync.WaitGroup
	for i := range flapMembers {
		wg.Add(1)
		go func() { defer wg.Done(); flapApp(recCtx, c.httpAddr(i)) }()
	}
	start, err := c.waitSettled(ctx, 90*time.Second, flapSettled)
	if err != nil {
		stopRec()
		wg.Wait()
		return flapResult{}, fmt.Errorf("%w (member logs in %s; --keep keeps them)", err, dir)
	}
	flaky := slices.IndexFunc(start.Partitions, func(e api.Entry) bool { return e.Owner != start.Leader && e.Owner != "" })
	flakyName := start.Partitions[flaky].Owner
	flakyIdx, _ := strconv.Atoi(strings.TrimPrefix(flakyName, "ringd-"))
	env.Log.Info("settled; faulting a follower", "flaky", flakyName, "leader", start.Leader)

	// Record every table the stable members publish.
	var rec tableRecorder
	for i := range flapMembers {
		if i != flakyIdx {
			wg.Add(1)
			go func() { defer wg.Done(); rec.follow(recCtx, c.httpAddr(i)) }()
		}
	}
	rec.add(start)
	ferr := sc.fault(ctx, lab, flakyIdx, d, func(msg string, kv ...any) { env.Log.Info(msg, kv...) })
	stopRec()
	wg.Wait()
	if ferr != nil && !errors.Is(ferr, context.Canceled) {
		return flapResult{}, ferr
	}
	if ctx.Err() != nil {
		return flapResult{}, ctx.Err()
	}
	tables := rec.tables()
	// For a look afterwards (--keep): every table seen, oldest first.
	if b, err := json.Marshal(tables); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "tables.json"), b, 0o644)
	}
	return analyseFlap(tables, flakyName), nil
}

// flapSettled is how long the table must stay the same, covering every
// partition with every member in it, before the fault starts.
const flapSettled = 3 * time.Second

// waitSettled waits until every member answers and the table has every
// partition owned (none releasing), lists every member, and has stayed the
// same version for settled; it returns that table. The figure counts what
// changes after this point, so the start must be a state the cluster keeps.
func (c *flapCluster) waitSettled(ctx context.Context, limit, settled time.Duration) (api.Table, error) {
	deadline := time.Now().Add(limit)
	var last error
	var since time.Time
	var held api.Table
	for time.Now().Before(deadline) {
		var t api.Table
		ok := true
		for i := range flapMembers {
			if err := procluster.NewClient(c.httpAddr(i)).GetJSON(ctx, "/partitions", &t); err != nil {
				ok, last = false, err
				break
			}
		}
		full := ok && len(t.Partitions) == flapPartitions && len(t.Members) == flapMembers &&
			slices.IndexFunc(t.Partitions, func(e api.Entry) bool { return e.Owner == "" || e.State != "owned" }) < 0
		switch {
		case !full:
			since = time.Time{}
		case since.IsZero() || t.Term != held.Term || t.TableVersion != held.TableVersion:
			since, held = time.Now(), t
		case time.Since(since) >= settled:
			return t, nil
		}
		select {
		case <-ctx.Done():
			return api.Table{}, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return api.Table{}, fmt.Errorf("the table did not settle (every partition owned by one of %d members, unchanged for %v) within %v (last error: %v)",
		flapMembers, settled, limit, last)
}

// flapApp is the application beside one member: it long-polls its
// partitions, which acknowledges every release it has been shown.
func flapApp(ctx context.Context, addr string) {
	cl := procluster.NewClient(addr)
	var index uint64
	for ctx.Err() == nil {
		m, err := cl.MineAfter(ctx, index, 5*time.Second)
		if err != nil {
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		index = m.Index
	}
}

// tableRecorder keeps every distinct table version seen.
type tableRecorder struct {
	mu   sync.Mutex
	seen map[[2]uint64]api.Table
}

func (r *tableRecorder) add(t api.Table) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[[2]uint64]api.Table{}
	}
	r.seen[[2]uint64{t.Term, t.TableVersion}] = t
}

// follow long-polls one member's table until ctx ends.
func (r *tableRecorder) follow(ctx context.Context, addr string) {
	cl := procluster.NewClient(addr)
	var index uint64
	for ctx.Err() == nil {
		q := url.Values{"index": {strconv.FormatUint(index, 10)}, "wait": {"5s"}}
		var t api.Table
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := cl.GetJSON(rctx, "/partitions?"+q.Encode(), &t)
		cancel()
		if err != nil {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		index = t.Index
		if len(t.Partitions) > 0 {
			r.add(t)
		}
	}
}

// tables returns the tables seen, oldest first.
func (r *tableRecorder) tables() []api.Table {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]api.Table, 0, len(r.seen))
	for _, t := range r.seen {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b api.Table) int {
		if a.Term != b.Term {
			return cmpUint(a.Term, b.Term)
		}
		return cmpUint(a.TableVersion, b.TableVersion)
	})
	return out
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// flapResult is what one run of figure h counts.
type flapResult struct {
	// Changes: runs of table versions that moved partitions to the flaky
	// member or away from it, one direction per run.
	Changes int
	// Versions: table versions that moved any partition to or from it.
	Versions int
	// BackAndForth: partitions whose owners went X, Y, X with the flaky
	// member as X or Y.
	BackAndForth int
	// Moves: owner changes of any partition (to a new live owner).
	Moves int
	// LeaderChanges: changes of the leader's name across the tables (a
	// member answering while it knows no leader does not count).
	LeaderChanges int
	// Elections: new terms across the tables (a leader re-elected after it
	// lost its lease counts, although the leader stays the same).
	Elections int
	// FinalShare: partitions the flaky member owns in the last table.
	FinalShare int
}

// analyseFlap counts what the flaky member caused over tables, oldest
// first (the first is the state before the fault).
func analyseFlap(tables []api.Table, flaky string) flapResult {
	var r flapResult
	if len(tables) == 0 {
		return r
	}
	// lastOwners is, per partition, its owners in order, without repeats
	// and without the gaps when nobody owned it.
	var owners [][]string
	dir := 0 // +1: moving to the flaky member, -1: away, 0: none yet
	prev := tables[0]
	for _, e := range prev.Partitions {
		owners = append(owners, ownerTrail(nil, e.Owner))
	}
	leader := prev.Leader
	for _, t := range tables[1:] {
		if t.Leader != "" && leader != "" && t.Leader != leader {
			r.LeaderChanges++
		}
		if t.Leader != "" {
			leader = t.Leader
		}
		if t.Term > prev.Term {
			r.Elections++
		}
		gained, lost := false, false
		for p, e := range t.Partitions {
			if p >= len(prev.Partitions) || p >= len(owners) {
				break
			}
			was := prev.Partitions[p].Owner
			switch {
			case e.Owner == flaky && was != flaky:
				gained = true
			case was == flaky && e.Owner != flaky:
				lost = true
			}
			if n := len(owners[p]); e.Owner != "" && (n == 0 || owners[p][n-1] != e.Owner) {
				if n > 0 {
					r.Moves++
				}
				owners[p] = append(owners[p], e.Owner)
			}
		}
		if gained || lost {
			r.Versions++
		}
		// A version that both gives and takes counts in both directions.
		for _, step := range []struct {
			happened bool
			d        int
		}{{lost, -1}, {gained, +1}} {
			if step.happened && dir != step.d {
				r.Changes++
				dir = step.d
			}
		}
		prev = t
	}
	for _, trail := range owners {
		if backAndForth(trail, flaky) {
			r.BackAndForth++
		}
	}
	for _, e := range prev.Partitions {
		if e.Owner == flaky {
			r.FinalShare++
		}
	}
	return r
}

func ownerTrail(trail []string, owner string) []string {
	if owner == "" {
		return trail
	}
	return append(trail, owner)
}

// backAndForth reports whether trail has X, Y, X in a row with flaky as X
// or Y.
func backAndForth(trail []string, flaky string) bool {
	for i := 2; i < len(trail); i++ {
		if trail[i] == trail[i-2] && (trail[i] == flaky || trail[i-1] == flaky) {
			return true
		}
	}
	return false
}
