package election_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/simcluster"
)

// TestScenarios runs the scripted scenarios in testdata/scenarios, in the
// datadriven format: each command is followed by "----" and what it did,
// so a change of behaviour shows in the diff of these files.
// `go test ./election/ -run TestScenarios -rewrite` writes the output anew;
// the expect commands fail the test either way. The safety checkers (one
// leader per term, one vote per term, terms never go back) watch every
// scenario.
//
// A command's output lists, stamped with the virtual time since the start,
// every election message sent (heartbeats and their acks, sent every
// interval, are left out) and every change of a running member's role,
// term, leader or vote; "ok" when there was none.
//
//	seed N                          network seed (default 1)
//	voters a:2 b:1 c                members and priorities (default 0); all vote
//	preempt on|off                  (default on; before voters)
//	delay LO HI                     default message delay range
//	run D                           run for duration D
//	wait leader X [among A,B] within D
//	                                run until X is the stable leader (of the group)
//	expect leader X [among A,B]     X is the stable leader now
//	expect no-leader A,B            none of them holds a leader lease now
//	expect role X follower|candidate|leader
//	expect elections N              exactly N elections so far
//	partition A,B | C,D             network partition (gossip unchanged)
//	gossip-partition A,B | C,D      members of different groups see each other dead
//	isolate X / cut X->Y / drop X->Y F / drop X<->* F / delay X->Y LO HI
//	heal                            network and gossip
//	crash X [silent]                kill X; gossip notices unless silent
//	restart X [diskless FLOOR-EXTRA] restart X with its hard state, or without it
//	                                and with a vote floor above every term so far
//	pause X / resume X
//	transfer X -> Y [ok|not-leader|unknown-member]
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "scenarios"), func(t *testing.T, path string) {
		s := &scenario{t: t, seed: 1, preempt: true}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			s.t, s.where = t, d.Pos
			fields := []string{d.Cmd}
			for _, a := range d.CmdArgs {
				fields = append(fields, a.String())
			}
			s.log = s.log[:0]
			if err := s.exec(fields); err != nil {
				trace := ""
				if s.c != nil {
					trace = s.c.Trace(40)
				}
				t.Fatalf("%s: %s: %v\ntrace (end):\n%s", d.Pos, d.FullCmd(), err, trace)
			}
			if len(s.log) == 0 {
				return "ok\n"
			}
			return strings.Join(s.log, "\n") + "\n"
		})
		if s.c == nil {
			t.Fatal("scenario has no voters line")
		}
		s.c.RequireClean()
	})
}

type scenario struct {
	t       *testing.T
	c       *simcluster.ElectionCluster
	seed    int64
	preempt bool
	where   string // file:line of the current command
	// log is what the current command did (see TestScenarios).
	log []string
	// last is each member's last recorded state.
	last map[string]memberState
}

// memberState is what a scenario records of a member when it changes.
type memberState struct {
	role             election.Role
	term             uint64
	leader, votedFor string
}

func (m memberState) String() string {
	s := fmt.Sprintf("%s term=%d", m.role, m.term)
	if m.leader != "" {
		s += " leader=" + m.leader
	}
	if m.votedFor != "" {
		s += " voted=" + m.votedFor
	}
	return s
}

// record starts recording w's messages and state changes into s.log.
func (s *scenario) record(c *simcluster.ElectionCluster) {
	s.last = map[string]memberState{}
	stamp := func() string { return c.Elapsed().Round(time.Millisecond).String() }
	c.OnSend(func(name string, _ time.Time, m election.Message) {
		if m.Type == election.MsgHeartbeat || m.Type == election.MsgHeartbeatAck {
			return
		}
		line := fmt.Sprintf("%s %s->%s %s term=%d", stamp(), name, m.To, m.Type, m.Term)
		if m.Type == election.MsgVoteResponse || m.Type == election.MsgPreVoteResponse {
			line += map[bool]string{true: " granted", false: " refused"}[m.Granted]
		}
		s.log = append(s.log, line)
	})
	c.OnStep(func(time.Time) {
		for _, name := range c.Names() {
			if !c.Up(name) {
				delete(s.last, name)
				continue
			}
			st := c.Status(name)
			now := memberState{role: st.Role, term: st.Term, leader: st.Leader, votedFor: st.VotedFor}
			if prev, ok := s.last[name]; !ok || prev != now {
				s.last[name] = now
				s.log = append(s.log, fmt.Sprintf("%s %s: %s", stamp(), name, now))
			}
		}
	})
}

func (s *scenario) exec(f []string) error {
	cmd, args := f[0], f[1:]
	if s.c == nil {
		switch cmd {
		case "seed":
			n, err := strconv.ParseInt(arg(args, 0), 10, 64)
			s.seed = n
			return err
		case "preempt":
			s.preempt = arg(args, 0) == "on"
			return nil
		case "voters":
			var members []simcluster.ElectionSpec
			for _, a := range args {
				name, p, _ := strings.Cut(a, ":")
				prio := 0
				if p != "" {
					var err error
					if prio, err = strconv.Atoi(p); err != nil {
						return err
					}
				}
				members = append(members, simcluster.ElectionSpec{Name: name, Prio: prio})
			}
			s.c = simcluster.NewElections(s.t, simcluster.ElectionSeed(s.seed), simcluster.ElectionPreempt(s.preempt),
				simcluster.ElectionMembers(members...))
			s.record(s.c)
			return nil
		}
		return errors.New("voters must come first (after seed and preempt)")
	}
	c := s.c
	c.Logf("%s: %s", s.where, strings.Join(f, " "))
	switch cmd {
	case "delay":
		if len(args) == 2 {
			lo, hi, err := durations(args[0], args[1])
			if err == nil {
				c.Net.SetDefaultDelay(lo, hi)
			}
			return err
		}
		from, to, ok := strings.Cut(arg(args, 0), "->")
		if !ok || len(args) != 3 {
			return errors.New("want delay LO HI or delay X->Y LO HI")
		}
		lo, hi, err := durations(args[1], args[2])
		if err == nil {
			c.Net.SetDelay(from, to, lo, hi)
		}
		return err
	case "run":
		d, err := time.ParseDuration(arg(args, 0))
		if err == nil {
			c.Run(d)
		}
		return err
	case "wait":
		// wait leader X [among A,B] within D
		if arg(args, 0) != "leader" || len(args) < 4 || args[len(args)-2] != "within" {
			return errors.New("want: wait leader X [among A,B] within D")
		}
		d, err := time.ParseDuration(args[len(args)-1])
		if err != nil {
			return err
		}
		want, group := args[1], c.Names()
		if args[2] == "among" {
			group = strings.Split(args[3], ",")
		}
		if !c.RunUntil(d, func() bool { l, ok := c.StableLeaderAmong(group); return ok && l == want }) {
			l, ok := c.StableLeaderAmong(group)
			return fmt.Errorf("stable leader %q (%v) after %v, want %s", l, ok, d, want)
		}
		return nil
	case "expect":
		return s.expect(args)
	case "partition", "gossip-partition":
		var groups [][]string
		for _, g := range strings.Split(strings.Join(args, " "), "|") {
			groups = append(groups, strings.Split(strings.ReplaceAll(g, " ", ""), ","))
		}
		if cmd == "partition" {
			c.Net.Partition(groups...)
		} else {
			c.GossipPartition(groups...)
		}
		return nil
	case "isolate":
		c.Net.Isolate(arg(args, 0))
		return nil
	case "cut":
		from, to, ok := strings.Cut(arg(args, 0), "->")
		if !ok {
			return errors.New("want cut X->Y")
		}
		c.Net.Cut(from, to)
		return nil
	case "drop":
		frac, err := strconv.ParseFloat(arg(args, 1), 64)
		if err != nil {
			return err
		}
		if x, ok := strings.CutSuffix(arg(args, 0), "<->*"); ok {
			for _, o := range c.Names() {
				if o != x {
					c.Net.SetDrop(x, o, frac)
					c.Net.SetDrop(o, x, frac)
				}
			}
			return nil
		}
		from, to, ok := strings.Cut(arg(args, 0), "->")
		if !ok {
			return errors.New("want drop X->Y F or drop X<->* F")
		}
		c.Net.SetDrop(from, to, frac)
		return nil
	case "heal":
		c.Net.Heal()
		c.GossipHeal()
		return nil
	case "crash":
		c.Crash(arg(args, 0), arg(args, 1) != "silent")
		return nil
	case "restart":
		name := arg(args, 0)
		if arg(args, 1) == "diskless" {
			extra, err := strconv.ParseUint(arg(args, 2), 10, 64)
			if err != nil {
				return err
			}
			c.SetDiskless(name)
			c.Restart(name, extra, true)
			return nil
		}
		c.Restart(name, 0, false)
		return nil
	case "pause":
		c.Net.Pause(arg(args, 0))
		return nil
	case "resume":
		c.Net.Resume(arg(args, 0))
		return nil
	case "transfer":
		// transfer X -> Y [ok|not-leader|unknown-member]
		if len(args) < 3 || args[1] != "->" {
			return errors.New("want transfer X -> Y [outcome]")
		}
		from, to := args[0], args[2]
		err := c.Node(from).Transfer(c.Now(from), to)
		want := map[string]error{"": nil, "ok": nil,
			"not-leader": election.ErrNotLeader, "unknown-member": election.ErrUnknownMember}[arg(args, 3)]
		if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
			return fmt.Errorf("Transfer: %v, want %v", err, want)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", cmd)
}

func (s *scenario) expect(args []string) error {
	c := s.c
	switch arg(args, 0) {
	case "leader":
		want, group := arg(args, 1), c.Names()
		if arg(args, 2) == "among" {
			group = strings.Split(arg(args, 3), ",")
		}
		if l, ok := c.StableLeaderAmong(group); !ok || l != want {
			return fmt.Errorf("stable leader %q (%v), want %s", l, ok, want)
		}
	case "no-leader":
		for _, n := range strings.Split(arg(args, 1), ",") {
			if c.IsLeader(n) {
				return fmt.Errorf("%s holds a leader lease", n)
			}
		}
	case "role":
		if got := c.Status(arg(args, 1)).Role.String(); got != arg(args, 2) {
			return fmt.Errorf("%s is %s, want %s", arg(args, 1), got, arg(args, 2))
		}
	case "elections":
		n, err := strconv.Atoi(arg(args, 1))
		if err != nil {
			return err
		}
		if got := len(c.History.Elections); got != n {
			return fmt.Errorf("%d elections so far, want %d: %v", got, n, c.History.Elections)
		}
	default:
		return fmt.Errorf("unknown expectation %q", arg(args, 0))
	}
	return nil
}

// arg returns args[i], or "" when there are fewer.
func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func durations(a, b string) (time.Duration, time.Duration, error) {
	lo, err := time.ParseDuration(a)
	if err != nil {
		return 0, 0, err
	}
	hi, err := time.ParseDuration(b)
	return lo, hi, err
}
