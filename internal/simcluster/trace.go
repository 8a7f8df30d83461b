package simcluster

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// tracer keeps a run's trace: one line per event, stamped with the virtual
// time since the start, shown (the end of it) when a test fails.
type tracer struct {
	t     testing.TB
	start time.Time
	now   func() time.Time // global virtual time
	lines []string
	// verbose logs every line with t.Log as it is added (replaying a seed).
	verbose bool
}

// Elapsed is the virtual time since the start.
func (tr *tracer) Elapsed() time.Duration { return tr.now().Sub(tr.start) }

// Logf adds a line to the trace, stamped with the virtual time since start.
func (tr *tracer) Logf(format string, args ...any) {
	line := fmt.Sprintf("%8v  ", tr.Elapsed()) + fmt.Sprintf(format, args...)
	tr.lines = append(tr.lines, line)
	if tr.verbose {
		tr.t.Log(line)
	}
}

// Trace returns the last n lines of the trace.
func (tr *tracer) Trace(n int) string {
	lines := tr.lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// SetVerbose logs the trace with t.Log as it happens (when replaying a seed).
func (tr *tracer) SetVerbose(on bool) { tr.verbose = on }

// T is the test the cluster reports to.
func (tr *tracer) T() testing.TB { return tr.t }
