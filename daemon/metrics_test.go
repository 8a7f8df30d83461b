package daemon

import (
	"os"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/buildinfo"
)

// TestMetricsFromStart checks the series an operator alerts on exist before
// anything happened, and that the build is labelled.
func TestMetricsFromStart(t *testing.T) {
	fams, err := newMetrics().reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	channels := map[string]bool{}
	build := false
	for _, f := range fams {
		switch f.GetName() {
		case "ringd_peer_send_failures_total":
			for _, m := range f.GetMetric() {
				if v := m.GetCounter().GetValue(); v != 0 {
					t.Errorf("send failures %v at start", v)
				}
				for _, l := range m.GetLabel() {
					channels[l.GetValue()] = true
				}
			}
		case "ringd_build_info":
			bi := buildinfo.Get()
			m := f.GetMetric()[0]
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if m.GetGauge().GetValue() != 1 || labels["version"] != bi.Version || labels["commit"] != bi.Commit || labels["goversion"] != bi.GoVersion {
				t.Errorf("ringd_build_info = %v %v, want 1 with %+v", m.GetGauge().GetValue(), labels, bi)
			}
			build = true
		}
	}
	for _, ch := range []string{"udp", "tcp", "queue"} {
		if !channels[ch] {
			t.Errorf("ringd_peer_send_failures_total{channel=%q} missing at start", ch)
		}
	}
	if !build {
		t.Error("ringd_build_info missing")
	}
}

// TestMetricsDocumented keeps docs/operations.md listing every series the
// daemon registers.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	fams, err := newMetrics().reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		name := f.GetName()
		if strings.HasPrefix(name, "ringd_") && !strings.Contains(string(doc), "`"+name) {
			t.Errorf("docs/operations.md does not describe %s", name)
		}
	}
}
