package testlog

import (
	"strings"
	"testing"
)

// recordingTB records what is logged into it.
type recordingTB struct {
	testing.TB
	lines    []string
	cleanups []func()
}

func (r *recordingTB) Log(args ...any) {
	for _, a := range args {
		r.lines = append(r.lines, a.(string))
	}
}

func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func TestWriterLogsUntilCleanupAndKeeps(t *testing.T) {
	tb := &recordingTB{TB: t}
	w := New(tb).Skip("[DEBUG]").Keep()
	for _, line := range []string{"[INFO] one\n", "[DEBUG] noise\n", "[WARN] two\n"} {
		if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	for _, f := range tb.cleanups {
		f()
	}
	if _, err := w.Write([]byte("[INFO] after the test\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(tb.lines, "|"), "[INFO] one|[WARN] two"; got != want {
		t.Errorf("logged %q, want %q", got, want)
	}
	if got, want := w.String(), "[INFO] one\n[WARN] two\n[INFO] after the test\n"; got != want {
		t.Errorf("kept %q, want %q", got, want)
	}
}
