package election_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/election"
	"github.com/ringd/ringd/internal/simcluster"
)

// TestScenarios runs the scripted scenarios in testdata/*.txt. Each line is
// one command; '#' starts a comment. The safety checkers (one leader per
// term, one vote per term, terms never go back) watch every scenario.
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
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScenario(t, file)
		})
	}
}

type scenario struct {
	t       *testing.T
	w       *simcluster.ElectionCluster
	seed    int64
	preempt bool
	where   string // file:line of the current command
}

func runScenario(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &scenario{t: t, seed: 1, preempt: true}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		s.where = fmt.Sprintf("%s:%d", file, line)
		if err := s.exec(fields); err != nil {
			trace := ""
			if s.w != nil {
				trace = s.w.Trace(40)
			}
			t.Fatalf("%s: %s: %v\ntrace (end):\n%s", s.where, strings.Join(fields, " "), err, trace)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if s.w == nil {
		t.Fatal("scenario has no voters line")
	}
	s.w.RequireClean()
}

func (s *scenario) exec(f []string) error {
	cmd, args := f[0], f[1:]
	if s.w == nil {
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
			s.w = simcluster.NewElections(s.t, s.seed, s.preempt, members...)
			return nil
		}
		return errors.New("voters must come first (after seed and preempt)")
	}
	w := s.w
	w.Logf("%s: %s", s.where, strings.Join(f, " "))
	switch cmd {
	case "delay":
		if len(args) == 2 {
			lo, hi, err := durations(args[0], args[1])
			if err == nil {
				w.Net.SetDefaultDelay(lo, hi)
			}
			return err
		}
		from, to, ok := strings.Cut(arg(args, 0), "->")
		if !ok || len(args) != 3 {
			return errors.New("want delay LO HI or delay X->Y LO HI")
		}
		lo, hi, err := durations(args[1], args[2])
		if err == nil {
			w.Net.SetDelay(from, to, lo, hi)
		}
		return err
	case "run":
		d, err := time.ParseDuration(arg(args, 0))
		if err == nil {
			w.Run(d)
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
		want, group := args[1], w.Names()
		if args[2] == "among" {
			group = strings.Split(args[3], ",")
		}
		if !w.RunUntil(d, func() bool { l, ok := w.StableLeaderAmong(group); return ok && l == want }) {
			l, ok := w.StableLeaderAmong(group)
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
			w.Net.Partition(groups...)
		} else {
			w.GossipPartition(groups...)
		}
		return nil
	case "isolate":
		w.Net.Isolate(arg(args, 0))
		return nil
	case "cut":
		from, to, ok := strings.Cut(arg(args, 0), "->")
		if !ok {
			return errors.New("want cut X->Y")
		}
		w.Net.Cut(from, to)
		return nil
	case "drop":
		frac, err := strconv.ParseFloat(arg(args, 1), 64)
		if err != nil {
			return err
		}
		if x, ok := strings.CutSuffix(arg(args, 0), "<->*"); ok {
			for _, o := range w.Names() {
				if o != x {
					w.Net.SetDrop(x, o, frac)
					w.Net.SetDrop(o, x, frac)
				}
			}
			return nil
		}
		from, to, ok := strings.Cut(arg(args, 0), "->")
		if !ok {
			return errors.New("want drop X->Y F or drop X<->* F")
		}
		w.Net.SetDrop(from, to, frac)
		return nil
	case "heal":
		w.Net.Heal()
		w.GossipHeal()
		return nil
	case "crash":
		w.Crash(arg(args, 0), arg(args, 1) != "silent")
		return nil
	case "restart":
		name := arg(args, 0)
		if arg(args, 1) == "diskless" {
			extra, err := strconv.ParseUint(arg(args, 2), 10, 64)
			if err != nil {
				return err
			}
			w.SetDiskless(name)
			w.Restart(name, extra, true)
			return nil
		}
		w.Restart(name, 0, false)
		return nil
	case "pause":
		w.Net.Pause(arg(args, 0))
		return nil
	case "resume":
		w.Net.Resume(arg(args, 0))
		return nil
	case "transfer":
		// transfer X -> Y [ok|not-leader|unknown-member]
		if len(args) < 3 || args[1] != "->" {
			return errors.New("want transfer X -> Y [outcome]")
		}
		from, to := args[0], args[2]
		err := w.Node(from).Transfer(w.Now(from), to)
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
	w := s.w
	switch arg(args, 0) {
	case "leader":
		want, group := arg(args, 1), w.Names()
		if arg(args, 2) == "among" {
			group = strings.Split(arg(args, 3), ",")
		}
		if l, ok := w.StableLeaderAmong(group); !ok || l != want {
			return fmt.Errorf("stable leader %q (%v), want %s", l, ok, want)
		}
	case "no-leader":
		for _, n := range strings.Split(arg(args, 1), ",") {
			if w.IsLeader(n) {
				return fmt.Errorf("%s holds a leader lease", n)
			}
		}
	case "role":
		if got := w.Status(arg(args, 1)).Role.String(); got != arg(args, 2) {
			return fmt.Errorf("%s is %s, want %s", arg(args, 1), got, arg(args, 2))
		}
	case "elections":
		n, err := strconv.Atoi(arg(args, 1))
		if err != nil {
			return err
		}
		if got := len(w.History.Elections); got != n {
			return fmt.Errorf("%d elections so far, want %d: %v", got, n, w.History.Elections)
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
