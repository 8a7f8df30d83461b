package procluster

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// RunWithRingd is the body of a TestMain whose tests start ringd processes:
// it builds ringd once (BuildRingd, without the race detector) into a
// temporary directory, stores its path in *bin, runs the tests, removes the
// directory and returns the exit code.
func RunWithRingd(m *testing.M, bin *string) int {
	dir, err := os.MkdirTemp("", "ringd-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	*bin, err = BuildRingd(ctx, dir, false)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building ringd:", err)
		return 1
	}
	return m.Run()
}
