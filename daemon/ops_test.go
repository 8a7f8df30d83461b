package daemon

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/memnet"
)

// The ops listener serves the probes and the metrics, and nothing of the
// API; /readyz is ready once the member is admitted and stops being ready
// when it starts leaving.
func TestOpsListenerServesOnlyProbesAndMetrics(t *testing.T) {
	net := memnet.New(1)
	tr, err := net.NewTransport("127.0.0.1:7946")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig("m0", "127.0.0.1:7946", 8, nil, 0)
	cfg.OpsAddr = "127.0.0.1:0"
	d, err := Start(mustResolve(t, cfg), hclog.NewNullLogger(), WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Crash()
	ops := "http://" + d.OpsAddr()

	get := func(method, path string) (int, string) {
		t.Helper()
		return httpCall(t, method, ops+path)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := get(http.MethodGet, "/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz on the ops listener: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get(http.MethodGet, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get(http.MethodGet, "/metrics"); code != http.StatusOK || !strings.Contains(body, "ringd_") {
		t.Errorf("/metrics: %d", code)
	}
	for _, probe := range []struct{ method, path string }{
		{http.MethodGet, "/partitions/mine"}, {http.MethodGet, "/partitions"}, {http.MethodGet, "/cluster"},
		{http.MethodPost, "/admin/drain"}, {http.MethodPost, "/partitions/0/release"}, {http.MethodGet, "/dashboard"},
	} {
		code, body := get(probe.method, probe.path)
		var e api.Error
		if code != http.StatusNotFound || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, "ops listener") {
			t.Errorf("%s %s on the ops listener: %d %s, want a 404 saying what the listener serves", probe.method, probe.path, code, body)
		}
	}

	d.setMetaFlags(func(f *metaFlags) { f.leaving = true })
	code, body := get(http.MethodGet, "/readyz")
	var r api.Ready
	if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &r) != nil || !strings.Contains(r.Reason, "shutting down") {
		t.Errorf("/readyz while leaving: %d %s", code, body)
	}
}

func TestAdvertisedHTTPAddr(t *testing.T) {
	for _, tc := range []struct {
		http, advertise, gossip, gossipAdvertise, want string
	}{
		{"127.0.0.1:7070", "", "127.0.0.1:7946", "", "127.0.0.1:7070"},         // one host: usable
		{"127.0.0.1:7070", "", "10.1.2.3:7946", "", ""},                        // a pod's loopback: nobody else can use it
		{"0.0.0.0:7070", "", "10.1.2.3:7946", "", "10.1.2.3:7070"},             // all interfaces: the gossip host
		{"0.0.0.0:7070", "", "0.0.0.0:7946", "10.9.8.7:7946", "10.9.8.7:7070"}, // NAT: the gossip advertise host
		{"10.1.2.3:7070", "", "10.1.2.3:7946", "", "10.1.2.3:7070"},
		{"127.0.0.1:7070", "10.1.2.3:7070", "10.1.2.3:7946", "", "10.1.2.3:7070"}, // given
	} {
		d := &Daemon{cfg: Config{HTTPAddr: tc.http, HTTPAdvertiseAddr: tc.advertise, GossipAddr: tc.gossip, AdvertiseAddr: tc.gossipAdvertise}}
		if got := d.advertisedHTTPAddr(); got != tc.want {
			t.Errorf("%+v: advertised %q, want %q", tc, got, tc.want)
		}
	}
}
