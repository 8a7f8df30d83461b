package restapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// counts reads ringd_http_requests_total by its labels, and the sample count
// of ringd_http_request_duration_seconds by route and method.
func counts(t *testing.T, reg *prometheus.Registry) (requests map[[3]string]float64, timed map[[2]string]uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	requests, timed = map[[3]string]float64{}, map[[2]string]uint64{}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "ringd_http_requests_total":
				requests[[3]string{label(m, "route"), label(m, "method"), label(m, "code")}] = m.GetCounter().GetValue()
			case "ringd_http_request_duration_seconds":
				timed[[2]string{label(m, "route"), label(m, "method")}] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	return requests, timed
}

func TestHTTPMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFullFake(20, "a", "b")
	_, ts, _ := newHTTPTest(t, f, Options{Registerer: reg, MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})})
	c := newClient(t)

	get(t, c, ts.URL+"/partitions/3")
	get(t, c, ts.URL+"/partitions/4")
	get(t, c, ts.URL+"/partitions/99")
	get(t, c, ts.URL+"/partitions/mine")
	get(t, c, ts.URL+"/partitions/mine?index=42&wait=10ms") // a long-poll
	get(t, c, ts.URL+"/partitions?index=1&wait=10ms")       // another
	get(t, c, ts.URL+"/no/such/path/1")
	get(t, c, ts.URL+"/no/such/path/2")
	do(context.Background(), c, "BREW", ts.URL+"/partitions/mine")
	post(t, c, ts.URL+"/admin/drain", "", nil)

	requests, timed := counts(t, reg)
	for key, want := range map[[3]string]float64{
		{"/partitions/:id", "GET", "200"}:    2,
		{"/partitions/:id", "GET", "404"}:    1,
		{"/partitions/mine", "GET", "200"}:   2,
		{"/partitions", "GET", "200"}:        1,
		{unmatchedRoute, "GET", "404"}:       2,
		{"/partitions/mine", "other", "405"}: 1,
		{"/admin/drain", "POST", "200"}:      1,
	} {
		if got := requests[key]; got != want {
			t.Errorf("requests%v = %v, want %v", key, got, want)
		}
	}
	for key := range requests {
		if strings.Contains(key[0], "/no/such") || strings.Contains(key[0], "/3") {
			t.Errorf("a raw path became a label: %v", key)
		}
	}
	// Long-polls stay out of the histogram.
	for key, want := range map[[2]string]uint64{
		{"/partitions/:id", "GET"}:  3,
		{"/partitions/mine", "GET"}: 1,
		{"/partitions", "GET"}:      0,
		{"/admin/drain", "POST"}:    1,
	} {
		if got := timed[key]; got != want {
			t.Errorf("timed%v = %v, want %v", key, got, want)
		}
	}

	// /metrics serves the handler as given.
	r := get(t, c, ts.URL+"/metrics")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `ringd_http_requests_total{code="200",method="GET",route="/partitions/:id"} 2`) {
		t.Fatalf("/metrics: %d\n%s", r.status, r.body)
	}
}

func TestHTTPMetricsClientGone(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{Registerer: reg})
	ctx, cancel := context.WithCancel(context.Background())
	ch := goGet(ctx, newClient(t), ts.URL+"/partitions/mine?index=42&wait=1m")
	waitPolls(t, s, 1)
	cancel()
	<-ch
	waitFor(t, "the 499 to be counted", func() bool {
		requests, _ := counts(t, reg)
		return requests[[3]string{"/partitions/mine", "GET", codeClientGone}] == 1
	})
}

func TestHTTPMetricsTwoServersOneRegistry(t *testing.T) {
	// A second Server on the same registry shares the series rather than
	// failing or losing them.
	reg := prometheus.NewRegistry()
	_, ts1, _ := newHTTPTest(t, newFake(sampleMine()), Options{Registerer: reg})
	_, ts2, _ := newHTTPTest(t, newFake(sampleMine()), Options{Registerer: reg})
	c := newClient(t)
	get(t, c, ts1.URL+"/healthz")
	get(t, c, ts2.URL+"/healthz")
	requests, _ := counts(t, reg)
	if got := requests[[3]string{"/healthz", "GET", "200"}]; got != 2 {
		t.Fatalf("healthz count %v, want 2", got)
	}
}

func TestNoRegistererNoMetrics(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{})
	if r := get(t, newClient(t), ts.URL+"/healthz"); r.status != http.StatusOK {
		t.Fatal(r.status)
	}
}

// TestLongPollGauge shows the waiting long-polls in ringd_http_long_polls.
func TestLongPollGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{Registerer: reg})
	gauge := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "ringd_http_long_polls" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no ringd_http_long_polls")
		return 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := goGet(ctx, newClient(t), ts.URL+"/partitions/mine?index=42&wait=1m")
	waitPolls(t, s, 1)
	if g := gauge(); g != 1 {
		t.Fatalf("gauge %v with one long-poll waiting", g)
	}
	cancel()
	<-ch
	waitPolls(t, s, 0)
	if g := gauge(); g != 0 {
		t.Fatalf("gauge %v after the long-poll ended", g)
	}
}
