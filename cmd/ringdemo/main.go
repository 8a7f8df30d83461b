// Command ringdemo shows ringd at work on one machine: it starts a few ringd
// members on loopback, each with an application worker beside it
// (cmd/ringd-worker, built on clientlib) that processes the items of the
// partitions its member owns from a shared ledger. It waits until the members
// agree on a leader and split the partitions, kills a member's ringd with
// SIGKILL (its worker stops at its deadlines) and shows the survivors taking
// over, restarts it, drains another member and undrains it, printing each
// acquire and release of the workers as it happens. It ends with how many
// items were processed twice under overlapping leases: 0 is ringd's promise.
// It is what `make demo` runs:
//
//	go run ./cmd/ringdemo --ringd bin/ringd --worker bin/ringd-worker
//
// It exits 0 when every step converged and no item was processed twice under
// overlapping leases, 1 otherwise (after printing the last views and the tail
// of every member's log when a step did not converge within --timeout), 2 on
// bad flags, and 130 when interrupted (SIGINT/SIGTERM). Every process it
// started is stopped whichever way it ends.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/ledger"
	"github.com/ringd/ringd/internal/procluster"
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
	worker     string
	itemTime   time.Duration
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
	fs.StringVar(&cfg.worker, "worker", "bin/ringd-worker", "path of the worker binary run beside each member (`make build` makes bin/ringd-worker)")
	fs.DurationVar(&cfg.itemTime, "item-time", 20*time.Millisecond, "how long a worker takes to process one item")
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
	case cfg.itemTime <= 0:
		return cfg, errors.New("--item-time must be positive")
	}
	if _, err := os.Stat(cfg.ringd); err != nil {
		return cfg, fmt.Errorf("--ringd: %w (build it with `make build`)", err)
	}
	if _, err := os.Stat(cfg.worker); err != nil {
		return cfg, fmt.Errorf("--worker: %w (build it with `make build`)", err)
	}
	return cfg, nil
}

// demo holds what the steps share.
type demo struct {
	cfg config
	out io.Writer
	c   *procluster.Cluster
	// workers are the worker processes by member name.
	workers map[string]*procluster.Process
	// outMu keeps the workers' lines and the steps' output whole; midLine
	// is true while the last line written is not finished.
	outMu   sync.Mutex
	midLine bool
}

// printf writes to the demo's output.
func (d *demo) printf(format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	text := fmt.Sprintf(format, args...)
	if text != "" {
		d.midLine = !strings.HasSuffix(text, "\n")
	}
	fmt.Fprint(d.out, text)
}

// printLine writes one whole line, breaking a line in progress (the dots of
// a wait) first.
func (d *demo) printLine(line string) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	if d.midLine {
		fmt.Fprintln(d.out)
		d.midLine = false
	}
	fmt.Fprintln(d.out, line)
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
	d := &demo{cfg: cfg, out: out, c: c}
	book, stopLedger, err := startLedger()
	if err != nil {
		fmt.Fprintln(errOut, "ringdemo:", err)
		return exitFailed
	}
	defer stopLedger()
	err = d.startWorkers(book.url)
	defer func() {
		for _, w := range d.workers {
			w.Kill()
		}
	}()
	if err != nil {
		fmt.Fprintln(errOut, "ringdemo:", err)
		return exitFailed
	}

	if err := d.steps(ctx); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(out, "\ninterrupted: stopping every member")
			return exitInterrupted
		}
		fmt.Fprintln(errOut, "\nringdemo:", err)
		return exitFailed
	}
	// The end: kill the members, then stop the workers, which let go at
	// their deadlines (SIGTERM: each worker returns from every partition).
	if err := c.Close(); err != nil {
		fmt.Fprintln(errOut, "ringdemo:", err)
		return exitFailed
	}
	d.printf("\nkilled the members; stopping the workers\n")
	for _, w := range d.workers {
		if err := w.Stop(d.cfg.timeout); err != nil {
			fmt.Fprintln(errOut, "ringdemo: worker", err)
			return exitFailed
		}
	}
	fmt.Fprintf(out, "stopped every member and worker; their logs are in %s\n", cfg.dir)
	r := book.server.Report()
	fmt.Fprintf(out, "\n%d items processed; %d processed again after an owner stopped without committing (not overlapping)\n", r.Items, r.Again)
	fmt.Fprintf(out, "items processed twice under an overlapping lease: %d\n", r.Overlapping)
	for _, e := range r.Examples {
		fmt.Fprintln(out, "  ", e)
	}
	if r.Overlapping > 0 || r.Items == 0 {
		if r.Items == 0 {
			fmt.Fprintln(errOut, "ringdemo: the workers processed no item")
		}
		return exitFailed
	}
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
	d.printf("\nkilling %s with SIGKILL (it is not the leader: %s leads); %d of %d members remain, a majority\n",
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
	d.printf("%d partitions moved; %s had %d; only its partitions moved: %s\n",
		len(moved), victim.Name, len(had), yesNo(slices.Equal(moved, had)))

	// 3. Restart it: it gets a share back, and little else moves.
	d.printf("\nrestarting %s (same name, ports and flags)\n", victim.Name)
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
	d.printf("%d of %d partitions moved on the rejoin (a fair share for %d members is %d); %s got %d, %d of them ones it had before\n",
		len(moved), p, len(all), p/len(all), victim.Name, len(got), same)

	// 4. Drain a member: its worker lets go of each partition before the
	// next owner's worker starts it.
	drained := d.c.Members()[len(all)-1]
	if drained.Name == victim.Name {
		drained = d.c.Members()[0]
	}
	d.printf("\ndraining %s (POST /admin/drain): its partitions move away through the release handshake\n", drained.Name)
	if err := d.admin(ctx, drained, "/admin/drain"); err != nil {
		return err
	}
	others := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == drained.Name })
	emptied, err := d.wait(ctx, drained.Name+" to hand over all its partitions", all, everyoneOwns(others), ownsNothing(drained.Name))
	if err != nil {
		return err
	}
	d.table(emptied)

	d.printf("\nundraining %s (POST /admin/undrain)\n", drained.Name)
	if err := d.admin(ctx, drained, "/admin/undrain"); err != nil {
		return err
	}
	refilled, err := d.wait(ctx, drained.Name+" to get partitions again", all, everyoneOwns(all))
	if err != nil {
		return err
	}
	d.table(refilled)

	// 6. A pod shut down as Kubernetes does it: SIGTERM to ringd and to
	// its worker at once. ringd hands its partitions (and its lead) over;
	// the worker keeps acknowledging the releases until none is left.
	pod := d.c.Member(procluster.Leader(refilled))
	rest := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == pod.Name })
	d.printf("\nshutting down the pod of %s, the leader, as Kubernetes does: SIGTERM to its ringd and its worker at once\n", pod.Name)
	began := time.Now()
	if err := pod.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := d.workers[pod.Name].Signal(syscall.SIGTERM); err != nil {
		return err
	}
	final, err := d.wait(ctx, "the other members to own every partition", rest, everyoneOwns(rest))
	if err != nil {
		return err
	}
	d.table(final)
	exitCtx, cancel := context.WithTimeout(ctx, d.cfg.timeout)
	defer cancel()
	if err := pod.Wait(exitCtx); err != nil {
		return fmt.Errorf("%s's ringd after SIGTERM: %w", pod.Name, err)
	}
	if err := d.workers[pod.Name].Wait(exitCtx); err != nil {
		return fmt.Errorf("%s's worker after SIGTERM: %w", pod.Name, err)
	}
	d.printf("%s's ringd and worker exited 0, %v after the signal, once its partitions had moved\n",
		pod.Name, time.Since(began).Round(10*time.Millisecond))
	return nil
}

// ownsNothing checks that member lists no partition.
func ownsNothing(member string) func(procluster.Snapshot) error {
	return func(s procluster.Snapshot) error {
		if n := len(s[member].Partitions); n > 0 {
			return fmt.Errorf("%s still lists %d partitions", member, n)
		}
		return nil
	}
}

// admin POSTs an admin action to member m.
func (d *demo) admin(ctx context.Context, m *procluster.Member, path string) error {
	_, err := m.Post(ctx, path, nil)
	return err
}

// ledgerServer is the demo's shared ledger on loopback.
type ledgerServer struct {
	server *ledger.Server
	url    string
}

func startLedger() (*ledgerServer, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	b := &ledgerServer{server: ledger.NewServer(), url: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: b.server, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return b, func() { _ = srv.Close(); <-done }, nil
}

// startWorkers starts one worker beside each member; their acquire and
// release lines are shown as they happen.
func (d *demo) startWorkers(ledgerURL string) error {
	d.printf("starting a worker beside each member (%s, items from the ledger at %s)\n", d.cfg.worker, ledgerURL)
	d.workers = map[string]*procluster.Process{}
	for _, m := range d.c.Members() {
		name := m.Name
		w, err := procluster.StartProcess(name+"-worker", d.cfg.worker,
			[]string{"--ringd", m.HTTPAddr, "--name", name, "--ledger", ledgerURL, "--item-time", d.cfg.itemTime.String()},
			filepath.Join(d.cfg.dir, name+"-worker.log"), func(line string) { d.workerLine(name, line) })
		if err != nil {
			return err
		}
		d.workers[name] = w
	}
	return nil
}

// workerLine shows a worker's acquire and release log lines, shortened:
// "  ringd-0 worker: acquired partition=3 token=12".
func (d *demo) workerLine(member, line string) {
	for _, what := range []string{"acquired", "released"} {
		i := strings.Index(line, " worker: "+what+":")
		if i < 0 {
			continue
		}
		rest := strings.Fields(line[i+len(" worker: "+what+":"):])
		rest = slices.DeleteFunc(rest, func(f string) bool {
			return strings.HasPrefix(f, "worker=") || strings.HasPrefix(f, "deadline_in=")
		})
		d.printLine(fmt.Sprintf("    %s worker: %s %s", member, what, strings.Join(rest, " ")))
	}
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
	d.printf("waiting for %s ", what)
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
				d.printf(".")
			}
		}
	})
	s, took, err := d.c.WaitSettled(ctx, members, d.cfg.hold, d.cfg.timeout, extra...)
	close(done)
	wg.Wait()
	if err != nil {
		d.printf(" no\n")
		if ctx.Err() == nil {
			d.report(s)
		}
		return s, fmt.Errorf("waiting for %s: %w", what, err)
	}
	d.printf(" done in %v\n", took.Round(10*time.Millisecond))
	return s, nil
}

// table prints one line per member: name, leader mark, count and ids.
func (d *demo) table(s procluster.Snapshot) {
	leader := procluster.Leader(s)
	if leader != "" {
		d.printf("  term %d, leader %s\n", s[leader].Term, leader)
	}
	releasing := false
	for _, m := range d.c.Members() {
		v, ok := s[m.Name]
		switch {
		case !ok && !m.Running():
			d.printf("  %-8s    (not running)\n", m.Name)
			continue
		case !ok:
			d.printf("  %-8s    (no answer)\n", m.Name)
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
		d.printf("  %-8s %s %3d  [%s]\n", m.Name, mark, len(v.Partitions), strings.Join(ids, " "))
	}
	if releasing {
		d.printf("  (~ marks a partition being released)\n")
	}
}

// report prints the last views in full and the tail of every member's log.
func (d *demo) report(s procluster.Snapshot) {
	d.printf("\nlast views (GET /partitions/mine):\n")
	for _, m := range d.c.Members() {
		v, ok := s[m.Name]
		if !ok {
			d.printf("  %-8s no view (running: %v)\n", m.Name, m.Running())
			continue
		}
		d.printf("  %-8s term %d index %d leader %q lease %dms partitions %v\n",
			m.Name, v.Term, v.Index, v.Leader, v.LeaseRemainingMs, procluster.IDs(v))
	}
	for _, m := range d.c.Members() {
		d.printf("\n--- last lines of %s (%s):\n%s\n", m.Name, m.LogPath, m.LogTail(20))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
