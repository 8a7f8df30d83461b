package core_test

// TestScenarios replays the interaction scripts in testdata/scenarios against
// real cores (core.Core) on one virtual clock, and compares what every step
// printed with the output recorded in the file. The scripts decide
// everything: when time passes, which member hands out its Ready, which
// message is delivered or dropped, what gossip says. Nothing is random, so
// the recorded output is the behaviour, and any change to it shows in the
// diff. testdata/README.md describes the commands and the output format;
// regenerate the files with
//
//	go test ./daemon/core/ -run TestScenarios -rewrite
//
// and read the diff before committing it.

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/ownercheck"
	"github.com/ringd/ringd/partitions"
	"github.com/ringd/ringd/rebalance"
)

// scenarioTimings are the options every scenario member starts from. The
// recorded outputs depend on each of them, so they live here rather than in a
// shared test configuration: changing one is a behaviour change the files
// must show. Round numbers keep the arithmetic in the files easy: the lease
// surely ran out Lease*(1+Drift)+SafetyMargin = 2.3s after a member's last
// renewal, and a new leader waits LeaderLease*(1+Drift) + 2.3s = 2.85s
// before it grants what an older leader may have renewed.
var scenarioTimings = core.Options{
	Load:              rebalance.DefaultLoad,
	HeartbeatInterval: 100 * time.Millisecond,
	LeaderTimeout:     500 * time.Millisecond,
	ElectionTimeout:   200 * time.Millisecond,
	LeaderLease:       500 * time.Millisecond,
	Lease:             2 * time.Second,
	Drift:             0.1,
	SafetyMargin:      100 * time.Millisecond,
	Settle:            300 * time.Millisecond,
	ReleaseTimeout:    time.Second,
	DeadVoterTimeout:  2 * time.Second,
	DeadMemberTimeout: 10 * time.Second,
}

const (
	// scenarioStep is how far tick and run move the clock by default: the
	// daemon ticks the core about this often.
	scenarioStep = 100 * time.Millisecond
	// scenarioPartitions is the partition count unless members says
	// otherwise.
	scenarioPartitions = 8
	// scenarioMaxRounds bounds stabilize: ready and deliver rounds until
	// nobody has anything to send. A protocol that keeps talking without
	// time passing is a bug the scenario reports.
	scenarioMaxRounds = 50
	// scenarioIndexSpan separates the view indexes of a member's
	// incarnations (Options.FirstIndex), as the daemon's wall-clock
	// microseconds do.
	scenarioIndexSpan = 1000
)

func TestScenarios(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "scenarios"), func(t *testing.T, path string) {
		s := newScenario(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return s.exec(t, d)
		})
	})
}

// scenario is one script's world: its members, the messages in flight, the
// links cut, and the ownership checker that watches what every member's
// application may work on after every command.
type scenario struct {
	t          *testing.T
	start, now time.Time
	partitions int
	load       float64
	expect     int
	members    map[string]*scenarioMember
	inflight   []core.Outgoing
	cut        map[route]bool
	checker    *ownercheck.Checker
	violations int
	// out collects the current command's output.
	out strings.Builder
}

// route is a one-way link between two members.
type route struct{ from, to string }

// scenarioMember is one member: its current process and what its host
// keeps.
type scenarioMember struct {
	name string
	opt  core.Options
	core *core.Core
	// disk is the Durable the host last stored (Advance); a restart with
	// its disk hands it back.
	disk core.Durable
	// hasTable is the last Ready.HasTable, which gossip announces.
	hasTable bool
	crashed  bool
	// shown is what the current process last showed the app.
	shown []partitions.Holding
	// orphaned is what earlier processes showed the app: a real app
	// outlives its sidecar and works on until each grant's deadline.
	orphaned []partitions.Holding
	// summary is the state run last printed for this member.
	summary memberSummary
}

// memberSummary is what run reports when it changes.
type memberSummary struct {
	status, table, lease, holdings string
}

func newScenario(t *testing.T) *scenario {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return &scenario{t: t, start: start, now: start, members: map[string]*scenarioMember{},
		cut: map[route]bool{}}
}

// exec runs one command and returns what it printed.
func (s *scenario) exec(t *testing.T, d *datadriven.TestData) string {
	s.t = t
	s.out.Reset()
	if err := s.dispatch(d); err != nil {
		t.Fatalf("%s: %s: %v", d.Pos, d.Cmd, err)
	}
	s.observe()
	out := s.out.String()
	if out == "" {
		return "ok\n"
	}
	return out
}

func (s *scenario) dispatch(d *datadriven.TestData) error {
	args := d.CmdArgs
	switch d.Cmd {
	case "members":
		return s.addMembers(d)
	case "gossip":
		return s.gossip(d)
	case "tick":
		return s.tick(d)
	case "ready":
		return s.forEach(args, false, func(m *scenarioMember) { s.ready(m, true, "") })
	case "deliver":
		return s.deliver(d)
	case "stabilize":
		return s.stabilize(true, "")
	case "run":
		return s.runFor(d)
	case "view":
		return s.forEach(args, true, s.printView)
	case "table":
		return s.forEach(args, true, s.printTable)
	case "app-ack":
		return s.forEach(args, false, func(m *scenarioMember) {
			index := m.core.View(s.now).Index
			m.core.AppAck(s.now, index)
			s.printf("%s: app acknowledged index %d\n", m.name, index)
		})
	case "release":
		return s.release(d)
	case "transfer":
		return s.transfer(args)
	case "drain":
		return s.forEach(args, false, func(m *scenarioMember) { m.core.SetDraining(true) })
	case "leave":
		return s.forEach(args, false, func(m *scenarioMember) { m.core.SetLeaving() })
	case "crash":
		return s.forEach(args, false, s.crash)
	case "restart":
		return s.restart(d)
	case "cut":
		return s.setCut(args)
	case "history":
		return s.history(d)
	case "heal":
		s.cut = map[route]bool{}
		return nil
	}
	return fmt.Errorf("unknown command")
}

func (s *scenario) printf(format string, args ...any) { fmt.Fprintf(&s.out, format, args...) }

// since renders an instant as the time since the scenario started.
func (s *scenario) since(at time.Time) string { return at.Sub(s.start).String() }

// names returns the members in name order.
func (s *scenario) names() []string {
	names := make([]string, 0, len(s.members))
	for name := range s.members {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// selected returns the members named by the arguments without values, other
// than the command's words, or every live member when none is named. Naming
// a crashed member is a script error unless downOK.
func (s *scenario) selected(args []datadriven.CmdArg, downOK bool, words ...string) ([]*scenarioMember, error) {
	var out []*scenarioMember
	for _, a := range args {
		if len(a.Vals) > 0 || slices.Contains(words, a.Key) {
			continue
		}
		m := s.members[a.Key]
		switch {
		case m == nil:
			return nil, fmt.Errorf("no member %q", a.Key)
		case m.crashed && !downOK:
			return nil, fmt.Errorf("%s is down", a.Key)
		}
		out = append(out, m)
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, name := range s.names() {
		if m := s.members[name]; !m.crashed {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *scenario) forEach(args []datadriven.CmdArg, downOK bool, do func(m *scenarioMember)) error {
	ms, err := s.selected(args, downOK)
	if err != nil {
		return err
	}
	for _, m := range ms {
		do(m)
	}
	return nil
}

// members a b c [partitions=N] [load=F] [voters=N]: create members. The
// first use fixes the cluster's shape (partitions, load); every member of
// that first use bootstraps together (BootstrapExpect is their number).
// Later uses add members that join the cluster.
func (s *scenario) addMembers(d *datadriven.TestData) error {
	first := len(s.members) == 0
	if first {
		s.partitions, s.load = scenarioPartitions, scenarioTimings.Load
		d.MaybeScanArgs(s.t, "partitions", &s.partitions)
		d.MaybeScanArgs(s.t, "load", &s.load)
		s.checker = ownercheck.New(s.partitions)
	}
	voters := 0
	d.MaybeScanArgs(s.t, "voters", &voters)
	var added []string
	for _, a := range d.CmdArgs {
		if len(a.Vals) > 0 {
			continue
		}
		if s.members[a.Key] != nil {
			return fmt.Errorf("member %q exists", a.Key)
		}
		added = append(added, a.Key)
	}
	if first {
		s.expect = len(added)
	}
	for _, name := range added {
		opt := scenarioTimings
		opt.Self, opt.Incarnation, opt.Identity = name, 1, 1
		opt.FirstIndex = scenarioIndexSpan
		opt.Partitions, opt.Load, opt.BootstrapExpect, opt.Voters = s.partitions, s.load, s.expect, voters
		m := &scenarioMember{name: name, opt: opt, core: core.New(opt, core.Durable{})}
		s.members[name] = m
		s.printf("%s: started incarnation 1, identity 1\n", name)
	}
	return nil
}

// gossip [observers...] [dead=(x, y)]: tell the observers (default: every
// live member) who is alive, as memberlist would: every member not crashed,
// except those listed dead. Draining, leaving and HasTable are what each
// member announces now.
func (s *scenario) gossip(d *datadriven.TestData) error {
	var dead []string
	d.MaybeScanArgs(s.t, "dead", &dead)
	observers, err := s.selected(d.CmdArgs, false)
	if err != nil {
		return err
	}
	var infos []core.MemberInfo
	var shown []string
	for _, name := range s.names() {
		m := s.members[name]
		info := core.MemberInfo{Name: name, Incarnation: m.opt.Incarnation, Identity: m.opt.Identity,
			Priority: m.opt.Priority, Alive: !m.crashed && !slices.Contains(dead, name),
			Draining: m.core.Draining(), Leaving: m.core.Leaving(), HasTable: m.hasTable}
		infos = append(infos, info)
		var l labels
		l.add(!info.Alive, "dead")
		l.add(info.Draining, "draining")
		l.add(info.Leaving, "leaving")
		l.add(info.HasTable, "has-table")
		shown = append(shown, fmt.Sprintf("%s/%d%s", name, info.Incarnation, l))
	}
	var to []string
	for _, m := range observers {
		m.core.SetMembers(s.now, infos)
		to = append(to, m.name)
	}
	s.printf("%s see: %s\n", strings.Join(to, " "), strings.Join(shown, " "))
	return nil
}

// labels collects the names of the conditions that hold, for output such as
// "c/1(dead,draining)".
type labels []string

func (l *labels) add(cond bool, name string) {
	if cond {
		*l = append(*l, name)
	}
}

// String renders the names as "(a,b)", or "" when there are none.
func (l labels) String() string {
	if len(l) == 0 {
		return ""
	}
	return "(" + strings.Join(l, ",") + ")"
}

// tick [d=100ms] [members...]: move the clock and tick the members (default:
// every live member).
func (s *scenario) tick(d *datadriven.TestData) error {
	step := scenarioStep
	d.MaybeScanArgs(s.t, "d", &step)
	s.now = s.now.Add(step)
	ms, err := s.selected(d.CmdArgs, false)
	if err != nil {
		return err
	}
	for _, m := range ms {
		m.core.Tick(s.now)
	}
	s.printf("now %s\n", s.since(s.now))
	return nil
}

// ready does what the host does with one Ready: store Durable, queue the
// messages, record the events, announce HasTable (here: remember it for
// gossip), Advance. With verbose it prints all of it, each line after
// prefix; otherwise everything but the messages.
func (s *scenario) ready(m *scenarioMember, verbose bool, prefix string) bool {
	r := m.core.Ready()
	if r.Durable != nil {
		m.disk = *r.Durable
		s.printf("%s%s: stored %s\n", prefix, m.name, s.formatDurable(*r.Durable))
	}
	for _, o := range r.Messages {
		if verbose {
			s.printf("%s%s\n", prefix, s.formatOutgoing(o))
		}
		s.inflight = append(s.inflight, o)
	}
	for _, e := range r.Events {
		s.printf("%s%s: event %s\n", prefix, m.name, s.formatEvent(e))
	}
	if r.HasTable != m.hasTable {
		m.hasTable = r.HasTable
		s.printf("%s%s: has-table=%v\n", prefix, m.name, r.HasTable)
	}
	m.core.Advance(r)
	return !r.Empty()
}

// deliver [from->to ...] [drop]: deliver (or drop) the messages in flight on
// the links given (default: all), in the order they were sent. A * stands
// for any member. Messages to a crashed member or over a cut link are
// dropped and printed; delivered ones are only counted (ready printed them).
func (s *scenario) deliver(d *datadriven.TestData) error {
	var links []route
	for _, a := range d.CmdArgs {
		from, to, ok := strings.Cut(a.Key, "->")
		switch {
		case ok:
			links = append(links, route{from, to})
		case a.Key != "drop":
			return fmt.Errorf("want FROM->TO or drop, got %q", a.Key)
		}
	}
	drop := d.HasArg("drop")
	match := func(o core.Outgoing) bool {
		if len(links) == 0 {
			return true
		}
		return slices.ContainsFunc(links, func(l route) bool {
			return (l.from == "*" || l.from == o.Env.From) && (l.to == "*" || l.to == o.To)
		})
	}
	var chosen, kept []core.Outgoing
	for _, o := range s.inflight {
		if match(o) {
			chosen = append(chosen, o)
		} else {
			kept = append(kept, o)
		}
	}
	s.inflight = kept
	delivered := 0
	for _, o := range chosen {
		switch why := s.lost(o); {
		case drop:
			s.printf("dropped %s\n", s.formatOutgoing(o))
		case why != "":
			s.printf("dropped (%s) %s\n", why, s.formatOutgoing(o))
		default:
			s.members[o.To].core.Step(s.now, o.Env)
			delivered++
		}
	}
	s.printf("delivered %d, %d still in flight\n", delivered, len(s.inflight))
	return nil
}

// lost says why a message cannot arrive, or "".
func (s *scenario) lost(o core.Outgoing) string {
	to := s.members[o.To]
	switch {
	case to == nil:
		return "unknown member"
	case to.crashed:
		return o.To + " is down"
	case s.cut[route{o.Env.From, o.To}]:
		return "link cut"
	}
	return ""
}

// stabilize: rounds of ready (every live member) and delivery of everything
// in flight, until a round has nothing to do. Messages lost on the way (cut
// links, crashed members) are dropped silently here.
func (s *scenario) stabilize(verbose bool, prefix string) error {
	for range scenarioMaxRounds {
		busy := false
		for _, name := range s.names() {
			if m := s.members[name]; !m.crashed && s.ready(m, verbose, prefix) {
				busy = true
			}
		}
		if !busy && len(s.inflight) == 0 {
			return nil
		}
		sent := s.inflight
		s.inflight = nil
		for _, o := range sent {
			if s.lost(o) == "" {
				s.members[o.To].core.Step(s.now, o.Env)
			}
		}
	}
	return fmt.Errorf("still busy after %d rounds", scenarioMaxRounds)
}

// run [d=1s] [step=100ms]: let time pass as the daemon would: every step,
// tick every live member and stabilize. Prints, with the time, the events,
// the Durable writes, and every change of a member's role, table, lease and
// what its app may work on; not the messages.
func (s *scenario) runFor(d *datadriven.TestData) error {
	length, step := time.Second, scenarioStep
	d.MaybeScanArgs(s.t, "d", &length)
	d.MaybeScanArgs(s.t, "step", &step)
	for _, m := range s.members {
		m.summary = s.summarize(m)
	}
	for end := s.now.Add(length); s.now.Before(end); {
		s.now = s.now.Add(step)
		prefix := s.since(s.now) + " "
		for _, name := range s.names() {
			if m := s.members[name]; !m.crashed {
				m.core.Tick(s.now)
			}
		}
		if err := s.stabilize(false, prefix); err != nil {
			return err
		}
		for _, name := range s.names() {
			s.printChanges(s.members[name], prefix)
		}
		s.observe()
	}
	return nil
}

func (s *scenario) summarize(m *scenarioMember) memberSummary {
	if m.crashed {
		return memberSummary{status: "down"}
	}
	v := m.core.View(s.now)
	lease := "lapsed"
	if s.now.Before(v.LeaseUntil) {
		lease = "valid"
	}
	return memberSummary{status: s.formatStatus(v), table: v.Table.ID.String(), lease: lease,
		holdings: s.formatVisible(v.Holdings, v.LeaseUntil)}
}

// printChanges prints what changed in m's summary since run last printed it.
func (s *scenario) printChanges(m *scenarioMember, prefix string) {
	now := s.summarize(m)
	was := m.summary
	m.summary = now
	if now.status != was.status {
		s.printf("%s%s: %s\n", prefix, m.name, now.status)
	}
	if now.table != was.table {
		s.printf("%s%s: applied table %s\n", prefix, m.name, now.table)
	}
	if now.lease != was.lease && !m.crashed {
		s.printf("%s%s: lease %s\n", prefix, m.name, now.lease)
	}
	if now.holdings != was.holdings && !m.crashed {
		s.printf("%s%s: app may work on %s\n", prefix, m.name, now.holdings)
	}
}

// printView prints a member's View: role, term and leader, view index,
// lease, what the app may work on, and every member as this one sees it.
func (s *scenario) printView(m *scenarioMember) {
	if m.crashed {
		s.printf("%s: down; its app may work on %s\n", m.name, s.formatVisible(m.orphaned, time.Time{}))
		return
	}
	defer func() {
		if len(m.orphaned) > 0 {
			s.printf("  app may still work on, from an earlier process: %s\n", s.formatVisible(m.orphaned, time.Time{}))
		}
	}()
	v := m.core.View(s.now)
	draining := ""
	if v.Draining {
		draining = " draining"
	}
	s.printf("%s/%d: %s index=%d lease-until=%s table=%s%s\n", m.name, v.Incarnation, s.formatStatus(v),
		v.Index, s.since(v.LeaseUntil), v.Table.ID, draining)
	s.printf("  app may work on %s\n", s.formatVisible(v.Holdings, v.LeaseUntil))
	var ring []string
	for _, mv := range v.Members {
		l := labels{"new"}
		switch {
		case mv.Voter:
			l[0] = "voter"
		case mv.InConfig:
			l[0] = "member"
		}
		l.add(!mv.Alive, "dead")
		l.add(mv.Draining, "draining")
		ring = append(ring, fmt.Sprintf("%s/%d%s", mv.Name, mv.Incarnation, l))
	}
	s.printf("  ring: %s\n", strings.Join(ring, " "))
	if v.Draining {
		pending := v.LeavePending()
		if pending == "" {
			pending = "nothing"
		}
		s.printf("  leave waits for: %s\n", pending)
	}
}

// printTable prints a member's newest applied table, one partition a line.
func (s *scenario) printTable(m *scenarioMember) {
	if m.crashed {
		s.printf("%s: down\n", m.name)
		return
	}
	t := m.core.View(s.now).Table
	s.printf("%s: %s\n", m.name, s.formatTableHeader(t))
	for p, e := range t.Partitions {
		s.printf("  %s\n", s.formatEntry(p, e))
	}
}

// release a p=N [token=T]: the app releases a partition (token 0: any).
func (s *scenario) release(d *datadriven.TestData) error {
	ms, err := s.selected(d.CmdArgs, false)
	if err != nil {
		return err
	}
	var p int
	var token uint64
	d.ScanArgs(s.t, "p", &p)
	d.MaybeScanArgs(s.t, "token", &token)
	for _, m := range ms {
		if err := m.core.Release(s.now, p, token); err != nil {
			s.printf("%s: release %d: %v\n", m.name, p, err)
		}
	}
	return nil
}

// transfer from->to: an operator asks member from to hand leadership to to.
func (s *scenario) transfer(args []datadriven.CmdArg) error {
	for _, a := range args {
		from, to, ok := strings.Cut(a.Key, "->")
		if !ok || s.members[from] == nil {
			return fmt.Errorf("want transfer FROM->TO with a known FROM, got %q", a.Key)
		}
		if err := s.members[from].core.Transfer(s.now, to); err != nil {
			s.printf("%s: transfer to %s: %v\n", from, to, err)
		}
	}
	return nil
}

// crash stops a member's process: what it has not handed out in a Ready is
// lost, its disk stays.
func (s *scenario) crash(m *scenarioMember) {
	m.crashed = true
	m.orphaned, m.shown = append(m.orphaned, m.shown...), nil
	s.printf("%s: crashed; its app may work on %s\n", m.name, s.formatVisible(m.orphaned, time.Time{}))
}

// restart a [diskless]: start a new process (incarnation) of a member, with
// the Durable its host stored, or without it: then it is a new voter
// identity (the daemon uses the incarnation).
func (s *scenario) restart(d *datadriven.TestData) error {
	ms, err := s.selected(d.CmdArgs, true, "diskless")
	if err != nil {
		return err
	}
	diskless := d.HasArg("diskless")
	for _, m := range ms {
		if !m.crashed {
			return fmt.Errorf("%s is running", m.name)
		}
		m.opt.Incarnation++
		m.opt.FirstIndex = m.opt.Incarnation * scenarioIndexSpan
		kept := m.disk
		if diskless {
			m.opt.Identity = m.opt.Incarnation
			kept, m.disk = core.Durable{}, core.Durable{}
		}
		m.core = core.New(m.opt, kept)
		m.crashed, m.hasTable = false, false
		what := "nothing"
		if kept.Identity != 0 {
			what = s.formatDurable(kept)
		}
		s.printf("%s: started incarnation %d, identity %d, kept %s\n", m.name, m.opt.Incarnation, m.opt.Identity, what)
	}
	return nil
}

// cut a->b ...: messages on these links are lost until heal.
func (s *scenario) setCut(args []datadriven.CmdArg) error {
	for _, a := range args {
		from, to, ok := strings.Cut(a.Key, "->")
		if !ok || s.members[from] == nil || s.members[to] == nil {
			return fmt.Errorf("want FROM->TO between known members, got %q", a.Key)
		}
		s.cut[route{from, to}] = true
	}
	return nil
}

// history p=N: every stretch of time in which some member's app could work
// on partition N, as the ownership checker recorded it.
func (s *scenario) history(d *datadriven.TestData) error {
	var p int
	d.ScanArgs(s.t, "p", &p)
	for _, iv := range s.checker.Intervals(p) {
		until := "now"
		if !iv.Open() {
			until = s.since(iv.Until)
		}
		s.printf("partition %d: %s#%d from %s until %s\n", p, iv.Member, iv.Token, s.since(iv.From), until)
	}
	return nil
}

// observe feeds the ownership checker what every member's app may work on
// now, and reports any breach of the promise (the test fails).
func (s *scenario) observe() {
	if s.checker == nil {
		return
	}
	for _, name := range s.names() {
		m := s.members[name]
		if !m.crashed {
			m.shown = m.core.View(s.now).Holdings
		}
		m.orphaned = slices.DeleteFunc(m.orphaned, func(h partitions.Holding) bool { return !s.now.Before(h.Until) })
		s.checker.Observe(s.now, name, slices.Concat(m.orphaned, m.shown))
	}
	vs := s.checker.Violations()
	for _, v := range vs[s.violations:] {
		s.printf("VIOLATION %s\n", v)
		s.t.Errorf("ownership violation: %s", v)
	}
	s.violations = len(vs)
}

// formatVisible renders what an app may work on: partition#token, with the
// deadline when it differs from the lease's end (releasing grants, or any
// grant when leaseUntil is zero).
func (s *scenario) formatVisible(hs []partitions.Holding, leaseUntil time.Time) string {
	if len(hs) == 0 {
		return "nothing"
	}
	var parts []string
	for _, h := range hs {
		var extra []string
		if h.State != partitions.Owned {
			extra = append(extra, string(h.State))
		}
		if !h.Until.Equal(leaseUntil) {
			extra = append(extra, "until "+s.since(h.Until))
		}
		part := fmt.Sprintf("%d#%d", h.ID, h.Token)
		if len(extra) > 0 {
			part += "(" + strings.Join(extra, " ") + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, " ")
}

func (s *scenario) formatStatus(v core.View) string {
	leader := v.Leader
	if leader == "" {
		leader = "none"
	}
	return fmt.Sprintf("%s term=%d leader=%s", v.Role, v.Term, leader)
}

func (s *scenario) formatDurable(d core.Durable) string {
	vote := d.Election.VotedFor
	if vote == "" {
		vote = "none"
	}
	out := fmt.Sprintf("term=%d vote=%s identity=%d", d.Election.Term, vote, d.Identity)
	if !d.Config.Empty() {
		out += fmt.Sprintf(" config=%s voters=%v", d.Config.Table, d.Config.Voters)
		if len(d.Config.PrevVoters) > 0 {
			out += fmt.Sprintf(" prev=%v", d.Config.PrevVoters)
		}
	}
	return out
}

func (s *scenario) formatEvent(e core.Event) string {
	out := string(e.Kind)
	switch e.Kind {
	case core.EventGranted, core.EventMoveStarted, core.EventMoveFinished:
		out += fmt.Sprintf(" p=%d", e.Partition)
	}
	if e.From != "" {
		out += " from=" + e.From
	}
	if e.To != "" {
		out += " to=" + e.To
	}
	if e.Token != 0 {
		out += fmt.Sprintf(" token=%d", e.Token)
	}
	if e.Took != 0 {
		out += " took=" + e.Took.String()
	}
	if len(e.Members) > 0 {
		out += fmt.Sprintf(" members=%v", e.Members)
	}
	return out
}

// formatOutgoing renders a message on one line: from->to, the election
// message with its term, then the fields the core adds.
func (s *scenario) formatOutgoing(o core.Outgoing) string {
	e := o.Env
	parts := []string{e.From + "->" + o.To}
	if m := e.Election; m != nil {
		parts = append(parts, fmt.Sprintf("%s term=%d", m.Type, m.Term))
		if m.Seq != 0 {
			parts = append(parts, fmt.Sprintf("seq=%d", m.Seq))
		}
		if m.LastTable != (partitions.TableID{}) {
			parts = append(parts, "last-table="+m.LastTable.String())
		}
		switch m.Type {
		case election.MsgVoteResponse, election.MsgPreVoteResponse:
			parts = append(parts, map[bool]string{true: "granted", false: "refused"}[m.Granted])
		}
		if m.Preempt {
			parts = append(parts, "preempt")
		}
		if m.Transfer {
			parts = append(parts, "transfer")
		}
	}
	if e.Renewed != 0 {
		parts = append(parts, fmt.Sprintf("renewed=%d", e.Renewed))
	}
	if e.KnownIncarnation != 0 || e.KnownHoldings != 0 {
		parts = append(parts, fmt.Sprintf("known=%d/%d", e.KnownIncarnation, e.KnownHoldings))
	}
	if e.TableID != (partitions.TableID{}) {
		parts = append(parts, "table="+e.TableID.String())
	}
	if e.AckSeq != 0 {
		parts = append(parts, fmt.Sprintf("ack=%d holdings-seq=%d", e.AckSeq, e.HoldingsSeq))
	}
	if e.WantTable {
		parts = append(parts, "want-table")
	}
	if e.TransferTo != "" {
		parts = append(parts, "transfer-to="+e.TransferTo)
	}
	if t := e.Table; t != nil {
		entries := make([]string, len(t.Partitions))
		for p, en := range t.Partitions {
			entries[p] = s.formatEntry(p, en)
		}
		parts = append(parts, s.formatTableHeader(*t), "["+strings.Join(entries, " ")+"]")
	}
	if r := e.Holdings; r != nil {
		items := make([]string, len(r.Items))
		for i, h := range r.Items {
			items[i] = fmt.Sprintf("%d#%d", h.ID, h.Token)
			if h.State != partitions.Owned {
				items[i] += "(" + string(h.State) + ")"
			}
		}
		parts = append(parts, fmt.Sprintf("report inc=%d seq=%d applied=%s [%s]",
			r.Incarnation, r.Seq, r.Applied, strings.Join(items, " ")))
	}
	if o.Reliable {
		parts = append(parts, "(reliable)")
	}
	return strings.Join(parts, " ")
}

func (s *scenario) formatTableHeader(t partitions.Table) string {
	out := fmt.Sprintf("table %s leader=%s members=%v voters=%v", t.ID, t.Leader, t.Members, t.Voters)
	if len(t.PrevVoters) > 0 {
		out += fmt.Sprintf(" prev=%v", t.PrevVoters)
	}
	return out
}

// formatEntry renders a table entry as partition=owner/incarnation#token,
// with the state when it is not owned; "partition=-" when unassigned.
func (s *scenario) formatEntry(p int, e partitions.Entry) string {
	if e.Owner == "" {
		return fmt.Sprintf("%d=-", p)
	}
	out := fmt.Sprintf("%d=%s/%d#%d", p, e.Owner, e.Incarnation, e.Token)
	if e.State != partitions.Owned {
		out += "(" + string(e.State) + ")"
	}
	return out
}
