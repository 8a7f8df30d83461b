package daemon

import (
	"sync"
	"time"

	gometrics "github.com/hashicorp/go-metrics"
	gmprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// memberlistTelemetry is the registry that memberlist's own metrics land in
// (memberlist_gossip, memberlist_msg_alive, memberlist_health_score,
// memberlist_udp_sent, ...): memberlist reports through go-metrics' global
// sink, one per process, which this bridges to Prometheus. Each daemon's
// /metrics serves it beside its own registry. The sink is set up once per
// process; several daemons in one process (tests, benchmarks) share it.
var memberlistTelemetry = sync.OnceValue(func() prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	// Expiration 0: a series stays until the process ends, as the rest of
	// ringd's do (an idle counter must not vanish from a rate()).
	sink, err := gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{Registerer: reg, Expiration: 0})
	if err != nil {
		return reg
	}
	cfg := gometrics.DefaultConfig("")
	cfg.EnableHostname = false       // the scrape target names the host
	cfg.EnableRuntimeMetrics = false // the Go collector reports those
	cfg.EnableServiceLabel = false
	cfg.TimerGranularity = time.Millisecond
	if _, err := gometrics.NewGlobal(cfg, sink); err != nil {
		return reg
	}
	return reg
})
