package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringd/ringd/internal/procluster"
)

func init() {
	register(Figure{ID: "g", Title: "Footprint: idle CPU, memory and binary size", Run: runFootprint})
}

// The figure's setup and goals (issue 11).
const (
	footprintMembers    = 5
	footprintPartitions = 1024
	// idleCPUGoal is the goal for every member, in percent of one core.
	idleCPUGoal = 1.0
	// rssGoalMiB is the goal for every member's resident memory.
	rssGoalMiB = 25.0
	// footprintSettleHold is how long the assignment must stay the same
	// before the cluster counts as idle; footprintSettleTimeout bounds the
	// wait for that (default timings: a first assignment takes a few
	// seconds, moves toward balance a few more).
	footprintSettleHold    = 3 * time.Second
	footprintSettleTimeout = 2 * time.Minute
	// footprintQuiet separates the last poll of the harness from the start
	// of the window, so that the HTTP answers of the settle wait are not
	// counted as idle work.
	footprintQuiet = 2 * time.Second
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports (the kernel fixes it for
// user space whatever its internal HZ), so no sysconf is needed.
const clockTicks = 100

// memberFootprint is one member's idle figures in one trial.
type memberFootprint struct {
	name   string
	leader bool
	// cpu is the percentage of one core used over the window.
	cpu    float64
	rssKiB uint64
	hwmKiB uint64
}

func runFootprint(ctx context.Context, env *Env) (Section, error) {
	window := 30 * time.Second
	if env.Quick {
		window = 10 * time.Second
	}
	trials := env.Trials(3, 1)
	base, err := env.BaselineRingd(ctx)
	if err != nil {
		return Section{}, fmt.Errorf("baseline ringd: %w", err)
	}
	binaries := []struct{ label, path string }{{"ringd", env.Ringd}, {"baseline", base}}
	results := map[string][]memberFootprint{}
	for trial := 1; trial <= trials; trial++ {
		// Alternate the order, so that neither binary always runs second
		// on a machine whose load drifts.
		order := slices.Clone(binaries)
		if trial%2 == 0 {
			slices.Reverse(order)
		}
		for _, b := range order {
			ms, err := measureIdleCluster(ctx, env, b.path, filepath.Join(env.Dir, fmt.Sprintf("%s-%d", b.label, trial)), window)
			if err != nil {
				return Section{}, fmt.Errorf("%s, trial %d: %w", b.label, trial, err)
			}
			for _, m := range ms {
				env.Log.Info("idle member", "binary", b.label, "trial", trial, "member", m.name, "leader", m.leader,
					"cpu_pct", fmt.Sprintf("%.2f", m.cpu), "rss_mib", fmt.Sprintf("%.1f", kib2mib(m.rssKiB)),
					"hwm_mib", fmt.Sprintf("%.1f", kib2mib(m.hwmKiB)))
			}
			results[b.label] = append(results[b.label], ms...)
		}
	}

	cur, old := results["ringd"], results["baseline"]
	sec := Section{
		Title:   "g. Footprint: idle CPU, memory, binary size",
		Command: "go run ./cmd/ringbench --figures g",
		Setup: fmt.Sprintf("%d real ringd processes on 127.0.0.1 (procluster), P = %d, default timings (LAN gossip profile, 200 ms heartbeats), "+
			"no application and no API traffic. Once every member agreed on the leader and the assignment stayed the same for %v, the harness "+
			"stopped polling, waited %v, and read each member's /proc/<pid>/stat (utime + stime, in 10 ms ticks) at the start and the end of a "+
			"%v window, and VmRSS / VmHWM from /proc/<pid>/status at its end. %d trial(s), each a fresh cluster of this ringd and one of the "+
			"baseline (main at %s), run one after the other. CPU is in percent of one core.",
			footprintMembers, footprintPartitions, footprintSettleHold, footprintQuiet, window, trials, env.baseline.ref),
	}

	cpu := Table{Header: []string{"idle CPU, % of one core (min / median / max)", "this ringd", "baseline", "goal"}}
	curF, curL := splitLeader(cur)
	oldF, oldL := splitLeader(old)
	cpu.AddRow("followers (4 per trial)", cpuDist(curF).Format("%.2f", "%"), cpuDist(oldF).Format("%.2f", "%"), fmt.Sprintf("≤ %.0f %%", idleCPUGoal))
	cpu.AddRow("leader (1 per trial)", cpuDist(curL).Format("%.2f", "%"), cpuDist(oldL).Format("%.2f", "%"), fmt.Sprintf("≤ %.0f %%", idleCPUGoal))
	cpu.AddRow("whole cluster (sum of 5)", Summarize(clusterSums(cur)).Format("%.2f", "%"), Summarize(clusterSums(old)).Format("%.2f", "%"), "")

	mem := Table{Header: []string{"memory, MiB (min / median / max over members)", "this ringd", "baseline", "goal"}}
	mem.AddRow("VmRSS at the end of the window", memDist(cur, false).Format("%.1f", "MiB"), memDist(old, false).Format("%.1f", "MiB"), fmt.Sprintf("≤ %.0f MiB", rssGoalMiB))
	mem.AddRow("VmHWM (peak RSS since start)", memDist(cur, true).Format("%.1f", "MiB"), memDist(old, true).Format("%.1f", "MiB"), "")

	size := Table{Header: []string{"binary", "size as built", "without symbols and DWARF"}}
	for _, b := range binaries {
		total, stripped, err := binarySize(b.path)
		if err != nil {
			return Section{}, fmt.Errorf("size of %s: %w", b.path, err)
		}
		size.AddRow(b.label, mib(total), mib(stripped))
	}
	sec.Tables = []Table{cpu, mem, size}

	sec.Notes = append(sec.Notes, footprintVerdict(cur, window))
	if len(old) > 0 {
		sec.Notes = append(sec.Notes, fmt.Sprintf("Before/after in this run: the whole 5-member cluster used a median %.2f %% of one core idle with the baseline and %.2f %% with this ringd.",
			Summarize(clusterSums(old)).Median, Summarize(clusterSums(cur)).Median))
	}
	sec.Notes = append(sec.Notes, footprintFixes...)
	return sec, nil
}

// measureIdleCluster starts a cluster of bin, waits until it is settled,
// and measures every member over window.
func measureIdleCluster(ctx context.Context, env *Env, bin, dir string, window time.Duration) ([]memberFootprint, error) {
	c, err := procluster.Start(ctx, procluster.Options{Binary: bin, Members: footprintMembers, Partitions: footprintPartitions, Dir: dir})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	start := time.Now()
	snap, _, err := c.WaitSettled(ctx, nil, footprintSettleHold, footprintSettleTimeout)
	if err != nil {
		return nil, fmt.Errorf("cluster did not settle: %w", err)
	}
	leader := procluster.Leader(snap)
	env.Log.Info("cluster settled", "binary", filepath.Base(bin), "after", time.Since(start).Round(100*time.Millisecond), "leader", leader)
	if err := pause(ctx, footprintQuiet); err != nil {
		return nil, err
	}

	members := c.Members()
	before := make([]procCPU, len(members))
	pids := make([]int, len(members))
	for i, m := range members {
		pids[i] = m.PID()
		if before[i], err = readProcCPU(pids[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	if err := pause(ctx, window); err != nil {
		return nil, err
	}
	out := make([]memberFootprint, len(members))
	for i, m := range members {
		if m.PID() != pids[i] {
			return nil, fmt.Errorf("%s restarted during the window; see %s", m.Name, m.LogPath)
		}
		after, err := readProcCPU(pids[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		rss, hwm, err := readProcMemory(pids[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		out[i] = memberFootprint{name: m.Name, leader: m.Name == leader, cpu: cpuPercent(before[i], after),
			rssKiB: rss, hwmKiB: hwm}
	}
	// An election or a move inside the window would make it no idle
	// window at all: check that the cluster still stands as it did.
	last, _, err := c.WaitFor(ctx, nil, 5*time.Second, func(s procluster.Snapshot) error {
		return procluster.CheckAgreement(s, nil, footprintPartitions)
	})
	if err != nil {
		return nil, fmt.Errorf("cluster no longer agreed after the window: %w", err)
	}
	if l := procluster.Leader(last); l != leader {
		return nil, fmt.Errorf("the leader changed from %s to %s during the idle window; see the logs in %s", leader, l, dir)
	}
	return out, nil
}

// pause waits for d or until ctx ends. It measures a window; it does not
// wait for a condition.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// procCPU is a process's CPU time (user + system, every thread) at a moment.
type procCPU struct {
	ticks uint64
	at    time.Time
}

func readProcCPU(pid int) (procCPU, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	at := time.Now()
	if err != nil {
		return procCPU{}, err
	}
	ticks, err := parseStatCPU(b)
	return procCPU{ticks: ticks, at: at}, err
}

// parseStatCPU returns utime + stime from the text of /proc/<pid>/stat.
func parseStatCPU(b []byte) (uint64, error) {
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
	// count fields after its last ')'. utime and stime are fields 14 and 15
	// of the whole line (proc(5)), so 12th and 13th after comm.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("cannot parse /proc/<pid>/stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("cannot parse /proc/<pid>/stat: %d fields after the command name", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cannot parse /proc/<pid>/stat: %w", err)
	}
	return utime + stime, nil
}

// cpuPercent is the CPU used between two readings, in percent of one core.
func cpuPercent(before, after procCPU) float64 {
	wall := after.at.Sub(before.at).Seconds()
	if wall <= 0 || after.ticks < before.ticks {
		return 0
	}
	return float64(after.ticks-before.ticks) / clockTicks / wall * 100
}

func readProcMemory(pid int) (rssKiB, hwmKiB uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	return parseStatusMemory(b)
}

// parseStatusMemory returns VmRSS and VmHWM (kB) from /proc/<pid>/status.
func parseStatusMemory(b []byte) (rssKiB, hwmKiB uint64, err error) {
	var haveRSS, haveHWM bool
	for line := range strings.SplitSeq(string(b), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("cannot parse %q in /proc/<pid>/status", line)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("cannot parse %q in /proc/<pid>/status: %w", line, err)
		}
		if key == "VmRSS" {
			rssKiB, haveRSS = n, true
		} else {
			hwmKiB, haveHWM = n, true
		}
	}
	if !haveRSS || !haveHWM {
		return 0, 0, errors.New("no VmRSS or VmHWM in /proc/<pid>/status (a kernel thread or a zombie?)")
	}
	return rssKiB, hwmKiB, nil
}

// binarySize returns a binary's size on disk and its size without the
// symbol table and debug information, i.e. what `strip` (or
// -ldflags="-s -w") would leave, counted from its ELF sections.
func binarySize(path string) (total, stripped int64, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	f, err := elf.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return st.Size(), st.Size() - strippable(f.Sections), nil
}

// strippable sums the file bytes of the sections strip removes: symbols and
// DWARF (compressed or not).
func strippable(sections []*elf.Section) int64 {
	var n int64
	for _, s := range sections {
		if s.Type == elf.SHT_NOBITS {
			continue
		}
		switch {
		case s.Name == ".symtab", s.Name == ".strtab",
			strings.HasPrefix(s.Name, ".debug_"), strings.HasPrefix(s.Name, ".zdebug_"):
			n += int64(s.FileSize)
		}
	}
	return n
}

func splitLeader(ms []memberFootprint) (followers, leaders []memberFootprint) {
	for _, m := range ms {
		if m.leader {
			leaders = append(leaders, m)
		} else {
			followers = append(followers, m)
		}
	}
	return followers, leaders
}

func cpuDist(ms []memberFootprint) Dist {
	xs := make([]float64, len(ms))
	for i, m := range ms {
		xs[i] = m.cpu
	}
	return Summarize(xs)
}

func memDist(ms []memberFootprint, peak bool) Dist {
	xs := make([]float64, len(ms))
	for i, m := range ms {
		xs[i] = kib2mib(m.rssKiB)
		if peak {
			xs[i] = kib2mib(m.hwmKiB)
		}
	}
	return Summarize(xs)
}

// clusterSums adds the members of each trial (consecutive groups of
// footprintMembers, as measureIdleCluster returns them).
func clusterSums(ms []memberFootprint) []float64 {
	var sums []float64
	for chunk := range slices.Chunk(ms, footprintMembers) {
		s := 0.0
		for _, m := range chunk {
			s += m.cpu
		}
		sums = append(sums, s)
	}
	return sums
}

// footprintVerdict says whether every member of every trial met the goals.
func footprintVerdict(ms []memberFootprint, window time.Duration) string {
	if len(ms) == 0 {
		return "No measurements."
	}
	worstCPU, worstRSS := ms[0], ms[0]
	for _, m := range ms {
		if m.cpu > worstCPU.cpu {
			worstCPU = m
		}
		if m.rssKiB > worstRSS.rssKiB {
			worstRSS = m
		}
	}
	role := func(m memberFootprint) string {
		if m.leader {
			return "the leader"
		}
		return "a follower"
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "missed"
	}
	return fmt.Sprintf("Goal idle CPU ≤ %.0f %% of a core for every member: %s (highest: %.2f %%, %s). "+
		"Goal RSS ≤ %.0f MiB: %s (highest: %.1f MiB, %s). The CPU figures count 10 ms ticks: one tick is %.2f %% of a "+
		"core over the window, and other work on a shared machine shows up as noise of that order.",
		idleCPUGoal, verdict(worstCPU.cpu <= idleCPUGoal), worstCPU.cpu, role(worstCPU),
		rssGoalMiB, verdict(kib2mib(worstRSS.rssKiB) <= rssGoalMiB), kib2mib(worstRSS.rssKiB), role(worstRSS),
		100/clockTicks/window.Seconds())
}

func kib2mib(kib uint64) float64 { return float64(kib) / 1024 }

func mib(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }

// footprintFixes records the causes of idle CPU found by profiling idle
// members, and what each fix changed, for the report. They were measured
// once, while fixing (perf on real processes; the daemon's
// BenchmarkIdleCluster on simulated time), not by this figure.
var footprintFixes = []string{
	"Causes found by profiling idle members (`perf record -g -p <pid>` for 15-20 s on a 5-member cluster at P = 1024, " +
		"default timings, on a shared 2-core machine under heavy load, 2026-12-02; share of one core = share of the samples × the " +
		"member's CPU). Before = main at 6760ed2, after = this branch:\n\n" +
		"| where (inclusive) | leader before | leader after | follower before | follower after |\n" +
		"|---|---|---|---|---|\n" +
		"| whole process | 5.2 % | 2.8 % | 2.2 % | 1.3 % |\n" +
		"| `Daemon.publish` (after every input: `Core.View` copied the 1024-entry table, rebuilt and re-sorted the visible holdings, formatted a cluster key) | 0.65 % | 0.03 % | 0.43 % | 0.08 % |\n" +
		"| `Core.leaderTick` (every 50 ms tick) | 1.24 % | 0.84 % | - | - |\n" +
		"| of which `freeReleased` + `plan` (O(P) map lookups per tick, in daemon/core/leader.go, not changed here) | 0.96 % | 0.69 % | - | - |\n" +
		"| of which the own holdings report (`Ownership.Report`, rebuilt and sorted per tick) and `planKey` (every owner joined into a string per tick) | 0.26 % | 0 % | - | - |\n" +
		"| `runtime.sysmon` (wakes with every timer and packet) | 0.63 % | 0.48 % | 0.64 % | 0.47 % |",
	"Fixes: the view's table is copied once per applied table (`Ownership.TableCopy`), the visible holdings and the holdings report " +
		"are rebuilt only when the grants change and re-dated when the lease is renewed; the planner's cache compares its inputs instead of " +
		"building a key of every owner; publish carries its channels and member gauges over and compares cluster views field by field; " +
		"`Ownership.Tick` skips its walk when nothing is releasing. On simulated time (`go test -bench Idle ./daemon/`), one idle second of the " +
		"five loops went from 13.2 MB and 8766 allocations to 0.87 MB and 3450, one publish from 42 allocations (84 KB) to 7 (0.5 KB).",
	"Second round (Go CPU profiles of the real processes, `RINGD_CPU_PROFILE`, 5 members, P = 1024, 60-90 s idle, " +
		"2026-12-02). The leader's samples: `freeReleased` + `plan` 17 % (a map lookup per partition per tick), memberlist " +
		"compressing every packet (LZW) 9 %, GC 13 %; a follower's: the scheduler waking for the 50 ms tick 30-45 %. Fixes: the " +
		"loop ticks every half heartbeat (100 ms; timers fire up to a tick late, ~25 ms on a failover, see figure a); the leader " +
		"looks for proofs of release only after a report or ack that can prove one (`holderTracker.proofs`), looks each owner up " +
		"once per pass, and skips planning while the table is as planned and its members are the same (`settledPlan`): " +
		"`leaderTick` went from 25 % to 4 % of the leader's samples; memberlist compression is off. This figure before the " +
		"round (commit df2f935): followers 0.97 / 1.53 / 2.00 %, leader 2.33 / 3.37 / 3.43 %.",
	"Third round (`perf record -F 4000 -g` of an idle leader and follower, 30 s, and strace -c, 2026-12-02). Ringd's own code " +
		"is now under a tenth of an idle member's samples; 30-40 % are the kernel switching threads (`finish_task_switch`, and in " +
		"this virtual machine the interrupt re-enable after it), a quarter `runtime.sysmon`, which polls while anything runs. Per " +
		"second the leader made ~64 futex, ~87 nanosleep, ~82 epoll_pwait, ~17 sendto and ~24 recvfrom calls: its cost is its " +
		"wake-ups, and most come with the heartbeat rounds (4 heartbeats out, 4 acks in, each ack passing memberlist's reader, its " +
		"packet handler and ringd's loop). Measured, not guessed: ticking once per heartbeat instead of twice (with the leader's " +
		"heartbeats kept on time) made no difference that 4 runs of 30 s could see, so it was not kept; GOMAXPROCS=1 saved ~0.1 %; " +
		"GOGC=800 saved a fifth of the leader's CPU, and the garbage was mostly memberlist's 64 KiB buffer per received packet. " +
		"Fix: ringd runs memberlist over a transport of its own (daemon/nettransport.go) that reads into one buffer and hands on a " +
		"copy of the packet's size; garbage collections of an idle 5-member cluster in 42 s (GODEBUG=gctrace=1) went from 30 to 4 " +
		"on the leader and from 8 to 1 on a follower.",
	"Left: the leader's heartbeat rounds. Halving them (an experiment that let heartbeats slip to 400 ms, not a fix: leases " +
		"depend on them) brought the leader to 0.6-0.8 %; the ways to get there without fewer heartbeats are fewer goroutine " +
		"hand-offs per ack (memberlist's packet handler and handoff queue sit between the socket and ringd's loop) or heartbeats " +
		"and acks on a socket of ringd's own. Trials on this shared machine vary by ±0.2 % between runs, and a run differs from " +
		"the next by up to 0.4 % on the same binary.",
}
