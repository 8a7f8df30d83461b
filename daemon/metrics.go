package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the daemon's Prometheus series. Each daemon has its own
// registry, so several run side by side in one test process.
type metrics struct {
	reg *prometheus.Registry

	droppedInbound prometheus.Counter
	badMessages    prometheus.Counter
	sendFailures   *prometheus.CounterVec
	isLeader       prometheus.Gauge
	term           prometheus.Gauge
	tableVersion   prometheus.Gauge
	owned          prometheus.Gauge
	leaseValid     prometheus.Gauge
	members        *prometheus.GaugeVec
	leaderChanges  prometheus.Counter
	leaseExpiries  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		droppedInbound: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_peer_messages_dropped_total",
			Help: "Peer messages dropped because the event loop was behind."}),
		badMessages: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_peer_messages_malformed_total",
			Help: "Peer messages refused as malformed."}),
		sendFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringd_peer_send_failures_total",
			Help: "Peer messages that could not be sent, by channel."}, []string{"channel"}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_leader",
			Help: "1 while this member leads with a valid leader lease."}),
		term: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_term",
			Help: "Current election term."}),
		tableVersion: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_table_version",
			Help: "Version of the newest applied table."}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_owned_partitions",
			Help: "Partitions this member's app may work on now."}),
		leaseValid: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_lease_valid",
			Help: "1 while this member's lease runs."}),
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ringd_members",
			Help: "Members by state as this member sees them."}, []string{"state"}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_leader_changes_total",
			Help: "Times the leader this member follows changed."}),
		leaseExpiries: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_lease_expiries_total",
			Help: "Times this member's lease ran out while it held partitions."}),
	}
	m.reg.MustRegister(m.droppedInbound, m.badMessages, m.sendFailures, m.isLeader, m.term,
		m.tableVersion, m.owned, m.leaseValid, m.members, m.leaderChanges, m.leaseExpiries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
