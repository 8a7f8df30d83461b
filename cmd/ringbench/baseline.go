package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/ringd/ringd/internal/procluster"
)

// DefaultBaselineRef is the commit whose ringd the figures compare against
// when they measure "before": main as it stood when the performance work of
// issue 11 began.
const DefaultBaselineRef = "6760ed2"

// baseline builds the ringd of a baseline commit once per run.
type baseline struct {
	ref     string
	scratch string
	once    sync.Once
	path    string
	err     error
}

// BaselineRingd returns a ringd binary (no race detector) built from the
// baseline commit (--baseline-ref), for figures that measure a before/after
// pair in the same run. It is built on first use, from a detached git
// worktree of this repository, and cached for the rest of the run.
func (e *Env) BaselineRingd(ctx context.Context) (string, error) {
	b := e.baseline
	if b == nil {
		return "", fmt.Errorf("no baseline configured")
	}
	b.once.Do(func() {
		e.Log.Info("building the baseline ringd", "ref", b.ref)
		b.path, b.err = procluster.BuildRingdAt(ctx, b.scratch, b.ref)
	})
	return b.path, b.err
}
