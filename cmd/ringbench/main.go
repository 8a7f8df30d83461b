// Command ringbench measures ringd and writes docs/benchmarks.md: failover
// after kills, planned moves, movement and balance, planning cost,
// convergence at scale, the REST API and watches, footprint and stability
// under flapping members. Each figure is measured next to its baseline in
// the same run, over repeated trials, and reported as min / median / p99.
//
//	go run ./cmd/ringbench                     # every figure, into docs/benchmarks.md
//	go run ./cmd/ringbench --quick --out -     # fewer trials, to stdout
//	go run ./cmd/ringbench --figures a,g       # only these; other sections are kept
//
// It is what `make bench` and `make bench-quick` run. Progress goes to
// stderr. It exits 0 when every figure ran, 1 when one failed (the others
// are still written), 2 on bad flags and 130 when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/internal/procluster"
)

const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// Figure is one measurement of the suite. Files named figure_*.go register
// theirs from init.
type Figure struct {
	// ID is the figure's letter (a..h), as in issue 11's table.
	ID string
	// Title is a short name for progress lines and --list.
	Title string
	// Run measures the figure. It reports progress through env.Log and
	// returns its section, or an error when it could not measure at all.
	Run func(ctx context.Context, env *Env) (Section, error)
}

// Env is what a figure gets to run with.
type Env struct {
	// Quick asks for a short run: few trials, small sizes.
	Quick bool
	// Ringd is the path of a ringd binary built without the race detector.
	Ringd string
	// Dir is a scratch directory for this figure (logs, data dirs); it is
	// removed after the run unless --keep is given.
	Dir string
	// Log reports progress (stderr).
	Log hclog.Logger
	// ScaleSizes replaces figure e's cluster sizes when set (--scale-sizes).
	ScaleSizes []int
	// LiveProfiles: --pprof serves CPU profiles on request, so a figure
	// must not hold the (single) CPU profiler for its own profile.
	LiveProfiles bool

	baseline *baseline
}

// Trials picks the number of repetitions: full for a whole run, quick for
// --quick.
func (e *Env) Trials(full, quick int) int {
	if e.Quick {
		return quick
	}
	return full
}

var figures []Figure

func register(f Figure) {
	figures = append(figures, f)
	slices.SortFunc(figures, func(a, b Figure) int { return strings.Compare(a.ID, b.ID) })
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, hidden := runHidden(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if !hidden {
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

type config struct {
	quick   bool
	only    []string
	out     string
	ringd   string
	keep    bool
	list    bool
	logJSON bool
	baseRef string
	// scaleSizes: figure e's cluster sizes, nil for its defaults.
	scaleSizes []int
	// pprof is where to serve net/http/pprof during the run ("": nowhere).
	pprof string
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	var cfg config
	var only, sizes string
	fs := flag.NewFlagSet("ringbench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.BoolVar(&cfg.quick, "quick", false, "few trials and small sizes: a smoke run of every figure in minutes")
	fs.StringVar(&only, "figures", "", "comma-separated figure ids to run (default: all); see --list")
	fs.StringVar(&cfg.out, "out", "docs/benchmarks.md", "report to update (the sections of the figures that ran are replaced); - writes them to stdout")
	fs.StringVar(&cfg.ringd, "ringd", "", "ringd binary to measure (default: build one, without the race detector)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the scratch directory (member logs) after the run")
	fs.BoolVar(&cfg.list, "list", false, "list the figures and exit")
	fs.BoolVar(&cfg.logJSON, "log-json", false, "progress as JSON lines")
	fs.StringVar(&cfg.baseRef, "baseline-ref", DefaultBaselineRef, "git commit whose ringd is measured as the baseline where a figure compares before and after")
	fs.StringVar(&cfg.pprof, "pprof", "", "serve Go's profiling endpoints (/debug/pprof/) on this address during the run, e.g. 127.0.0.1:6060, to see where an in-process figure spends its time")
	fs.StringVar(&sizes, "scale-sizes", "", "comma-separated cluster sizes for figure e instead of its defaults (100,500; 25,100 with --quick)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	for f := range strings.SplitSeq(sizes, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 2 || n > 2000 {
			return cfg, fmt.Errorf("--scale-sizes: %q is not a cluster size from 2 to 2000", f)
		}
		cfg.scaleSizes = append(cfg.scaleSizes, n)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	known := map[string]bool{}
	for _, f := range figures {
		known[f.ID] = true
	}
	for id := range strings.SplitSeq(only, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !known[id] {
			return cfg, fmt.Errorf("--figures: unknown figure %q (see --list)", id)
		}
		cfg.only = append(cfg.only, id)
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "ringbench: %v\n", err)
		return exitUsage
	}
	if cfg.list {
		for _, f := range figures {
			fmt.Fprintf(stdout, "%s  %s\n", f.ID, f.Title)
		}
		return exitOK
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "ringbench", Output: stderr, JSONFormat: cfg.logJSON})
	if cfg.pprof != "" {
		ln, err := net.Listen("tcp", cfg.pprof)
		if err != nil {
			fmt.Fprintf(stderr, "ringbench: --pprof: %v\n", err)
			return exitUsage
		}
		defer ln.Close()
		// The blank import of net/http/pprof registers its handlers on
		// the default mux.
		go func() { _ = http.Serve(ln, http.DefaultServeMux) }()
		log.Info("serving profiles", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	}

	scratch, err := os.MkdirTemp("", "ringbench-")
	if err != nil {
		fmt.Fprintf(stderr, "ringbench: %v\n", err)
		return exitFailed
	}
	if cfg.keep {
		log.Info("keeping the scratch directory", "dir", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	if cfg.ringd == "" {
		log.Info("building ringd (no race detector)")
		cfg.ringd, err = procluster.BuildRingd(ctx, scratch, false)
		if err != nil {
			fmt.Fprintf(stderr, "ringbench: building ringd: %v\n", err)
			return exitFailed
		}
	} else if cfg.ringd, err = filepath.Abs(cfg.ringd); err != nil {
		fmt.Fprintf(stderr, "ringbench: --ringd: %v\n", err)
		return exitUsage
	}

	base := &baseline{ref: cfg.baseRef, scratch: scratch}
	machine := readMachine()
	fresh := map[string]string{}
	var order []string
	failed := false
	for _, f := range figures {
		order = append(order, f.ID)
		if len(cfg.only) > 0 && !slices.Contains(cfg.only, f.ID) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		dir := filepath.Join(scratch, "figure-"+f.ID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintf(stderr, "ringbench: %v\n", err)
			return exitFailed
		}
		flog := log.Named(f.ID)
		flog.Info("measuring", "figure", f.Title)
		start := time.Now()
		sec, err := f.Run(ctx, &Env{Quick: cfg.quick, Ringd: cfg.ringd, Dir: dir, Log: flog, ScaleSizes: cfg.scaleSizes, LiveProfiles: cfg.pprof != "", baseline: base})
		if err != nil {
			failed = true
			flog.Error("figure failed", "error", err, "after", time.Since(start).Round(time.Second))
			continue
		}
		flog.Info("done", "after", time.Since(start).Round(time.Second))
		fresh[f.ID] = renderSection(f.ID, sec, machine, cfg.quick)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "ringbench: interrupted; report not written")
		return exitInterrupted
	}
	if err := writeReport(cfg.out, fresh, order, stdout); err != nil {
		fmt.Fprintf(stderr, "ringbench: %v\n", err)
		return exitFailed
	}
	if failed {
		return exitFailed
	}
	return exitOK
}

func writeReport(out string, fresh map[string]string, order []string, stdout io.Writer) error {
	if out == "-" {
		for _, id := range order {
			if s, ok := fresh[id]; ok {
				fmt.Fprintln(stdout, s)
			}
		}
		return nil
	}
	old, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	merged := mergeReport(string(old), fresh, order)
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, []byte(merged), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
