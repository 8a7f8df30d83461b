package main

import (
	"debug/elf"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 1234, stime 56.
	stat := "4242 (ringd (x) y) S 1 4242 4242 0 -1 4194560 1085 0 0 0 1234 56 0 0 20 0 9 0 123 0 0\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil || got != 1290 {
		t.Fatalf("parseStatCPU = %d, %v; want 1290", got, err)
	}
	for _, bad := range []string{"", "4242 ringd S 1", "4242 (ringd) S 1 2 3", "4242 (ringd) S 1 4242 4242 0 -1 4194560 1085 0 0 0 x 56 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) accepted it", bad)
		}
	}
	// This process's own line parses, and its CPU time only grows.
	a, err := readProcCPU(os.Getpid())
	if err != nil {
		t.Fatalf("reading our own /proc/<pid>/stat: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		b, err := readProcCPU(os.Getpid())
		if err != nil || b.ticks < a.ticks {
			t.Fatalf("second reading %d (%v), first %d", b.ticks, err, a.ticks)
		}
		if b.ticks > a.ticks {
			return
		}
	}
	t.Fatalf("5 s of busy polling added no CPU tick")
}

func TestCPUPercent(t *testing.T) {
	t0 := time.Unix(100, 0)
	// 30 ticks (0.3 s of CPU) over 30 s of wall time: 1 % of a core.
	got := cpuPercent(procCPU{ticks: 1000, at: t0}, procCPU{ticks: 1030, at: t0.Add(30 * time.Second)})
	if math.Abs(got-1) > 1e-9 {
		t.Fatalf("cpuPercent = %v, want 1", got)
	}
	if got := cpuPercent(procCPU{ticks: 5, at: t0}, procCPU{ticks: 9, at: t0}); got != 0 {
		t.Fatalf("no wall time: cpuPercent = %v, want 0", got)
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tringd\nVmPeak:\t 1300000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   19456 kB\nThreads:\t9\n"
	rss, hwm, err := parseStatusMemory([]byte(status))
	if err != nil || rss != 19456 || hwm != 20480 {
		t.Fatalf("parseStatusMemory = %d, %d, %v; want 19456, 20480", rss, hwm, err)
	}
	if _, _, err := parseStatusMemory([]byte("Name:\tkthreadd\nThreads:\t1\n")); err == nil {
		t.Fatalf("a status without VmRSS was accepted")
	}
	if _, _, err := parseStatusMemory([]byte("VmRSS:\t 12 MB\nVmHWM:\t 12 kB\n")); err == nil {
		t.Fatalf("a status in another unit was accepted")
	}
}

func TestClusterSumsAndLeader(t *testing.T) {
	var ms []memberFootprint
	for trial := range 2 {
		for i := range footprintMembers {
			ms = append(ms, memberFootprint{leader: i == trial, cpu: float64(trial*10 + i)})
		}
	}
	sums := clusterSums(ms)
	if len(sums) != 2 || sums[0] != 0+1+2+3+4 || sums[1] != 10+11+12+13+14 {
		t.Fatalf("clusterSums = %v, want [10 60]", sums)
	}
	followers, leaders := splitLeader(ms)
	if len(followers) != 8 || len(leaders) != 2 || leaders[0].cpu != 0 || leaders[1].cpu != 11 {
		t.Fatalf("splitLeader: %d followers, leaders %+v", len(followers), leaders)
	}
	v := footprintVerdict(ms, 10*time.Second)
	if !strings.Contains(v, "missed (highest: 14.00 %, a follower)") || !strings.Contains(v, "one tick is 0.10 %") {
		t.Fatalf("verdict %q", v)
	}
}

func TestStrippable(t *testing.T) {
	sections := []*elf.Section{
		{SectionHeader: elf.SectionHeader{Name: ".text", Type: elf.SHT_PROGBITS, FileSize: 1000}},
		{SectionHeader: elf.SectionHeader{Name: ".symtab", Type: elf.SHT_SYMTAB, FileSize: 200}},
		{SectionHeader: elf.SectionHeader{Name: ".strtab", Type: elf.SHT_STRTAB, FileSize: 100}},
		{SectionHeader: elf.SectionHeader{Name: ".debug_info", Type: elf.SHT_PROGBITS, FileSize: 40}},
		{SectionHeader: elf.SectionHeader{Name: ".zdebug_line", Type: elf.SHT_PROGBITS, FileSize: 2}},
		{SectionHeader: elf.SectionHeader{Name: ".bss", Type: elf.SHT_NOBITS, FileSize: 5000}},
	}
	if got := strippable(sections); got != 342 {
		t.Fatalf("strippable = %d, want 342", got)
	}
}
