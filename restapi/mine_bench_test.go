package restapi

import (
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/clientlib/api"
)

// benchMine is a view the size figure f measures: a member of five owning
// its ~205 of 1024 partitions, tokens of a realistic magnitude.
func benchMine() api.Mine {
	m := api.Mine{Node: "ringd-1", Incarnation: "1796185571692368123", Term: 1796185571692, Index: 1796185571692368,
		Leader: "ringd-4", LeaseRemainingMs: 9123}
	for id := 0; id < 1024; id += 5 {
		m.Partitions = append(m.Partitions, api.Partition{ID: id, Token: 1796185571692000 + uint64(id), State: "owned", LeaseRemainingMs: 9123})
	}
	return m
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler, not a recorder's buffer.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkGetMine is one plain GET /partitions/mine through the whole
// handler chain (metrics, logging at the daemon's default level), the cost
// figure f compares with a plain handler.
func BenchmarkGetMine(b *testing.B) {
	// A DeadlineSource, as the daemon is.
	v := benchMine()
	now := time.Now()
	m := &MineDeadlines{Mine: v, LeaseUntil: now.Add(time.Hour)}
	for range v.Partitions {
		m.Until = append(m.Until, now.Add(time.Hour))
	}
	benchGetMine(b, &deadlineSource{fakeSource: newFake(v), m: m})
}

// benchGetMine runs plain GET /partitions/mine requests against src
// through the whole handler chain.
func benchGetMine(b *testing.B, src Source) {
	s := New(src, Options{Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: discard{}}), Registerer: prometheus.NewRegistry()})
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, "/partitions/mine", nil)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
	}
	// CPU time rather than wall time per request: on a shared machine it is
	// the figure that holds still.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
