// Package daemon wires one ringd member together: logging, memberlist with its
// delegates, the protocol core (daemon/core) driven by one event loop, the
// HTTP API, and graceful shutdown.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/partitions"
	"github.com/ringd/ringd/restapi"
)

// Daemon is one running member.
type Daemon struct {
	cfg Config
	// shape is cfg.ShapeFingerprint(), which every peer's metadata is
	// checked against on every gossip alive message; fingerprint is
	// cfg.Fingerprint(), checked instead for a peer of the version before
	// (compatibleMeta).
	shape       string
	fingerprint string
	log         hclog.Logger
	metrics     *metrics
	inc         uint64

	ml *memberlist.Memberlist
	// drainReasons are why this member drains (drainAdmin,
	// drainAppLiveness), owned by the loop; drainShown is the reason
	// /partitions/mine shows ("shutdown" once leaving); drainMu orders the
	// gossiped metadata's updates.
	drainReasons map[string]bool
	drainShown   atomic.Pointer[string]
	drainMu      sync.Mutex
	// appLiveUntil is when the application's latest poll of
	// /partitions/mine ends (UnixNano), for --app-liveness-timeout.
	appLiveUntil atomic.Int64

	// secrets holds the admin token and TLS certificate and reloads them.
	secrets secrets
	// gossipAddr and gossipPort are where memberlist listens, read once at
	// start: the local node memberlist hands out is rewritten on every
	// metadata update, so reading it later races.
	gossipAddr string
	gossipPort int
	metaBytes  atomic.Pointer[[]byte]
	// metaState holds the flags our metadata gossips (see setMeta).
	metaMu sync.Mutex
	// background tracks short-lived goroutines the loop starts.
	background sync.WaitGroup
	metaState  metaFlags

	// Inputs of the loop.
	inbox chan *core.Envelope
	// urgent carries the election messages of voters (heartbeats, their
	// acknowledgements, votes), which the loop takes before the rest: a
	// leader of hundreds of members whose loop falls behind on the
	// members' acknowledgements and reports must still see a majority of
	// voters acknowledge within --leader-lease, or it loses its lease and
	// the cluster its leader (issue 11, figure e). Only the order changes:
	// the network reorders messages of different channels anyway.
	urgent chan *core.Envelope
	// voterNames are the member names of the voters of the newest view
	// (see publish), read by NotifyMsg on memberlist's goroutines. Empty
	// until this member applied a table: before that nothing is urgent.
	voterNames atomic.Pointer[map[string]bool]
	memberWake chan struct{}
	cmds       chan command
	// ackIndex is the highest view index an app acknowledged by polling;
	// ackWake tells the loop it grew.
	ackIndex atomic.Uint64
	ackWake  chan struct{}

	// core is touched only by the loop goroutine.
	core *core.Core
	// identity is the voter identity (core.Options.Identity).
	identity uint64
	// firstIndex is where the view index starts: the wall-clock
	// microsecond of the start, above any index an earlier process of this
	// member handed out unless the clock went back (see GET
	// /partitions/mine ?incarnation= for a guarantee without clocks).
	firstIndex uint64

	// snap is the newest view for the API, replaced by the loop.
	snap atomic.Pointer[snapshot]

	// peers is our copy of the gossip view, written by memberlist's event
	// callbacks; nodes and metas are derived from it by the loop.
	peers peerTable
	// compatible keeps checkCompatible's verdicts (see compatibleCache).
	compatible compatibleCache
	nodesMu    sync.Mutex
	nodes      map[string]*memberlist.Node
	metas      map[string]nodeMeta

	sender  *sender
	changes changeLog
	refused sync.Map // member name -> last refusal reason, to log once
	// fatal gets the one error that ends Run (failOnce): this member must
	// not run (an older ringd with other lease settings is in the cluster).
	fatal    chan error
	failOnce sync.Once

	http   *restapi.Server
	httpLn net.Listener
	// opsLn is the --ops-addr listener, nil without one.
	opsLn net.Listener

	stop         chan struct{}
	loopDone     chan struct{}
	shutdownOnce sync.Once
	shutdownErr  error

	// keyring holds the keys that encrypt gossip and peer messages (nil:
	// encryption off): --gossip-key-file as Config.Resolve read it, and
	// the keys saved in --data-dir. keyMu orders the admin API's changes.
	keyring *memberlist.Keyring
	keyMu   sync.Mutex

	// transport is memberlist's: a netTransport on real sockets, or the
	// one a test gave (WithTransport).
	transport memberlist.NodeAwareTransport
	// tableApplied, when set, hears of every change of the applied table
	// (WithTableApplied).
	tableApplied func(t partitions.Table, at time.Time)
}

// command runs inside the loop with the core; the caller waits for its error.
type command struct {
	fn    func(now time.Time, c *core.Core) error
	reply chan error
}

// Option adjusts a Daemon before it starts (tests).
type Option func(*Daemon)

// WithTransport runs memberlist over the given transport instead of sockets.
func WithTransport(t memberlist.NodeAwareTransport) Option {
	return func(d *Daemon) { d.transport = t }
}

// Run starts a ringd member and blocks until ctx is cancelled, then shuts down
// gracefully (drain, leave, stop HTTP) bounded by --shutdown-timeout. Until
// then SIGHUP reloads the admin token and the TLS certificate (Reload).
func Run(ctx context.Context, r Resolved, logger hclog.Logger) error {
	// SIGHUP reloads the admin token, the TLS certificate and the gossip
	// keys; caught from before the start, so that an early one does not
	// end the process (SIGHUP's default).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	d, err := Start(r, logger)
	if err != nil {
		return err
	}
	var fatal error
	for ctx.Err() == nil && fatal == nil {
		select {
		case <-ctx.Done():
		case fatal = <-d.fatal:
			logger.Error("stopping", "error", fatal)
		case <-hup:
			logger.Info("SIGHUP: reloading the admin token, the TLS certificate and the gossip key file")
			_ = d.Reload() // logged by Reload; the previous values stay
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), r.cfg.ShutdownTimeout)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil && fatal == nil {
		return err
	}
	return fatal
}

// fail ends Run with err (once): a condition in which this member must not
// take part in the cluster.
func (d *Daemon) fail(err error) {
	d.failOnce.Do(func() { d.fatal <- err })
}

// Start starts a member and returns once it listens; Shutdown stops it. It
// reads no configuration file (Config.Resolve did), only the member's own
// state in --data-dir.
func Start(r Resolved, logger hclog.Logger, opts ...Option) (*Daemon, error) {
	if !r.resolved {
		return nil, fmt.Errorf("%w: Start needs the result of Config.Resolve", ErrInvalidConfig)
	}
	cfg := r.cfg
	memberlistTelemetry() // before memberlist starts reporting
	d := &Daemon{
		cfg:          cfg,
		fingerprint:  cfg.Fingerprint(),
		shape:        cfg.ShapeFingerprint(),
		log:          logger,
		metrics:      newMetrics(),
		inc:          uint64(time.Now().UnixNano()),
		firstIndex:   uint64(wallNow().UnixMicro()),
		inbox:        make(chan *core.Envelope, 4096),
		drainReasons: map[string]bool{},
		fatal:        make(chan error, 1),
		urgent:       make(chan *core.Envelope, 1024),
		memberWake:   make(chan struct{}, 1),
		ackWake:      make(chan struct{}, 1),
		cmds:         make(chan command),
		nodes:        map[string]*memberlist.Node{},
		metas:        map[string]nodeMeta{},
		loopDone:     make(chan struct{}),
		stop:         make(chan struct{}),
	}
	for _, o := range opts {
		o(d)
	}
	d.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringd_peer_inbox_messages",
		Help: "Peer messages waiting for the event loop (a loop that falls behind delays heartbeat acknowledgements; a full queue drops, see ringd_peer_messages_dropped_total)."},
		func() float64 { return float64(len(d.inbox) + len(d.urgent)) }))
	keyring, err := d.newKeyring(r.gossipKeys)
	if err != nil {
		return nil, err
	}
	d.keyring = keyring
	kept, found, err := loadState(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	switch {
	case found:
		d.identity = kept.Identity
	case cfg.DataDir != "":
		d.identity = newIdentity() // saved before the first message goes out
	default:
		d.identity = d.inc
	}
	d.core = core.New(d.coreOptions(), kept)
	d.logMode(kept, found)
	now := time.Now()
	d.core.SetTermFloor(termFloor(wallNow()))
	if WallClockOffset != 0 {
		d.log.Warn("test build: wall clock shifted", "offset", WallClockOffset)
	}
	if err := d.setMeta(); err != nil {
		return nil, err
	}
	d.publish(now)

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("--http-addr %s: %w", cfg.HTTPAddr, err)
	}
	d.httpLn = ln
	d.secrets.d = d
	d.secrets.start(r.tlsCert, r.gossipKeys)
	if cfg.OpsAddr != "" {
		if d.opsLn, err = net.Listen("tcp", cfg.OpsAddr); err != nil {
			ln.Close()
			return nil, fmt.Errorf("--ops-addr %s: %w", cfg.OpsAddr, err)
		}
	}
	closeListeners := func() {
		ln.Close()
		if d.opsLn != nil {
			d.opsLn.Close()
		}
	}
	// The metadata carries the real HTTP address (port 0 picks one).
	if err := d.setMeta(); err != nil {
		closeListeners()
		return nil, err
	}

	var ownTransport *netTransport
	if d.transport == nil {
		host, port := splitHostPort(cfg.GossipAddr)
		if ownTransport, err = newNetTransport(host, port, logger.Named(LogMemberlist)); err != nil {
			closeListeners()
			return nil, fmt.Errorf("starting gossip on --gossip-addr %s: %w", cfg.GossipAddr, err)
		}
		d.transport = ownTransport
	}
	ml, err := memberlist.Create(d.memberlistConfig())
	if err != nil {
		closeListeners()
		if ownTransport != nil {
			_ = ownTransport.Shutdown()
		}
		return nil, fmt.Errorf("starting gossip on --gossip-addr %s: %w", cfg.GossipAddr, err)
	}
	d.ml = ml
	d.sender = newSender(d.sendReliable, d.metrics)
	d.http = restapi.New(&source{d: d}, restapi.Options{
		Logger:         logger.Named(LogHTTP),
		AdminTokens:    r.adminTokens,
		Registerer:     d.metrics.reg,
		MetricsHandler: promhttp.HandlerFor(prometheus.Gatherers{d.metrics.reg, memberlistTelemetry()}, promhttp.HandlerOpts{}),
	})
	serveLn := ln
	if r.tlsCert != nil {
		serveLn = d.secrets.tlsListener(ln)
	}
	go func() {
		if err := d.http.Serve(serveLn); err != nil {
			d.log.Error("http server stopped", "error", err)
		}
	}()
	opsAddr := "none"
	if d.opsLn != nil {
		opsAddr = d.opsLn.Addr().String()
		go func() {
			if err := d.http.ServeOps(d.opsLn); err != nil {
				d.log.Error("ops server stopped", "error", err)
			}
		}()
	}
	if !isLoopbackAddr(ln.Addr()) {
		if len(r.adminTokens) == 0 {
			d.log.Warn("the API listens on a non-loopback address without --admin-token-file: the admin routes refuse every request", "http", ln.Addr().String())
		}
		if r.tlsCert == nil {
			d.log.Warn("the API listens on a non-loopback address in plain HTTP: other hosts can read the answers and the admin token; set --tls-cert-file and --tls-key-file", "http", ln.Addr().String())
		}
	}
	if d.opsLn != nil && !isLoopbackAddr(d.opsLn.Addr()) {
		d.log.Info("the ops listener serves /healthz, /readyz and /metrics in plain HTTP to other hosts (no admin routes, no partitions)", "ops", d.opsLn.Addr().String())
	}
	go d.secrets.watch()
	go d.watchAppLiveness()
	local := ml.LocalNode()
	d.gossipAddr, d.gossipPort = local.Address(), int(local.Port)
	d.log.Info("ringd started", "name", cfg.Name, "gossip", d.gossipAddr,
		"http", ln.Addr().String(), "http_advertised", d.advertisedHTTPAddr(), "ops", opsAddr,
		"partitions", cfg.Partitions, "incarnation", d.inc)
	go d.loop()
	go d.rejoinLoop()
	return d, nil
}

// HTTPAddr is the address the API listens on.
func (d *Daemon) HTTPAddr() string { return d.httpLn.Addr().String() }

// OpsAddr is the address of the ops listener, "" without one.
func (d *Daemon) OpsAddr() string {
	if d.opsLn == nil {
		return ""
	}
	return d.opsLn.Addr().String()
}

// advertisedHTTPAddr is the API address other members are told:
// --http-advertise-addr if given; else the listen address, with an
// unspecified host (0.0.0.0, ::) replaced by the host other members reach
// our gossip on. A loopback API is advertised only while gossip is on
// loopback too (every member on this host): elsewhere no other member could
// use it.
func (d *Daemon) advertisedHTTPAddr() string {
	if d.cfg.HTTPAdvertiseAddr != "" {
		return d.cfg.HTTPAdvertiseAddr
	}
	listen := d.cfg.HTTPAddr
	if d.httpLn != nil {
		listen = d.httpLn.Addr().String()
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	gossip := d.cfg.AdvertiseAddr
	if gossip == "" {
		gossip = d.cfg.GossipAddr
	}
	gossipHost, _, _ := net.SplitHostPort(gossip)
	gossipIP := net.ParseIP(gossipHost)
	ip := net.ParseIP(host)
	switch {
	case ip != nil && ip.IsUnspecified():
		if gossipIP == nil || gossipIP.IsUnspecified() {
			return listen // nothing better to say
		}
		return net.JoinHostPort(gossipHost, port)
	case ip != nil && ip.IsLoopback() && (gossipIP == nil || !gossipIP.IsLoopback()):
		return ""
	}
	return listen
}

// isLoopbackAddr reports whether a listener's address is a loopback one.
func isLoopbackAddr(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func (d *Daemon) coreOptions() core.Options {
	c := d.cfg
	return core.Options{
		Self: c.Name, Incarnation: d.inc, Identity: d.identity, Priority: c.Priority,
		FirstIndex: d.firstIndex,
		Partitions: c.Partitions, Load: c.Load, Weight: c.Weight, Zone: c.Zone, Standbys: c.Standbys,
		HeartbeatInterval: c.HeartbeatInterval, LeaderTimeout: c.LeaderTimeout,
		ElectionTimeout: c.ElectionTimeout, LeaderLease: c.LeaderLease, Lease: c.Lease,
		Drift: c.Drift, SafetyMargin: c.SafetyMargin, Settle: c.Settle, FlapHoldDown: c.FlapHoldDown,
		MoveBudget: c.EffectiveMoveBudget(), MoveCooldown: c.MoveCooldown,
		ReleaseTimeout: c.ReleaseTimeout, Preempt: c.Preempt,
		Voters:            c.Voters,
		DeadVoterTimeout:  c.DeadVoterTimeout,
		DeadMemberTimeout: c.DeadMemberTimeout,
		BootstrapExpect:   c.BootstrapExpect,
		BootstrapAlone:    c.BootstrapExpect == 0 && len(c.Join) == 0,
	}
}

// setMeta updates our gossiped metadata from the flags in metaState.
func (d *Daemon) setMeta() error {
	d.metaMu.Lock()
	defer d.metaMu.Unlock()
	draining, leaving, hasTable, restarting := d.metaState.draining, d.metaState.leaving, d.metaState.hasTable, d.metaState.restarting
	var rejoinGraceMs int64
	if restarting {
		rejoinGraceMs = d.cfg.RejoinGrace.Milliseconds()
	}
	httpAddr := d.advertisedHTTPAddr()
	b, err := nodeMeta{Version: core.ProtocolVersion, Incarnation: d.inc, Identity: d.identity, Priority: d.cfg.Priority,
		HTTPAddr: httpAddr, Draining: draining, Leaving: leaving, HasTable: hasTable, Partitions: d.cfg.Partitions,
		Fingerprint: d.fingerprint, Shape: d.shape,
		LeaseMs: d.cfg.Lease.Milliseconds(), LeaderLeaseMs: d.cfg.LeaderLease.Milliseconds(), Load: d.cfg.Load,
		Weight: d.cfg.Weight, Zone: d.cfg.Zone, RejoinGraceMs: rejoinGraceMs}.encode()
	if err != nil {
		return err
	}
	d.metaBytes.Store(&b)
	return nil
}

func (d *Daemon) memberlistConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	switch d.cfg.GossipProfile {
	case "wan":
		c = memberlist.DefaultWANConfig()
		c.DeadNodeReclaimTime = 10 * time.Second
	case "local":
		c = memberlist.DefaultLocalConfig()
		// Loopback clusters and tests: notice a dead member in a second or
		// two, and let a restarted member reclaim its name quickly. Not
		// tighter: on a loaded machine (tests under the race detector)
		// shorter probe timeouts declare healthy members dead.
		c.ProbeInterval = 250 * time.Millisecond
		c.ProbeTimeout = 200 * time.Millisecond
		c.GossipInterval = 50 * time.Millisecond
		c.SuspicionMult = 3
		c.PushPullInterval = 2 * time.Second
		c.GossipToTheDeadTime = 5 * time.Second
		c.DeadNodeReclaimTime = 1 * time.Second
	default:
		c.DeadNodeReclaimTime = 10 * time.Second
	}
	// Our messages are small (heartbeats, acks) or sent once per table;
	// compressing every packet cost an idle leader a tenth of its CPU
	// (figure g of docs/benchmarks.md). Compressed packets of older members
	// are still read: memberlist decodes them whatever this setting.
	c.EnableCompression = false
	c.Name = d.gossipName()
	host, port := splitHostPort(d.cfg.GossipAddr)
	c.BindAddr, c.BindPort = host, port
	if d.cfg.AdvertiseAddr != "" {
		c.AdvertiseAddr, c.AdvertisePort = splitHostPort(d.cfg.AdvertiseAddr)
	}
	c.Label = d.cfg.ClusterLabel
	c.Keyring = d.keyring
	c.Delegate = &delegate{d}
	c.Events = &events{d}
	gk := &gatekeeper{d}
	c.Alive = gk
	c.Merge = gk
	c.Logger = MemberlistLogger(d.log)
	c.LogOutput = nil
	if d.transport != nil {
		c.Transport = d.transport
	}
	if nt, ok := d.transport.(*netTransport); ok {
		// A join to a seed given without a port uses this one.
		c.BindPort = nt.Port()
	}
	return c
}

// gossipName is this process's memberlist node name (see gossipNameSep).
func (d *Daemon) gossipName() string { return gossipName(d.cfg.Name, d.inc) }

func splitHostPort(addr string) (string, int) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}

func (d *Daemon) membersChanged() {
	select {
	case d.memberWake <- struct{}{}:
	default:
	}
}

// refusedOnce logs a refused member once per reason.
func (d *Daemon) refusedOnce(name string, err error) {
	if prev, ok := d.refused.Load(name); ok && prev.(string) == err.Error() {
		return
	}
	d.refused.Store(name, err.Error())
	d.log.Error("refusing member with incompatible settings", "member", name, "reason", err.Error())
}

// duplicateOnce warns, once per process, that a newer process gossips under
// our member name: two ringd with one --name, or this process is a paused
// leftover that a restart replaced. The member is the newer process; this
// one gets nothing from the leader once it sees the newer incarnation.
func (d *Daemon) duplicateOnce(n memberlist.Node) {
	if _, loaded := d.refused.LoadOrStore("duplicate:"+n.Name, ""); loaded {
		return
	}
	d.log.Error("a newer process runs under this member name; is --name unique?", "other", n.Name, "at", n.Address())
}

// logMode says at start what this member kept and what that mode assumes
// (docs/architecture.md, "Restarts").
func (d *Daemon) logMode(kept core.Durable, found bool) {
	alone := d.cfg.BootstrapExpect == 0 && len(d.cfg.Join) == 0
	switch {
	case found:
		d.log.Info("state found in --data-dir: this member votes as the voter it was, and never bootstraps a cluster of its own",
			"identity", kept.Identity, "term", kept.Election.Term, "voters", kept.Config.Voters)
		if len(kept.Config.Voters) > 0 && alone {
			d.log.Warn("this member belonged to a cluster but has no --join: it waits until a member of that cluster contacts it")
		}
	case d.cfg.DataDir != "":
		d.log.Info("no state in --data-dir: starting as a new voter identity (a voter only once the leader makes it one); state is kept from now on",
			"identity", d.identity)
	default:
		d.log.Info("no --data-dir: a new voter identity on every start (a voter only once the leader makes it one); fencing tokens after a restart of every member at once rest on wall clocks (see docs/architecture.md)",
			"identity", d.identity)
	}
	if alone && !found {
		d.log.Warn("no --join and no state: this member forms a cluster of its own; restarted without its state it would form a new one (give every member --join and --bootstrap-expect)")
	}
}

// do runs fn in the loop and returns its error.
func (d *Daemon) do(ctx context.Context, fn func(now time.Time, c *core.Core) error) error {
	cmd := command{fn: fn, reply: make(chan error, 1)}
	select {
	case d.cmds <- cmd:
	case <-d.loopDone:
		return errShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-cmd.reply:
		return err
	case <-d.loopDone:
		return errShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
}

// termFloor is the lowest term a campaign at wall-clock time now may use:
// the Unix time in milliseconds. An election takes longer than a
// millisecond, so terms cannot run ahead of the clock, and terms (and with
// them fencing tokens) keep growing across a restart of the whole cluster.
func termFloor(now time.Time) uint64 { return uint64(now.UnixMilli()) }

var errShuttingDown = errors.New("member is shutting down")
