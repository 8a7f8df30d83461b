package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/daemon"
	"github.com/ringd/ringd/internal/buildinfo"
	"github.com/ringd/ringd/internal/testlog"
)

// testLogger logs into the test's log and keeps a copy the test can read.
func testLogger(t *testing.T) (hclog.Logger, *testlog.Writer) {
	logs := testlog.New(t).Keep()
	return daemon.NewLogger("debug", false, logs), logs
}

// waitFor fails the test if ch does not deliver within a generous deadline.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// resolvedDefaults is daemon.DefaultConfig, resolved.
func resolvedDefaults(t *testing.T) daemon.Resolved {
	t.Helper()
	r, err := daemon.DefaultConfig().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// noExit fails the test when serve calls exit.
func noExit(t *testing.T) func(int) {
	return func(code int) { t.Errorf("exit(%d) called", code) }
}

func TestServeFirstSignalCancelsRunGracefully(t *testing.T) {
	logger, logs := testLogger(t)
	sigs := make(chan os.Signal, 2)
	started := make(chan struct{})
	run := func(ctx context.Context, _ daemon.Resolved, _ hclog.Logger) error {
		close(started)
		<-ctx.Done()
		return nil
	}
	result := make(chan int, 1)
	go func() {
		result <- serve(resolvedDefaults(t), logger, sigs, run, noExit(t), time.Hour)
	}()
	waitFor(t, started, "run to start")
	sigs <- syscall.SIGTERM
	if code := waitFor(t, result, "serve to return"); code != exitOK {
		t.Errorf("exit status = %d, want %d", code, exitOK)
	}
	if !strings.Contains(logs.String(), "shutting down gracefully") {
		t.Error("no log line for the first signal")
	}
}

func TestServeRunErrorExitsOne(t *testing.T) {
	logger, logs := testLogger(t)
	run := func(context.Context, daemon.Resolved, hclog.Logger) error { return errors.New("bind: address in use") }
	if code := serve(resolvedDefaults(t), logger, make(chan os.Signal), run, noExit(t), time.Hour); code != exitError {
		t.Errorf("exit status = %d, want %d", code, exitError)
	}
	if !strings.Contains(logs.String(), "bind: address in use") {
		t.Error("Run's error is not logged")
	}
}

func TestServeRunReturnsNilWithoutSignal(t *testing.T) {
	logger, _ := testLogger(t)
	run := func(context.Context, daemon.Resolved, hclog.Logger) error { return nil }
	if code := serve(resolvedDefaults(t), logger, make(chan os.Signal), run, noExit(t), time.Hour); code != exitOK {
		t.Errorf("exit status = %d, want %d", code, exitOK)
	}
}

func TestServeSecondSignalExitsAtOnce(t *testing.T) {
	logger, logs := testLogger(t)
	sigs := make(chan os.Signal, 2)
	cancelled := make(chan struct{})
	release := make(chan struct{})
	run := func(ctx context.Context, _ daemon.Resolved, _ hclog.Logger) error {
		<-ctx.Done()
		close(cancelled)
		<-release // a shutdown that hangs
		return nil
	}
	exits := make(chan int, 1)
	result := make(chan int, 1)
	go func() {
		result <- serve(resolvedDefaults(t), logger, sigs, run, func(code int) { exits <- code }, time.Hour)
	}()
	sigs <- syscall.SIGINT
	waitFor(t, cancelled, "the first signal to cancel run")
	sigs <- syscall.SIGINT
	if code := waitFor(t, exits, "exit after the second signal"); code != exitError {
		t.Errorf("exit(%d), want exit(%d)", code, exitError)
	}
	close(release)
	waitFor(t, result, "serve to return")
	if !strings.Contains(logs.String(), "second signal") {
		t.Error("no log line for the second signal")
	}
}

func TestServeBackstopWhenShutdownHangs(t *testing.T) {
	logger, logs := testLogger(t)
	sigs := make(chan os.Signal, 1)
	release := make(chan struct{})
	run := func(ctx context.Context, _ daemon.Resolved, _ hclog.Logger) error {
		<-ctx.Done()
		<-release
		return nil
	}
	exits := make(chan int, 1)
	result := make(chan int, 1)
	go func() {
		result <- serve(resolvedDefaults(t), logger, sigs, run, func(code int) { exits <- code }, time.Millisecond)
	}()
	sigs <- syscall.SIGTERM
	if code := waitFor(t, exits, "exit after the backstop"); code != exitError {
		t.Errorf("exit(%d), want exit(%d)", code, exitError)
	}
	close(release)
	waitFor(t, result, "serve to return")
	if !strings.Contains(logs.String(), "did not finish in time") {
		t.Error("no log line for the backstop")
	}
}

func TestRealMainUsageErrorsAndVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"--version"}, envOf(nil), &stdout, &stderr); code != exitOK {
		t.Errorf("--version: status %d", code)
	}
	if got := stdout.String(); got != "ringd "+buildinfo.Get().String()+"\n" {
		t.Errorf("--version printed %q", got)
	}
	stdout.Reset()
	if code := realMain([]string{"--nope"}, envOf(nil), &stdout, &stderr); code != exitUsage {
		t.Errorf("--nope: status %d, want %d", code, exitUsage)
	}
	if got := stderr.String(); got != "ringd: unknown flag --nope (see ringd --help)\n" || stdout.Len() != 0 {
		t.Errorf("--nope: stderr %q, stdout %q", got, stdout.String())
	}
}

// TestBinary builds ringd once and runs it as a user would.
func TestBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build ringd: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "ringd")
	build := exec.Command(goTool, "build", "-ldflags", "-X github.com/ringd/ringd/internal/buildinfo.Version=v9.8.7-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The environment without any RINGD_ variable of the test runner.
	var baseEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			baseEnv = append(baseEnv, kv)
		}
	}
	runBin := func(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(append([]string{}, baseEnv...), env...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			code = exitErr.ExitCode()
		default:
			t.Fatalf("running ringd: %v", err)
		}
		return code, o.String(), e.String()
	}
	// oneLine checks a usage error: status 2, nothing on stdout, one
	// "ringd: " line on stderr containing every want.
	oneLine := func(t *testing.T, code int, stdout, stderr string, want ...string) {
		t.Helper()
		if code != exitUsage {
			t.Errorf("exit status %d, want %d", code, exitUsage)
		}
		if stdout != "" {
			t.Errorf("stdout = %q, want nothing", stdout)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || !strings.HasPrefix(stderr, "ringd: ") {
			t.Errorf("stderr = %q, want one line starting with \"ringd: \"", stderr)
		}
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr %q lacks %q", stderr, w)
			}
		}
	}

	t.Run("help", func(t *testing.T) {
		code, stdout, stderr := runBin(t, nil, "--help")
		if code != 0 {
			t.Errorf("exit status %d, want 0 (stderr %q)", code, stderr)
		}
		i := strings.Index(stdout, "  --partitions ")
		if i < 0 {
			t.Fatalf("--help does not list --partitions:\n%s", stdout)
		}
		block, _, _ := strings.Cut(stdout[i+3:], "\n  --")
		if !strings.Contains(block, "271") || !strings.Contains(block, "RINGD_PARTITIONS") {
			t.Errorf("--partitions help %q lacks its default 271 or RINGD_PARTITIONS", block)
		}
		if !strings.HasPrefix(stdout, "Usage: ringd") || !strings.Contains(stdout, "partition-ownership sidecar") {
			t.Errorf("--help lacks the usage line or description:\n%s", stdout)
		}
	})
	t.Run("version", func(t *testing.T) {
		code, stdout, _ := runBin(t, nil, "--version")
		if code != 0 || !strings.HasPrefix(stdout, "ringd v9.8.7-test (commit ") {
			t.Errorf("--version: status %d, stdout %q; want 0 and the -ldflags version", code, stdout)
		}
	})
	t.Run("unknown flag", func(t *testing.T) {
		code, stdout, stderr := runBin(t, nil, "--bogus")
		oneLine(t, code, stdout, stderr, "--bogus")
	})
	t.Run("load out of bounds", func(t *testing.T) {
		code, stdout, stderr := runBin(t, nil, "--load", "0.5")
		oneLine(t, code, stdout, stderr, "--load", ">= 1", "0.5")
	})
	t.Run("bad environment value", func(t *testing.T) {
		code, stdout, stderr := runBin(t, []string{"RINGD_PARTITIONS=abc"})
		oneLine(t, code, stdout, stderr, "RINGD_PARTITIONS", `"abc"`)
	})
	t.Run("bad config file key", func(t *testing.T) {
		p := configFile(t, `{"partitions": 3, "lease": "3s", "wat": 1}`)
		code, stdout, stderr := runBin(t, nil, "--config", p)
		oneLine(t, code, stdout, stderr, p, `"wat"`)
	})
	t.Run("several bad values", func(t *testing.T) {
		code, stdout, stderr := runBin(t, []string{"RINGD_DRIFT=0.9"}, "--partitions", "0", "--name", "a b")
		oneLine(t, code, stdout, stderr, "--partitions", "--name", "--drift", "RINGD_DRIFT")
	})
}
