package procluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Churn as Kubernetes makes it: pods that join under new names (a
// Deployment's rollout, a scale-up) and pods that come back under their old
// name from a new address, with or without their disk (a rescheduled
// StatefulSet pod).

// Add starts a new member called name, on new ports, joining the members
// whose process runs (--join at their gossip addresses), with the cluster's
// options (Fast, ExtraArgs, data dir unless NoDataDir; MemberArgs gets -1).
// It returns once the member's HTTP API answers; a port taken meanwhile
// makes it try other ports.
func (c *Cluster) Add(ctx context.Context, name string) (*Member, error) {
	if c.Member(name) != nil {
		return nil, fmt.Errorf("procluster: a member %q exists already", name)
	}
	if c.opt.Pods != nil {
		m, err := c.podMember(name)
		if err != nil {
			return nil, err
		}
		if err := m.start("add"); err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.members = append(c.members, m)
		slices.SortFunc(c.members, func(a, b *Member) int { return strings.Compare(a.Name, b.Name) })
		c.mu.Unlock()
		if err := m.waitUp(ctx, c.opt.StartTimeout); err != nil {
			c.remove(m)
			return nil, err
		}
		return m, nil
	}
	var seeds []string
	for _, m := range c.Members() {
		if m.Running() {
			seeds = append(seeds, m.GossipAddr)
		}
	}
	env := childEnv(c.opt.Env)
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		var gossip, httpPorts []int
		gossip, httpPorts, err = pickPorts("127.0.0.1", 1)
		if err != nil {
			return nil, err
		}
		m := &Member{
			Name:       name,
			GossipAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(gossip[0])),
			HTTPAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPorts[0])),
			LogPath:    filepath.Join(c.dir, name+".log"),
			cluster:    c,
			env:        env,
		}
		if !c.opt.NoDataDir {
			m.DataDir = filepath.Join(c.dir, name+".data")
			if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
				return nil, fmt.Errorf("procluster: %w", err)
			}
		}
		m.Client = c.client(m.HTTPAddr)
		m.args = memberArgs(c.opt, -1, m, seeds)
		if err = m.start(fmt.Sprintf("add (attempt %d)", attempt)); err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.members = append(c.members, m)
		slices.SortFunc(c.members, func(a, b *Member) int { return strings.Compare(a.Name, b.Name) })
		c.mu.Unlock()
		if err = m.waitUp(ctx, c.opt.StartTimeout); err == nil {
			return m, nil
		}
		c.remove(m)
		if !errors.Is(err, errBindFailed) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("procluster: gave up adding %s after %d attempts: %w", name, startAttempts, err)
}

// Replace starts a stopped member again from a new PodSpec, as a pod that
// comes back under its name with a new emptyDir (a StatefulSet's pod after a
// restart). The API address must stay the same: the harness's watchers keep
// polling it (a test that needs a new address uses a new name, or
// Reschedule). It returns once the member's API answers.
func (m *Member) Replace(ctx context.Context, spec PodSpec) error {
	if m.Running() {
		return fmt.Errorf("procluster: %s still runs; stop it before replacing it", m.Name)
	}
	if spec.HTTPAddr != m.HTTPAddr {
		return fmt.Errorf("procluster: %s: Replace keeps the API address %s, got %s", m.Name, m.HTTPAddr, spec.HTTPAddr)
	}
	m.mu.Lock()
	m.setPod(spec, m.cluster.opt.Env)
	m.mu.Unlock()
	if err := m.start("replace"); err != nil {
		return err
	}
	return m.waitUp(ctx, m.cluster.opt.StartTimeout)
}

// Forget drops a member that has stopped for good (a pod deleted by a
// scale-down or a rollout) from the cluster's list, so that waits and
// snapshots no longer ask it.
func (c *Cluster) Forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members = slices.DeleteFunc(c.members, func(m *Member) bool { return m.Name == name })
}

// remove forgets a member that could not start.
func (c *Cluster) remove(m *Member) {
	_ = m.Kill()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members = slices.DeleteFunc(c.members, func(x *Member) bool { return x == m })
}

// Reschedule starts the member again under its old name from a new gossip
// address, as Kubernetes reschedules a StatefulSet pod: the old process is
// SIGKILLed if it still runs, and with wipe its data dir is emptied first (an
// emptyDir volume comes back empty). A member that had --join now joins the
// members running at their current addresses, as a headless Service's DNS
// name would resolve; one without --join stays without. It returns once the
// HTTP API answers.
func (m *Member) Reschedule(ctx context.Context, wipe bool) error {
	if m.Running() {
		if err := m.Kill(); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
	}
	if wipe && m.DataDir != "" {
		if err := os.RemoveAll(m.DataDir); err != nil {
			return fmt.Errorf("procluster: wiping %s: %w", m.DataDir, err)
		}
		if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
			return fmt.Errorf("procluster: %w", err)
		}
	}
	var err error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		var gossip []int
		gossip, _, err = pickPorts("127.0.0.1", 1)
		if err != nil {
			return err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(gossip[0]))
		var seeds []string
		for _, o := range m.cluster.Members() {
			if o != m && o.Running() {
				seeds = append(seeds, o.GossipAddr)
			}
		}
		m.mu.Lock()
		m.GossipAddr = addr
		m.args = withFlag(m.args, "--gossip-addr", addr)
		if slices.Contains(m.args, "--join") && len(seeds) > 0 {
			m.args = withFlag(m.args, "--join", strings.Join(seeds, ","))
		}
		m.mu.Unlock()
		if err = m.start(fmt.Sprintf("reschedule to %s (attempt %d, data dir wiped: %t)", addr, attempt, wipe)); err != nil {
			return err
		}
		if err = m.waitUp(ctx, m.cluster.opt.StartTimeout); err == nil || !errors.Is(err, errBindFailed) {
			return err
		}
	}
	return err
}

// withFlag returns args with the value of flag set to value.
func withFlag(args []string, flag, value string) []string {
	out := slices.Clone(args)
	found := false
	for i := 0; i+1 < len(out); i++ {
		if out[i] == flag {
			out[i+1] = value // every occurrence: the last one would win
			found = true
		}
	}
	if found {
		return out
	}
	return append(out, flag, value)
}
