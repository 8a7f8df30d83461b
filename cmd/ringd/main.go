// Command ringd is the partition-ownership sidecar: it reads its settings
// from flags, RINGD_* environment variables and an optional JSON config file,
// then runs daemon.Run until the first SIGINT or SIGTERM asks for a graceful
// shutdown. A second signal exits at once.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/daemon"
	"github.com/ringd/ringd/internal/buildinfo"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // Run failed, or a second signal cut the shutdown short
	exitUsage = 2 // bad flags, environment or config file
)

// shutdownGrace is how long past cfg.ShutdownTimeout main waits for Run to
// return after a signal before it gives up and exits. Run bounds its own
// shutdown; this only guards against it hanging.
const shutdownGrace = 5 * time.Second

func main() {
	os.Exit(realMain(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// realMain is main with its inputs and outputs passed in. It returns the exit
// status.
func realMain(args []string, env func(string) string, stdout, stderr io.Writer) int {
	resolved, err := parseConfig(args, env)
	switch {
	case errors.Is(err, errHelp):
		printUsage(stdout)
		return exitOK
	case errors.Is(err, errVersion):
		fmt.Fprintf(stdout, "ringd %s\n", buildinfo.Get())
		return exitOK
	case err != nil:
		// One line, whatever the error holds.
		fmt.Fprintf(stderr, "ringd: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return exitUsage
	}

	cfg := resolved.Config()
	logger := daemon.NewLogger(cfg.LogLevel, cfg.LogJSON, stderr)
	if path := env(cpuProfileEnv); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(stderr, "ringd: %s: %s\n", cpuProfileEnv, err)
			return exitUsage
		}
		// Written when ringd stops after a signal (not after SIGKILL).
		defer stop()
		logger.Info("writing a CPU profile until ringd stops", "path", path)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	return serve(resolved, logger, sigs, daemon.Run, os.Exit, cfg.ShutdownTimeout+shutdownGrace)
}

// cpuProfileEnv names a file to write a Go CPU profile of the whole run to
// (go tool pprof reads it): for finding where an idle member spends its CPU
// (figure g of docs/benchmarks.md).
const cpuProfileEnv = "RINGD_CPU_PROFILE"

// startCPUProfile starts a CPU profile into path and returns what stops and
// writes it.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// runFunc has the signature of daemon.Run; tests pass a stand-in.
type runFunc func(ctx context.Context, r daemon.Resolved, logger hclog.Logger) error

// serve runs run until it returns. The first signal from sigs cancels run's
// context (a graceful shutdown, which run bounds by --shutdown-timeout); a
// second signal, or run still going backstop after the first, calls exit(1)
// at once. serve returns the exit status for run's result.
func serve(resolved daemon.Resolved, logger hclog.Logger, sigs <-chan os.Signal, run runFunc, exit func(int), backstop time.Duration) int {
	cfg := resolved.Config()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
			return
		case s := <-sigs:
			logger.Info("shutting down gracefully; a second signal exits at once",
				"signal", s.String(), "timeout", cfg.ShutdownTimeout.String())
			cancel()
		}
		timer := time.NewTimer(backstop)
		defer timer.Stop()
		select {
		case <-done:
		case s := <-sigs:
			logger.Error("second signal: exiting now without finishing the shutdown", "signal", s.String())
			exit(exitError)
		case <-timer.C:
			logger.Error("shutdown did not finish in time: exiting now", "waited", backstop.String())
			exit(exitError)
		}
	}()

	logger.Info("starting", "version", buildinfo.Get().Version, "commit", buildinfo.Get().Commit, "name", cfg.Name,
		"gossip_addr", cfg.GossipAddr, "http_addr", cfg.HTTPAddr)
	err := run(ctx, resolved, logger)
	close(done)
	wg.Wait()
	if err != nil {
		logger.Error("stopped with an error", "error", err.Error())
		return exitError
	}
	return exitOK
}
