// Package testlog sends the log output of code under test to the test's log
// (testing.TB.Log), for hclog loggers and the standard library's log.Logger
// alike.
package testlog

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// Writer is an io.Writer that passes each write to t.Log, without its
// trailing newline, until the test's cleanup runs, and drops it after that:
// memberlist and HTTP servers may log from goroutines that outlive the test,
// and t.Log panics then. It is safe for concurrent use.
type Writer struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
	skip []byte
	kept *bytes.Buffer
}

// New returns a Writer into t.Log. Create it before registering the cleanups
// that stop what logs into it, so that its own cleanup runs after them.
func New(t testing.TB) *Writer {
	w := &Writer{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

// Skip drops every write that contains substr (a level such as "[DEBUG]").
func (w *Writer) Skip(substr string) *Writer {
	w.skip = []byte(substr)
	return w
}

// Keep makes the Writer also keep a copy of everything written, for String,
// also after the test ended.
func (w *Writer) Keep() *Writer {
	w.kept = new(bytes.Buffer)
	return w
}

func (w *Writer) Write(p []byte) (int, error) {
	if len(w.skip) > 0 && bytes.Contains(p, w.skip) {
		return len(p), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.kept != nil {
		w.kept.Write(p)
	}
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// String returns what was written, if the Writer keeps it (Keep).
func (w *Writer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.kept == nil {
		return ""
	}
	return w.kept.String()
}
