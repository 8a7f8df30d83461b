// Command ringd-worker is an example application that uses the client
// library (clientlib): it runs beside one ringd, works on the partitions that
// ringd gives its member, and logs each acquire and release with the fencing
// token. `make demo` runs one beside each ringd; the Helm chart's example
// workload runs it too.
//
// With --ledger it takes its items from the demo's shared ledger (one stream
// of items per partition) and commits each one with its token, so that the
// demo can count items processed twice under overlapping leases; without it,
// it counts items of its own.
//
//	ringd-worker --ringd 127.0.0.1:8080 [--ledger http://127.0.0.1:9000] [--item-time 50ms]
//
// On SIGINT or SIGTERM it first keeps working for up to --drain-timeout
// until ringd (which on Kubernetes gets SIGTERM at the same time) has moved
// every partition away, acknowledging each release as its worker returns, so
// the next owners start at once; then it stops whatever it still has and
// exits 0 once every partition's worker has returned. Exit 2 on bad flags, 1
// when it cannot run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/clientlib"
	"github.com/ringd/ringd/internal/ledger"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal ends the process at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

type config struct {
	ringd    string
	caFile   string
	ledger   string
	name     string
	itemTime time.Duration
	margin   time.Duration
	drain    time.Duration
	logJSON  bool
	logLevel string
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	var cfg config
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("ringd-worker", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&cfg.ringd, "ringd", envOr("RINGD_ADDR", "127.0.0.1:8080"), "host:port or URL of the local ringd's HTTP API (env RINGD_ADDR)")
	fs.StringVar(&cfg.caFile, "ca-file", os.Getenv("RINGD_CA_FILE"), "PEM certificates to trust for an https:// --ringd, instead of the system's (env RINGD_CA_FILE)")
	fs.StringVar(&cfg.ledger, "ledger", "", "URL of the demo's shared ledger; empty: count items locally")
	fs.StringVar(&cfg.name, "name", envOr("POD_NAME", host), "this worker's name in logs and in the ledger (env POD_NAME, default the host name)")
	fs.DurationVar(&cfg.itemTime, "item-time", 50*time.Millisecond, "how long processing one item takes")
	fs.DurationVar(&cfg.margin, "margin", clientlib.DefaultMargin, "stop working on a partition this long before its deadline (clientlib.WithMargin)")
	fs.DurationVar(&cfg.drain, "drain-timeout", 20*time.Second, "on SIGTERM, keep working at most this long while ringd moves the partitions away (0: stop at once); keep it below the pod's grace period minus the margin and the longest item")
	fs.BoolVar(&cfg.logJSON, "log-json", false, "log JSON lines")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "trace, debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	case cfg.itemTime <= 0:
		return cfg, fmt.Errorf("--item-time is %v, must be positive", cfg.itemTime)
	case cfg.margin <= 0:
		return cfg, fmt.Errorf("--margin is %v, must be positive", cfg.margin)
	case cfg.drain < 0:
		return cfg, fmt.Errorf("--drain-timeout is %v, must not be negative", cfg.drain)
	case hclog.LevelFromString(cfg.logLevel) == hclog.NoLevel:
		return cfg, fmt.Errorf("--log-level %q is not one of trace, debug, info, warn, error", cfg.logLevel)
	case cfg.name == "":
		return cfg, errors.New("--name is empty")
	}
	return cfg, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, errOut io.Writer) int {
	cfg, err := parseFlags(args, errOut)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(errOut, "ringd-worker:", err)
		}
		return 2
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name: "worker", Output: errOut, JSONFormat: cfg.logJSON,
		Level: hclog.LevelFromString(cfg.logLevel), TimeFormat: "15:04:05.000",
	}).With("worker", cfg.name)

	w := &worker{cfg: cfg, log: log}
	if cfg.ledger != "" {
		if w.ledger, err = ledger.NewClient(cfg.ledger); err != nil {
			fmt.Fprintln(errOut, "ringd-worker: --ledger:", err)
			return 2
		}
	}
	opts := []clientlib.Option{clientlib.WithLogger(log.Named("clientlib")), clientlib.WithMargin(cfg.margin)}
	if cfg.caFile != "" {
		opts = append(opts, clientlib.WithCAFile(cfg.caFile))
	}
	c, err := clientlib.New(cfg.ringd, opts...)
	if err != nil {
		fmt.Fprintln(errOut, "ringd-worker: --ringd:", err)
		return 2
	}
	log.Info("starting", "ringd", cfg.ringd, "ledger", cfg.ledger)
	// Run outlives the signal by the drain: it must keep acknowledging
	// releases while ringd hands the partitions over.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	go func() {
		<-ctx.Done()
		if cfg.drain > 0 {
			log.Info("signal: working on until ringd has moved every partition away", "at_most", cfg.drain)
			dctx, cancel := context.WithTimeout(runCtx, cfg.drain)
			if err := c.WaitIdle(dctx); err != nil {
				log.Warn("partitions still held after the drain timeout; stopping their workers", "owned", len(c.Owned()))
			}
			cancel()
		}
		stopRun()
	}()
	if err := c.Run(runCtx, workerHandler{w}); err != nil {
		log.Error("cannot run", "error", err)
		return 1
	}
	log.Info("stopped: every partition's worker has returned")
	return 0
}

type worker struct {
	cfg    config
	log    hclog.Logger
	ledger *ledger.Client
}

// workerHandler is the worker as a clientlib.Handler that also hears what
// it stands by for (StandbyHandler).
type workerHandler struct{ w *worker }

func (h workerHandler) Work(ctx context.Context, p clientlib.Partition) error {
	return h.w.work(ctx, p)
}

// Standby logs the partitions this member is next in line for: where a real
// application would warm its caches for them.
func (h workerHandler) Standby(list []clientlib.Standby) {
	ids := make([]int, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	h.w.log.Info("standing by", "partitions", ids)
}

// work processes the items of one partition until its context ends. An item
// is committed only while the grant's deadline has not passed; one that is
// interrupted is left for the next owner.
func (w *worker) work(ctx context.Context, p clientlib.Partition) error {
	w.log.Info("acquired", "partition", p.ID, "token", p.Token, "deadline_in", time.Until(p.Deadline()).Round(time.Millisecond))
	done := 0
	defer func() {
		w.log.Info("released", "partition", p.ID, "token", p.Token, "items", done, "why", context.Cause(ctx))
	}()
	var local int64
	for ctx.Err() == nil {
		item := local
		if w.ledger != nil {
			var err error
			if item, err = w.ledger.Next(ctx, p.ID); err != nil {
				if ctx.Err() == nil {
					w.log.Warn("ledger: cannot read the next item", "partition", p.ID, "error", err)
					sleep(ctx, time.Second)
				}
				continue
			}
		}
		from := time.Now()
		if !sleep(ctx, w.cfg.itemTime) {
			return nil // interrupted: leave the item to the next owner
		}
		if !time.Now().Before(p.Deadline()) {
			return nil // the grant may be over: commit nothing with this token
		}
		if w.ledger != nil {
			cctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), p.Deadline())
			err := w.ledger.Commit(cctx, p.ID, item, p.Token, w.cfg.name, from)
			cancel()
			if err != nil {
				w.log.Warn("ledger: commit failed", "partition", p.ID, "item", item, "error", err)
				continue
			}
		}
		local++
		done++
	}
	return nil
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
