package memnet

import (
	"log"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/goleak"

	"github.com/ringd/ringd/internal/testlog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// poll checks cond every 10ms until it holds (true) or timeout passes
// (false).
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// eventually fails the test if cond does not hold within timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("not within %v: %s", timeout, what)
	}
}

// testLogger returns a logger into t.Log, without memberlist's DEBUG lines.
// Call it before registering the cleanup that shuts memberlist down, so that
// this cleanup runs after it.
func testLogger(t testing.TB, prefix string) *log.Logger {
	return log.New(testlog.New(t).Skip("[DEBUG]"), prefix+" ", log.Lmicroseconds)
}

// recorder is a memberlist.Delegate that keeps the user messages it gets,
// and an EventDelegate that keeps the address each member last announced.
type recorder struct {
	mu    sync.Mutex
	msgs  []string
	addrs map[string]string
}

var (
	_ memberlist.Delegate      = (*recorder)(nil)
	_ memberlist.EventDelegate = (*recorder)(nil)
)

// NotifyJoin and NotifyUpdate run under memberlist's lock: copy, nothing more.
func (r *recorder) NotifyJoin(n *memberlist.Node)   { r.setAddr(n.Name, n.Address()) }
func (r *recorder) NotifyUpdate(n *memberlist.Node) { r.setAddr(n.Name, n.Address()) }
func (r *recorder) NotifyLeave(*memberlist.Node)    {}

func (r *recorder) setAddr(name, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.addrs == nil {
		r.addrs = make(map[string]string)
	}
	r.addrs[name] = addr
}

// addrOf returns the address member name last announced.
func (r *recorder) addrOf(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addrs[name]
}

func (r *recorder) NodeMeta(int) []byte                 { return nil }
func (r *recorder) GetBroadcasts(int, int) [][]byte     { return nil }
func (r *recorder) LocalState(bool) []byte              { return nil }
func (r *recorder) MergeRemoteState(buf []byte, _ bool) {}

func (r *recorder) NotifyMsg(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, string(b))
}

// count returns how many received messages start with prefix.
func (r *recorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// node is one memberlist instance on a memnet transport.
type node struct {
	name string
	addr string
	tr   *Transport
	ml   *memberlist.Memberlist
	rec  *recorder
}

// cluster runs memberlist instances over one Network.
type cluster struct {
	t     testing.TB
	net   *Network
	nodes map[string]*node
	// tune, if set, changes each node's config before memberlist starts.
	tune func(*memberlist.Config)
}

func newCluster(t testing.TB, seed int64) *cluster {
	return &cluster{t: t, net: New(seed), nodes: make(map[string]*node)}
}

// fastConfig is memberlist's local config tightened so that failure
// detection takes about a second with up to five nodes, while staying clear
// of false alarms when -race runs on a busy two-core machine.
func fastConfig(t testing.TB, name string) *memberlist.Config {
	c := memberlist.DefaultLocalConfig()
	c.Name = name
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.SuspicionMult = 2
	c.SuspicionMaxTimeoutMult = 2
	c.AwarenessMaxMultiplier = 2
	c.PushPullInterval = 300 * time.Millisecond
	c.TCPTimeout = time.Second
	c.GossipToTheDeadTime = 200 * time.Millisecond
	c.DeadNodeReclaimTime = 100 * time.Millisecond
	c.Logger = testLogger(t, name)
	return c
}

// start runs a memberlist called name on a new transport at addr; it is
// shut down when the test ends.
func (c *cluster) start(name, addr string) *node {
	c.t.Helper()
	tr, err := c.net.NewTransport(addr)
	if err != nil {
		c.t.Fatalf("NewTransport(%s): %v", addr, err)
	}
	rec := &recorder{}
	conf := fastConfig(c.t, name)
	conf.Transport = tr
	conf.Delegate = rec
	conf.Events = rec
	if c.tune != nil {
		c.tune(conf)
	}
	ml, err := memberlist.Create(conf)
	if err != nil {
		_ = tr.Shutdown()
		c.t.Fatalf("memberlist.Create(%s): %v", name, err)
	}
	c.t.Cleanup(func() { _ = ml.Shutdown() })
	n := &node{name: name, addr: tr.Addr(), tr: tr, ml: ml, rec: rec}
	c.nodes[name] = n
	return n
}

// startJoined starts the named nodes at 127.0.0.1:7946, 127.0.0.2:7946, …
// in order; each joins the first one.
func (c *cluster) startJoined(names ...string) {
	c.t.Helper()
	for i, name := range names {
		c.start(name, "127.0.0."+strconv.Itoa(i+1)+":7946")
		if i > 0 {
			c.join(name, names[0])
		}
	}
}

// members returns the sorted names of the members n considers alive or
// suspect (memberlist's Members leaves out dead and left nodes).
func (n *node) members() []string {
	var names []string
	for _, m := range n.ml.Members() {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	return names
}

// ref returns a Node for addressing n in SendBestEffort and SendReliable.
// It is built here rather than taken from Members(): memberlist rewrites
// the fields of the nodes it hands out, so reading those races.
func (n *node) ref() *memberlist.Node {
	return &memberlist.Node{Name: n.name, Addr: n.tr.ip, Port: uint16(n.tr.port)}
}

// waitView waits until each of the observers sees exactly the members want.
func (c *cluster) waitView(timeout time.Duration, observers, want []string) {
	c.t.Helper()
	want = slices.Sorted(slices.Values(want))
	for _, o := range observers {
		n := c.nodes[o]
		if !poll(timeout, func() bool { return slices.Equal(n.members(), want) }) {
			c.t.Fatalf("%s: members %v, want %v within %v", o, n.members(), want, timeout)
		}
	}
}

// join makes node from join the node to, retrying until it succeeds (as
// ringd retries its seeds): one attempt can time out on a loaded machine.
func (c *cluster) join(from, to string) {
	c.t.Helper()
	var err error
	if !poll(convergeTimeout, func() bool {
		_, err = c.nodes[from].ml.Join([]string{c.nodes[to].addr})
		return err == nil
	}) {
		c.t.Fatalf("%s: Join(%s): %v", from, to, err)
	}
}

func (c *cluster) addrs(names ...string) []string {
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = c.nodes[name].addr
	}
	return out
}
