// Command ringdemo shows ringd at work on one machine: it starts a few ringd
// members on loopback, waits until they agree on a leader and split the
// partitions, kills a member with SIGKILL and shows the survivors taking over
// its partitions, then restarts it and shows it getting partitions back with
// little movement. It is what `make demo` runs:
//
//	go run ./cmd/ringdemo --ringd bin/ringd
//
// It exits 0 when every step converged, 1 when one did not within --timeout
// (after printing the last views and the tail of every member's log), 2 on bad
// flags, and 130 when interrupted (SIGINT/SIGTERM). Every process it started is
// stopped whichever way it ends.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringd/ringd/internal/procluster"
	"github.com/ringd/ringd/clientlib/api"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one ends the demo at once: the
		// members then die with it (they get SIGKILL when their parent dies).
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is the demo's command line.
type config struct {
	ringd      string
	members    int
	partitions int
	dir        string
	timeout    time.Duration
	hold       time.Duration
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("ringdemo", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&cfg.ringd, "ringd", "bin/ringd", "path of the ringd binary (`make build` makes bin/ringd)")
	fs.IntVar(&cfg.members, "members", 3, "members to start (at least 3, so that one can fail with a majority left)")
	fs.IntVar(&cfg.partitions, "partitions", 24, "partitions to split (small, so the table fits a screen)")
	fs.StringVar(&cfg.dir, "dir", "", "directory for the members' logs and data dirs (default: a new temporary directory)")
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "how long each step may take to converge")
	fs.DurationVar(&cfg.hold, "hold", time.Second, "how long an assignment must stay unchanged to count as settled")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	case cfg.members < 3:
		return cfg, fmt.Errorf("--members is %d, must be at least 3 (one member fails and a majority must remain)", cfg.members)
	case cfg.partitions < cfg.members:
		return cfg, fmt.Errorf("--partitions is %d, must be at least --members (%d)", cfg.partitions, cfg.members)
	case cfg.timeout <= 0 || cfg.hold < 0:
		return cfg, errors.New("--timeout must be positive and --hold not negative")
	}
	if _, err := os.Stat(cfg.ringd); err != nil {
		return cfg, fmt.Errorf("--ringd: %w (build it with `make build`)", err)
	}
	return cfg, nil
}

// demo holds what the steps share.
type demo struct {
	cfg config
	out io.Writer
	c   *procluster.Cluster
}

// run runs the demo and returns the exit code. ctx ends on SIGINT/SIGTERM.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	cfg, err := parseFlags(args, errOut)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(errOut, "ringdemo:", err)
		}
		return exitUsage
	}
	if cfg.dir == "" {
		if cfg.dir, err = os.MkdirTemp("", "ringdemo-"); err != nil {
			fmt.Fprintln(errOut, "ringdemo:", err)
			return exitFailed
		}
	}

	fmt.Fprintf(out, "starting %d ringd members with %d partitions on 127.0.0.1 (fast test timings)\nlogs and data dirs: %s\n",
		cfg.members, cfg.partitions, cfg.dir)
	c, err := procluster.Start(ctx, procluster.Options{
		Binary:     cfg.ringd,
		Members:    cfg.members,
		Partitions: cfg.partitions,
		Dir:        cfg.dir,
		Fast:       true,
	})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(out, "\ninterrupted while starting; every member started was killed")
			return exitInterrupted
		}
		fmt.Fprintln(errOut, "ringdemo:", err)
		return exitFailed
	}
	defer c.Close()
	for _, m := range c.Members() {
		fmt.Fprintf(out, "  %-8s pid %-7d gossip %-21s http %s\n", m.Name, m.PID(), m.GossipAddr, m.HTTPAddr)
	}
	// Stand in for each member's application, acknowledging releases at once,
	// so handoffs take round trips rather than --release-timeout.
	stopApps := c.RunApps(ctx)
	defer stopApps()

	d := &demo{cfg: cfg, out: out, c: c}
	if err := d.steps(ctx); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(out, "\ninterrupted: stopping every member")
			return exitInterrupted
		}
		fmt.Fprintln(errOut, "\nringdemo:", err)
		return exitFailed
	}
	stopApps()
	if err := c.Close(); err != nil {
		fmt.Fprintln(errOut, "ringdemo:", err)
		return exitFailed
	}
	fmt.Fprintf(out, "\nstopped every member; their logs are in %s\n", cfg.dir)
	return exitOK
}

// steps: agree, kill a follower and fail over, restart it and rebalance.
func (d *demo) steps(ctx context.Context) error {
	p := d.cfg.partitions
	all := d.c.Names()

	// 1. Agreement.
	first, err := d.wait(ctx, "the members to agree on a leader and split the partitions", all, everyoneOwns(all))
	if err != nil {
		return err
	}
	d.table(first)

	// 2. Kill a member that does not lead: the majority goes on without it.
	leader := procluster.Leader(first)
	var victim *procluster.Member
	for _, m := range d.c.Members() {
		if m.Name != leader {
			victim = m
			break
		}
	}
	had := procluster.IDs(first[victim.Name])
	fmt.Fprintf(d.out, "\nkilling %s with SIGKILL (it is not the leader: %s leads); %d of %d members remain, a majority\n",
		victim.Name, leader, len(all)-1, len(all))
	if err := victim.Kill(); err != nil {
		return err
	}
	survivors := d.c.Names()
	after, err := d.wait(ctx, "the survivors to own every partition", survivors, everyoneOwns(survivors))
	if err != nil {
		return err
	}
	d.table(after)
	moved := procluster.Moved(first, after, p)
	fmt.Fprintf(d.out, "%d partitions moved; %s had %d; only its partitions moved: %s\n",
		len(moved), victim.Name, len(had), yesNo(slices.Equal(moved, had)))

	// 3. Restart it: it gets a share back, and little else moves.
	fmt.Fprintf(d.out, "\nrestarting %s (same name, ports and flags)\n", victim.Name)
	if err := victim.Restart(ctx); err != nil {
		return err
	}
	back, err := d.wait(ctx, victim.Name+" to get partitions again", all, everyoneOwns(all))
	if err != nil {
		return err
	}
	d.table(back)
	moved = procluster.Moved(after, back, p)
	got := procluster.IDs(back[victim.Name])
	same := 0
	for _, id := range got {
		if slices.Contains(had, id) {
			same++
		}
	}
	fmt.Fprintf(d.out, "%d of %d partitions moved on the rejoin (a fair share for %d members is %d); %s got %d, %d of them ones it had before\n",
		len(moved), p, len(all), p/len(all), victim.Name, len(got), same)
	return nil
}

// everyoneOwns checks that each of members lists at least one partition.
func everyoneOwns(members []string) func(procluster.Snapshot) error {
	return func(s procluster.Snapshot) error {
		for _, n := range members {
			if len(s[n].Partitions) == 0 {
				return fmt.Errorf("%s owns nothing yet", n)
			}
		}
		return nil
	}
}

// wait waits until members settle (see procluster.WaitSettled), printing a
// dot every half second. On failure it prints the last views and every
// member's log tail.
func (d *demo) wait(ctx context.Context, what string, members []string, extra ...func(procluster.Snapshot) error) (procluster.Snapshot, error) {
	fmt.Fprintf(d.out, "waiting for %s ", what)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprint(d.out, ".")
			}
		}
	})
	s, took, err := d.c.WaitSettled(ctx, members, d.cfg.hold, d.cfg.timeout, extra...)
	close(done)
	wg.Wait()
	if err != nil {
		fmt.Fprintln(d.out, " no")
		if ctx.Err() == nil {
			d.report(s)
		}
		return s, fmt.Errorf("waiting for %s: %w", what, err)
	}
	fmt.Fprintf(d.out, " done in %v\n", took.Round(10*time.Millisecond))
	return s, nil
}

// table prints one line per member: name, leader mark, count and ids.
func (d *demo) table(s procluster.Snapshot) {
	leader := procluster.Leader(s)
	if leader != "" {
		fmt.Fprintf(d.out, "  term %d, leader %s\n", s[leader].Term, leader)
	}
	releasing := false
	for _, m := range d.c.Members() {
		v, ok := s[m.Name]
		switch {
		case !ok && !m.Running():
			fmt.Fprintf(d.out, "  %-8s    (killed)\n", m.Name)
			continue
		case !ok:
			fmt.Fprintf(d.out, "  %-8s    (no answer)\n", m.Name)
			continue
		}
		mark := " "
		if m.Name == leader {
			mark = "*"
		}
		ids := make([]string, 0, len(v.Partitions))
		sorted := slices.Clone(v.Partitions)
		slices.SortFunc(sorted, func(a, b api.Partition) int { return a.ID - b.ID })
		for _, p := range sorted {
			if p.State == "owned" {
				ids = append(ids, fmt.Sprint(p.ID))
			} else {
				ids = append(ids, fmt.Sprintf("~%d", p.ID))
				releasing = true
			}
		}
		fmt.Fprintf(d.out, "  %-8s %s %3d  [%s]\n", m.Name, mark, len(v.Partitions), strings.Join(ids, " "))
	}
	if releasing {
		fmt.Fprintln(d.out, "  (~ marks a partition being released)")
	}
}

// report prints the last views in full and the tail of every member's log.
func (d *demo) report(s procluster.Snapshot) {
	fmt.Fprintln(d.out, "\nlast views (GET /partitions/mine):")
	for _, m := range d.c.Members() {
		v, ok := s[m.Name]
		if !ok {
			fmt.Fprintf(d.out, "  %-8s no view (running: %v)\n", m.Name, m.Running())
			continue
		}
		fmt.Fprintf(d.out, "  %-8s term %d index %d leader %q lease %dms partitions %v\n",
			m.Name, v.Term, v.Index, v.Leader, v.LeaseRemainingMs, procluster.IDs(v))
	}
	for _, m := range d.c.Members() {
		fmt.Fprintf(d.out, "\n--- last lines of %s (%s):\n%s\n", m.Name, m.LogPath, m.LogTail(20))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
