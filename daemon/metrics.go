package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ringd/ringd/internal/buildinfo"
)

// metrics are the daemon's Prometheus series. Each daemon has its own
// registry, so several run side by side in one test process.
type metrics struct {
	reg *prometheus.Registry

	droppedInbound   prometheus.Counter
	unassigned       prometheus.Gauge
	votersForced     prometheus.Gauge
	frozen           prometheus.Gauge
	reloads          *prometheus.CounterVec
	appLive          prometheus.Gauge
	badMessages      prometheus.Counter
	sendFailures     *prometheus.CounterVec
	tablesSuperseded prometheus.Counter
	isLeader         prometheus.Gauge
	term             prometheus.Gauge
	tableVersion     prometheus.Gauge
	owned            prometheus.Gauge
	leaseValid       prometheus.Gauge
	members          *prometheus.GaugeVec
	voter            prometheus.Gauge
	voters           prometheus.Gauge
	leaderChanges    prometheus.Counter
	leaseExpiries    prometheus.Counter
	elections        prometheus.Counter
	movesStarted     prometheus.Counter
	movesFinished    prometheus.Counter
	grants           prometheus.Counter
	handoff          prometheus.Histogram
	standbyGrants    prometheus.Counter
	rejoinGrants     prometheus.Counter
	reserved         prometheus.Gauge
	standbyFor       prometheus.Gauge

	// The children of members, looked up once: the loop sets them after
	// every change of the member list.
	membersAlive, membersDead, membersDraining prometheus.Gauge
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
		tablesSuperseded: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_peer_tables_superseded_total",
			Help: "Tables not sent to a peer because a newer one was queued for it first."}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_leader",
			Help: "1 while this member leads with a valid leader lease."}),
		term: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_term",
			Help: "Current election term."}),
		tableVersion: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_table_version",
			Help: "Version of the newest applied table."}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_owned_partitions",
			Help: "Partitions this member's app may work on now."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ringd_secret_reloads_total",
			Help: "Reloads of --admin-token-file (file=admin-token), the TLS certificate (file=tls) and --gossip-key-file (file=gossip-key), by result (ok, error: the previous one stays)."},
			[]string{"file", "result"}),
		appLive: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_app_live",
			Help: "0 while this member is drained because its application has not polled within --app-liveness-timeout; 1 otherwise."}),
		unassigned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_partitions_unassigned",
			Help: "Partitions the newest table this member applied gives to nobody (between a release and the next grant, or after a failure until the leader grants them again)."}),
		frozen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_frozen",
			Help: "1 while the newest table this member applied freezes the assignment (maintenance mode, POST /admin/freeze)."}),
		votersForced: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_voters_forced",
			Help: "1 while this member elects by a voter configuration an operator forced (POST /admin/recover), until the recovered leader's first table replaces it."}),
		leaseValid: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_lease_valid",
			Help: "1 while this member's lease runs."}),
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ringd_members",
			Help: "Members by state as this member sees them."}, []string{"state"}),
		voter: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_voter",
			Help: "1 while this member votes in elections (counts for the majority)."}),
		voters: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_voters",
			Help: "Voters in the configuration as this member sees it (during a change, old and new together)."}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_leader_changes_total",
			Help: "Times the leader this member follows changed."}),
		leaseExpiries: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_lease_expiries_total",
			Help: "Times this member's lease ran out while it held partitions."}),
		elections: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_elections_won_total",
			Help: "Elections this member won."}),
		movesStarted: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_moves_started_total",
			Help: "Planned partition moves this member started as leader."}),
		movesFinished: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_moves_finished_total",
			Help: "Planned partition moves that reached their new owner, as leader."}),
		grants: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_grants_total",
			Help: "Unassigned partitions granted by this member as leader (start-up, failover)."}),
		standbyGrants: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_standby_takeovers_total",
			Help: "Grants by this member as leader that went to one of the partition's standbys (failovers and moves a standby took over)."}),
		rejoinGrants: prometheus.NewCounter(prometheus.CounterOpts{Name: "ringd_rejoin_grants_total",
			Help: "Grants by this member as leader that gave a partition kept for a planned restart back to its member."}),
		reserved: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_partitions_reserved",
			Help: "Partitions the table keeps, owned by nobody, for members away on a planned restart (--shutdown=restart)."}),
		standbyFor: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_standby_partitions",
			Help: "Partitions this member stands by for (--standbys)."}),
		handoff: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ringd_handoff_duration_seconds",
			Help:    "Time from marking a partition releasing to granting it to its new owner.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
	}
	// Every series an operator graphs or alerts on exists from the start at
	// 0: a rate() over a series that appears only with its first failure
	// misses that failure.
	for _, channel := range []string{"udp", "tcp", "queue"} {
		m.sendFailures.WithLabelValues(channel)
	}
	for _, file := range []string{"admin-token", "tls", "gossip-key"} {
		m.reloads.WithLabelValues(file, "ok")
		m.reloads.WithLabelValues(file, "error")
	}
	m.appLive.Set(1)
	bi := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ringd_build_info",
		Help:        "Always 1; the labels say which build of ringd runs (as GET /version).",
		ConstLabels: prometheus.Labels{"version": bi.Version, "commit": bi.Commit, "goversion": bi.GoVersion}})
	build.Set(1)
	m.reg.MustRegister(build)
	m.membersAlive = m.members.WithLabelValues("alive")
	m.membersDead = m.members.WithLabelValues("dead")
	m.membersDraining = m.members.WithLabelValues("draining")
	m.reg.MustRegister(m.elections, m.movesStarted, m.movesFinished, m.grants, m.handoff, m.standbyGrants, m.rejoinGrants, m.reserved, m.standbyFor)
	m.reg.MustRegister(m.droppedInbound, m.badMessages, m.sendFailures, m.tablesSuperseded, m.isLeader, m.term,
		m.tableVersion, m.owned, m.unassigned, m.votersForced, m.frozen, m.reloads, m.appLive, m.leaseValid, m.members, m.voter, m.voters, m.leaderChanges, m.leaseExpiries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
