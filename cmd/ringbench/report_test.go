package main

import (
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	d := Summarize([]float64{5, 1, 3, 2, 4})
	if d.Min != 1 || d.Median != 3 || d.P99 != 5 || d.N != 5 {
		t.Fatalf("Summarize = %+v, want min 1 median 3 p99 5 n 5", d)
	}
	xs := make([]float64, 200)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	if d := Summarize(xs); d.P99 != 198 || d.Median != 100 {
		t.Fatalf("Summarize(1..200) = %+v, want median 100 p99 198", d)
	}
	if got := Durations([]time.Duration{time.Second, 3 * time.Second}).Seconds(); got != "1.00 / 1.00 / 3.00 s (n=2)" {
		t.Fatalf("Seconds() = %q", got)
	}
}

func TestMergeReportReplacesOnlyFiguresThatRan(t *testing.T) {
	m := Machine{Date: "d"}
	a1 := renderSection("a", Section{Title: "A one"}, m, false)
	c1 := renderSection("c", Section{Title: "C one"}, m, false)
	order := []string{"a", "b", "c"}
	first := mergeReport("", map[string]string{"a": a1, "c": c1}, order)
	if !strings.HasPrefix(first, "# Benchmarks") || !strings.Contains(first, "A one") || !strings.Contains(first, "C one") {
		t.Fatalf("first report:\n%s", first)
	}
	b1 := renderSection("b", Section{Title: "B one"}, m, false)
	a2 := renderSection("a", Section{Title: "A two"}, m, false)
	second := mergeReport(first, map[string]string{"a": a2, "b": b1}, order)
	if strings.Contains(second, "A one") || !strings.Contains(second, "A two") || !strings.Contains(second, "C one") {
		t.Fatalf("second report:\n%s", second)
	}
	ia, ib, ic := strings.Index(second, "A two"), strings.Index(second, "B one"), strings.Index(second, "C one")
	if !(ia < ib && ib < ic) {
		t.Fatalf("sections out of order (a %d, b %d, c %d):\n%s", ia, ib, ic, second)
	}
	if again := mergeReport(second, map[string]string{"b": b1}, order); again != second {
		t.Fatalf("re-merging the same section changed the report:\n%s", again)
	}
}

func TestBadFlags(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(t.Context(), []string{"--figures", "zz"}, &out, &errOut); code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitUsage, errOut.String())
	}
	if !strings.Contains(errOut.String(), `unknown figure "zz"`) {
		t.Fatalf("stderr %q does not name the bad figure", errOut.String())
	}
}

func TestMergeReportKeepsTheHistoryLast(t *testing.T) {
	old := "# Benchmarks\n\nintro\n\n" + historyMarker + "\n## Earlier\n\nold figures\n"
	a := renderSection("a", Section{Title: "A"}, Machine{}, false)
	got := mergeReport(old, map[string]string{"a": a}, []string{"a", "b"})
	if ia, ih := strings.Index(got, "## A"), strings.Index(got, "## Earlier"); ia < 0 || ih < 0 || ia > ih {
		t.Fatalf("section a not before the history:\n%s", got)
	}
}
