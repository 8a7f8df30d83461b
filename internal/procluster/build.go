package procluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RingdEnv names an environment variable that, when set, gives the ringd
// binary BuildRingd returns instead of building one (e.g. bin/ringd from
// `make build`).
const RingdEnv = "PROCLUSTER_RINGD"

// RingdPackage is the import path of the ringd command.
const RingdPackage = "github.com/ringd/ringd/cmd/ringd"

// BuildRingd returns the path of a ringd binary for end-to-end tests: $RingdEnv
// if set, else a fresh `go build` of RingdPackage into dir (with the race
// detector when race is true). Call it once, e.g. from TestMain, from inside
// the module (tests run in their package's directory, which is).
func BuildRingd(ctx context.Context, dir string, race bool) (string, error) {
	return BuildRingdTags(ctx, dir, race)
}

// BuildRingdTags is BuildRingd with build tags (e.g. "testclock", which lets
// a test shift a member's wall clock). With tags, $RingdEnv is not used: that
// binary was built without them.
func BuildRingdTags(ctx context.Context, dir string, race bool, tags ...string) (string, error) {
	if p := os.Getenv(RingdEnv); p != "" && len(tags) == 0 {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("procluster: $%s: %w", RingdEnv, err)
		}
		return abs, nil
	}
	out := filepath.Join(dir, "ringd")
	if len(tags) > 0 {
		out += "-" + strings.Join(tags, "-")
	}
	if err := Build(ctx, RingdPackage, out, race, tags...); err != nil {
		return "", err
	}
	return out, nil
}

// WorkerPackage is the import path of the example worker (clientlib's).
const WorkerPackage = "github.com/ringd/ringd/cmd/ringd-worker"

// BuildWorker builds WorkerPackage into dir and returns the binary's path.
func BuildWorker(ctx context.Context, dir string, race bool) (string, error) {
	out := filepath.Join(dir, "ringd-worker")
	return out, Build(ctx, WorkerPackage, out, race)
}

// Build runs `go build [-race] [-tags ...] -o out pkg` in the current
// directory and returns its output in the error when it fails.
func Build(ctx context.Context, pkg, out string, race bool, tags ...string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goTool = filepath.Join(root, "bin", "go")
		} else {
			return fmt.Errorf("procluster: no go command on PATH: %w", err)
		}
	}
	args := []string{"build"}
	if race {
		args = append(args, "-race")
	}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, goTool, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("procluster: go %v: %w\n%s", args, err, buf.String())
	}
	return nil
}

// BuildRingdAt builds the ringd of git commit ref of this repository into
// dir (a detached worktree, removed afterwards) and returns the binary's
// path: an earlier release, for upgrade tests and baselines. It needs the
// repository's history (a shallow clone that lacks ref fails with git's
// message) and the modules that ref requires (fetched like any others).
func BuildRingdAt(ctx context.Context, dir, ref string) (string, error) {
	src := filepath.Join(dir, "src-"+ref)
	out := filepath.Join(dir, "ringd-"+ref)
	add := exec.CommandContext(ctx, "git", "worktree", "add", "--detach", "--force", src, ref)
	if msg, err := add.CombinedOutput(); err != nil {
		return "", fmt.Errorf("procluster: git worktree add %s: %v: %s", ref, err, strings.TrimSpace(string(msg)))
	}
	defer func() {
		_ = exec.Command("git", "worktree", "remove", "--force", src).Run()
	}()
	build := exec.CommandContext(ctx, "go", "build", "-o", out, RingdPackage)
	build.Dir = src
	// The old go.sum may lack what this toolchain wants to check; the
	// module cache and the proxy fill it in.
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if msg, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("procluster: building ringd at %s: %v: %s", ref, err, strings.TrimSpace(string(msg)))
	}
	return out, nil
}
