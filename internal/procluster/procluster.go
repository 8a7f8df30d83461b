// Package procluster starts real ringd processes on loopback, for end-to-end
// tests and for the demo (cmd/ringdemo).
//
// Start picks free 127.0.0.1 ports, starts members ringd-0..N-1 that find each
// other by gossip and bootstrap together (--bootstrap-expect N), and waits until
// every member's HTTP API answers. Each member can then be queried (Mine,
// Cluster), signalled (Kill, Stop, Cont, Signal) and restarted with the same
// name, ports and flags. Snapshot, the coverage helpers and the Wait* methods
// turn the members' GET /partitions/mine views into checks such as "every
// partition is listed by exactly one live member".
//
// Processes never outlive their creator: each child gets SIGKILL when the
// thread that started it dies (Pdeathsig, Linux), runs in its own process group
// (so a terminal's Ctrl-C reaches only the parent, which decides), and Close
// kills and reaps every process it started. Tests call Close from t.Cleanup.
package procluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by this package; match them with errors.Is.
var (
	// ErrClosed: the cluster was closed; nothing is started any more.
	ErrClosed = errors.New("procluster: cluster closed")
	// ErrNotRunning: the member has no running process.
	ErrNotRunning = errors.New("procluster: member not running")
	// ErrExited: a member that a wait depends on exited.
	ErrExited = errors.New("procluster: member exited")
	// errBindFailed: a member exited at start because a port was taken; Start
	// retries with fresh ports.
	errBindFailed = errors.New("port already in use")
)

// Defaults used when the matching Options field is zero.
const (
	DefaultStartTimeout = 30 * time.Second
	// startAttempts bounds how often Start picks new ports after a member
	// failed to bind one.
	startAttempts = 3
	// pollInterval is how often waits poll the members.
	pollInterval = 50 * time.Millisecond
	// requestTimeout bounds one HTTP request whose context has no deadline.
	requestTimeout = 5 * time.Second
	// killTimeout bounds how long Kill waits for a SIGKILLed process to be
	// reaped.
	killTimeout = 10 * time.Second
)

// Options says what cluster to start.
type Options struct {
	// Binary is the path of a built ringd (see BuildRingd).
	Binary string
	// Members is how many members to start (ringd-0..Members-1); at least 1.
	Members int
	// Partitions is P (--partitions); at least 1.
	Partitions int
	// Dir receives one log file per member (ringd-i.log, appended to across
	// restarts) and one data dir per member (ringd-i.data). Empty: a new
	// temporary directory, which is kept after Close (see Cluster.Dir).
	Dir string
	// ExtraArgs are appended to every member's flags (after the ones this
	// package sets, so they win for single-valued flags).
	ExtraArgs []string
	// MemberArgs, when set, returns flags appended for member i only (after
	// ExtraArgs), e.g. a different --priority.
	MemberArgs func(i int) []string
	// Fast adds short timings for tests and the demo (see FastArgs).
	Fast bool
	// NoDataDir leaves out --data-dir, so members keep nothing on disk.
	NoDataDir bool
	// ClusterLabel is passed as --cluster-label. Empty: a random label, so that
	// clusters of concurrent tests never merge even when one reuses a port
	// another one's dead member had.
	ClusterLabel string
	// Env is added to the members' environment. The parent's RINGD_*
	// variables are not passed on, so a developer's shell cannot change a test.
	Env []string
	// StartTimeout bounds how long Start and Restart wait for a member's HTTP
	// API to answer. Zero: DefaultStartTimeout.
	StartTimeout time.Duration
	// TLS, when set, is how the harness trusts the members' APIs, which
	// then speak HTTPS only (the test gives them --tls-cert-file and
	// --tls-key-file, in ExtraArgs or its Pods).
	TLS *tls.Config
	// Pods, when set, gives each member's process instead of the flags this
	// package would choose: the test derives them from something else, such
	// as the Helm chart's rendered pods. Members are then named by Names
	// (Members is ignored), and Add asks Pods too.
	Pods func(name string) (PodSpec, error)
	// Names are the members' names with Pods.
	Names []string
}

// PodSpec is one member's process as a test derives it (see Options.Pods).
// The harness starts Binary (or Options.Binary) with Args and Env as given.
type PodSpec struct {
	Binary string
	Args   []string
	// Env is added to the member's environment (after Options.Env).
	Env []string
	// HTTPAddr is where the harness reaches the member's API, GossipAddr
	// its gossip address, DataDir its data dir (informational).
	HTTPAddr, GossipAddr, DataDir string
}

// FastArgs are the timing flags that Options.Fast adds: failure detection,
// elections, leases and handoffs within a few seconds on loopback. They are
// slower than the simulation's (simcluster.Fast: 50 ms heartbeats, 400 ms
// leader lease) because real processes share two cores with the test, the
// race detector and memberlist, and a heartbeat late by a scheduler hiccup
// must not cost the leader; the lease is the same 2 s. The leader lease is
// 1 s: the leader's own partitions are leased only that far ahead, and its
// worker (clientlib's default margin is 500 ms) must see deadlines well past
// the margin. procluster is also
// linked into the demo binary, which must not import a test harness, so the
// values are written here.
func FastArgs() []string {
	return []string{
		"--gossip-profile", "local",
		"--heartbeat-interval", "100ms",
		"--leader-timeout", "600ms",
		"--election-timeout", "250ms",
		"--leader-lease", "1s",
		"--lease", "2s",
		"--settle", "500ms",
		"--release-timeout", "2s",
		"--shutdown-timeout", "10s",
	}
}

// Cluster is a set of ringd processes started by Start. Its methods are safe
// for concurrent use.
type Cluster struct {
	opt       Options
	dir       string
	transport *http.Transport

	// mu guards members (Add appends while watchers read) and appLeases.
	mu        sync.Mutex
	members   []*Member
	appLeases *AppLeases

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Start starts opt.Members ringd processes on loopback and returns once every
// member's HTTP API answers (any HTTP response counts: the member is up, not
// necessarily ready). If a member fails to bind a port that was free a moment
// before, Start kills everything and tries again with new ports. On any error
// everything it started is killed. ctx bounds the start only, not the
// processes' lives: those end with Close.
func Start(ctx context.Context, opt Options) (*Cluster, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	dir := opt.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "procluster-")
		if err != nil {
			return nil, fmt.Errorf("procluster: %w", err)
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("procluster: %w", err)
	}
	if opt.ClusterLabel == "" {
		opt.ClusterLabel = "procluster-" + randomHex(6)
	}
	if opt.StartTimeout <= 0 {
		opt.StartTimeout = DefaultStartTimeout
	}
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		var c *Cluster
		c, err = tryStart(ctx, opt, dir, attempt)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errBindFailed) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("procluster: gave up after %d attempts: %w", startAttempts, err)
}

func (o Options) validate() error {
	var errs []error
	if o.Binary == "" {
		errs = append(errs, errors.New("binary: no path given"))
	} else if st, err := os.Stat(o.Binary); err != nil {
		errs = append(errs, fmt.Errorf("binary: %w", err))
	} else if st.IsDir() {
		errs = append(errs, fmt.Errorf("binary: %s is a directory", o.Binary))
	}
	switch {
	case o.Pods != nil && len(o.Names) == 0:
		errs = append(errs, errors.New("names: none given with Pods"))
	case o.Pods == nil && o.Members < 1:
		errs = append(errs, fmt.Errorf("members: %d, must be at least 1", o.Members))
	}
	if o.Partitions < 1 {
		errs = append(errs, fmt.Errorf("partitions: %d, must be at least 1", o.Partitions))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("procluster: bad options: %w", err)
	}
	return nil
}

func tryStart(ctx context.Context, opt Options, dir string, attempt int) (*Cluster, error) {
	var gossip, httpPorts []int
	if opt.Pods == nil {
		var err error
		if gossip, httpPorts, err = pickPorts("127.0.0.1", opt.Members); err != nil {
			return nil, err
		}
	} else {
		opt.Members = len(opt.Names)
	}
	c := &Cluster{
		opt: opt,
		dir: dir,
		transport: &http.Transport{
			Proxy:               nil, // loopback only: never an HTTP proxy from the environment
			DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
			TLSClientConfig:     opt.TLS,
		},
	}
	if opt.Pods != nil {
		for _, name := range opt.Names {
			m, err := c.podMember(name)
			if err != nil {
				return nil, err
			}
			c.members = append(c.members, m)
		}
		return c, c.startAll(ctx, attempt)
	}
	gossipAddrs := make([]string, opt.Members)
	for i := range gossipAddrs {
		gossipAddrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(gossip[i]))
	}
	env := childEnv(opt.Env)
	for i := 0; i < opt.Members; i++ {
		name := fmt.Sprintf("ringd-%d", i)
		m := &Member{
			Name:       name,
			GossipAddr: gossipAddrs[i],
			HTTPAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPorts[i])),
			LogPath:    filepath.Join(dir, name+".log"),
			cluster:    c,
			env:        env,
		}
		if !opt.NoDataDir {
			m.DataDir = filepath.Join(dir, name+".data")
			if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
				return nil, fmt.Errorf("procluster: %w", err)
			}
		}
		m.Client = c.client(m.HTTPAddr)
		m.args = memberArgs(opt, i, m, gossipAddrs)
		c.members = append(c.members, m)
	}
	if err := c.startAll(ctx, attempt); err != nil {
		return nil, err
	}
	return c, nil
}

// podMember builds the member called name from Options.Pods.
func (c *Cluster) podMember(name string) (*Member, error) {
	spec, err := c.opt.Pods(name)
	if err != nil {
		return nil, fmt.Errorf("procluster: pod %s: %w", name, err)
	}
	m := &Member{Name: name, LogPath: filepath.Join(c.dir, name+".log"), cluster: c}
	m.setPod(spec, c.opt.Env)
	m.Client = c.client(m.HTTPAddr)
	return m, nil
}

// setPod takes a PodSpec's process and addresses.
func (m *Member) setPod(spec PodSpec, env []string) {
	m.GossipAddr, m.HTTPAddr, m.DataDir = spec.GossipAddr, spec.HTTPAddr, spec.DataDir
	m.args, m.binary = spec.Args, spec.Binary
	m.env = childEnv(append(append([]string(nil), env...), spec.Env...))
}

// startAll starts every member and waits until each one's API answers.
func (c *Cluster) startAll(ctx context.Context, attempt int) error {
	opt := c.opt
	for _, m := range c.members {
		if err := m.start(fmt.Sprintf("start (attempt %d)", attempt)); err != nil {
			_ = c.Close()
			return err
		}
	}
	errs := make([]error, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		wg.Go(func() { errs[i] = m.waitUp(ctx, opt.StartTimeout) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = c.Close()
		return err
	}
	return nil
}

// memberArgs builds member i's command line, joining the others of
// gossipAddrs (i = -1: a member added later, joining all of them).
func memberArgs(opt Options, i int, m *Member, gossipAddrs []string) []string {
	var seeds []string
	for j, a := range gossipAddrs {
		if j != i {
			seeds = append(seeds, a)
		}
	}
	args := []string{
		"--name", m.Name,
		"--gossip-addr", m.GossipAddr,
		"--http-addr", m.HTTPAddr,
		"--partitions", strconv.Itoa(opt.Partitions),
		"--bootstrap-expect", strconv.Itoa(opt.Members),
		"--cluster-label", opt.ClusterLabel,
	}
	if len(seeds) > 0 {
		args = append(args, "--join", strings.Join(seeds, ","))
	}
	if m.DataDir != "" {
		args = append(args, "--data-dir", m.DataDir)
	}
	if opt.Fast {
		args = append(args, FastArgs()...)
	}
	args = append(args, opt.ExtraArgs...)
	if opt.MemberArgs != nil {
		args = append(args, opt.MemberArgs(i)...)
	}
	return args
}

// childEnv is the parent's environment without RINGD_* variables, plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "RINGD_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}

// client is the harness's API client of a member at addr.
func (c *Cluster) client(addr string) *Client {
	return &Client{Addr: addr, HTTP: &http.Client{Transport: c.transport}, TLS: c.opt.TLS != nil}
}

// Dir is where the logs and data dirs are.
func (c *Cluster) Dir() string { return c.dir }

// Partitions is P.
func (c *Cluster) Partitions() int { return c.opt.Partitions }

// Members returns every member, running or not, in name order.
func (c *Cluster) Members() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Member(nil), c.members...)
}

// Member returns the member with that name, or nil.
func (c *Cluster) Member(name string) *Member {
	for _, m := range c.Members() {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Names returns the names of the members whose process is running (stopped
// ones included), in name order.
func (c *Cluster) Names() []string {
	var names []string
	for _, m := range c.Members() {
		if m.Running() {
			names = append(names, m.Name)
		}
	}
	return names
}

// Close SIGKILLs every process the cluster started and waits until each is
// reaped. It is idempotent and safe to call concurrently with anything else,
// e.g. from the goroutine that handles SIGINT: a Restart that races with it
// either is killed by it or refused with ErrClosed.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		var errs []error
		for _, m := range c.Members() {
			if err := m.Kill(); err != nil && !errors.Is(err, ErrNotRunning) {
				errs = append(errs, err)
			}
		}
		c.transport.CloseIdleConnections()
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
