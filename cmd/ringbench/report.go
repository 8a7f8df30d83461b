package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Section is what one figure contributes to docs/benchmarks.md.
type Section struct {
	// Title heads the section, e.g. "a. Failover after SIGKILL".
	Title string
	// Command reruns just this figure (written in the report as a code line).
	Command string
	// Setup says in a sentence or two what ran: members, partitions, timings,
	// trials, load.
	Setup string
	// Tables hold the figures; put each timing next to its baseline, measured
	// in the same run.
	Tables []Table
	// Notes are paragraphs after the tables: goals met or missed and why,
	// before/after of a fix.
	Notes []string
}

// Table is one markdown table.
type Table struct {
	Header []string
	Rows   [][]string
}

// AddRow appends one row; cells are formatted with fmt.Sprint.
func (t *Table) AddRow(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.Rows = append(t.Rows, row)
}

// Dist summarises repeated measurements of one quantity.
type Dist struct {
	N                int
	Min, Median, P99 float64
}

// Summarize returns min, median and p99 of xs (nearest-rank percentiles: with
// fewer than 100 samples the p99 is the maximum).
func Summarize(xs []float64) Dist {
	if len(xs) == 0 {
		return Dist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Dist{N: len(s), Min: s[0], Median: rank(0.5), P99: rank(0.99)}
}

// Durations summarises durations in seconds.
func Durations(ds []time.Duration) Dist {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = d.Seconds()
	}
	return Summarize(xs)
}

// Milliseconds summarises durations in milliseconds.
func Milliseconds(ds []time.Duration) Dist {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d) / float64(time.Millisecond)
	}
	return Summarize(xs)
}

// Seconds formats a Dist of seconds as "min / median / p99 s (n=N)".
func (d Dist) Seconds() string {
	if d.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("%.2f / %.2f / %.2f s (n=%d)", d.Min, d.Median, d.P99, d.N)
}

// Format formats a Dist with a printf verb and unit, e.g. d.Format("%.1f", "ms").
func (d Dist) Format(verb, unit string) string {
	if d.N == 0 {
		return "no samples"
	}
	f := verb + " / " + verb + " / " + verb + " %s (n=%d)"
	return fmt.Sprintf(f, d.Min, d.Median, d.P99, unit, d.N)
}

// Machine describes where the figures were measured.
type Machine struct {
	Date   string
	Cores  int
	CPU    string
	Memory string
	GoVer  string
	OS     string
	Commit string
}

func readMachine() Machine {
	m := Machine{
		Date:  time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Cores: runtime.NumCPU(),
		GoVer: runtime.Version(),
		OS:    runtime.GOOS + "/" + runtime.GOARCH,
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(fields[1], 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", kb/1024/1024)
				}
			}
		}
		f.Close()
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

func (m Machine) String() string {
	cpu := m.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	return fmt.Sprintf("%s; %d cores (%s), %s memory, %s, %s, commit %s",
		m.Date, m.Cores, cpu, m.Memory, m.GoVer, m.OS, m.Commit)
}

// markers delimit one figure's section in the report, so that a run of some
// figures replaces only their sections and keeps the others.
func beginMarker(id string) string { return "<!-- ringbench:" + id + " -->" }
func endMarker(id string) string   { return "<!-- /ringbench:" + id + " -->" }

// renderSection writes one figure's section, markers included.
func renderSection(id string, s Section, m Machine, quick bool) string {
	var b strings.Builder
	b.WriteString(beginMarker(id) + "\n")
	fmt.Fprintf(&b, "## %s\n\n", s.Title)
	run := "full run"
	if quick {
		run = "quick run (`make bench-quick`): fewer trials, read as a smoke check"
	}
	fmt.Fprintf(&b, "Measured %s, %s.\n\n", m, run)
	if s.Command != "" {
		fmt.Fprintf(&b, "    %s\n\n", s.Command)
	}
	if s.Setup != "" {
		b.WriteString(s.Setup + "\n\n")
	}
	for _, t := range s.Tables {
		b.WriteString("| " + strings.Join(t.Header, " | ") + " |\n")
		b.WriteString("|" + strings.Repeat("---|", len(t.Header)) + "\n")
		for _, r := range t.Rows {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
	for _, n := range s.Notes {
		b.WriteString(n + "\n\n")
	}
	b.WriteString(endMarker(id) + "\n")
	return b.String()
}

// mergeReport returns old with the sections in fresh (figure id -> rendered
// section) replaced, and sections it did not have appended in figure order.
// Text outside the markers is kept as it is.
func mergeReport(old string, fresh map[string]string, order []string) string {
	out := old
	if strings.TrimSpace(out) == "" {
		out = reportPreamble
	}
	for _, id := range order {
		sec, ok := fresh[id]
		if !ok {
			continue
		}
		b, e := strings.Index(out, beginMarker(id)), strings.Index(out, endMarker(id))
		if b >= 0 && e > b {
			e += len(endMarker(id))
			if e < len(out) && out[e] == '\n' {
				e++
			}
			out = out[:b] + sec + out[e:]
			continue
		}
		// Insert before the first section of a later figure, else before
		// the hand-written part that follows the figures, else at the end.
		at := len(out)
		if i := strings.Index(out, historyMarker); i >= 0 {
			at = i
		}
		for _, later := range order[slices.Index(order, id)+1:] {
			if i := strings.Index(out, beginMarker(later)); i >= 0 {
				at = i
				break
			}
		}
		if !strings.HasSuffix(out[:at], "\n\n") {
			sec = "\n" + sec
		}
		out = out[:at] + sec + "\n" + out[at:]
	}
	return out
}

// historyMarker starts the part of the report that ringbench does not
// write (earlier hand-run measurements); new sections go before it.
const historyMarker = "<!-- ringbench:history -->"

const reportPreamble = `# Benchmarks

Written by ` + "`make bench`" + ` (cmd/ringbench); ` + "`make bench-quick`" + ` runs the same
figures with fewer trials. Each section says when and on what machine it
was measured and how to rerun it alone. Timings are min / median / p99 over
the trials (nearest rank: with fewer than 100 trials the p99 is the
maximum), each next to its baseline measured in the same run. The goals are
those of issue 11; where a figure misses its goal the section says so.

`
