package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// netLab is a set of network namespaces on one bridge, one namespace per
// member, for figures that need to cut or degrade one member's network:
// processes on loopback share one interface, so a link cannot go down for
// one of them alone. The bridge lives in a namespace of its own; the root
// namespace gets an address on it (subnet.254) so that the benchmark
// reaches every member's API directly. Everything is in a private /24 that
// exists only inside these namespaces and on the one veth into the root
// namespace: no packet leaves the machine. Needs root, ip(8), and nft(8)
// for packet loss.
type netLab struct {
	log hclog.Logger
	// tag prefixes every namespace and interface name: "rb" and the
	// process id, so that concurrent runs do not collide.
	tag string
	// subnet is the first three octets, e.g. "10.213.7".
	subnet string
	n      int
	// created lists what to delete on close: namespaces and the root veth.
	namespaces []string
	rootLink   string
}

// newNetLab creates n member namespaces on a bridge. On failure it removes
// whatever it created.
func newNetLab(ctx context.Context, log hclog.Logger, n int) (lab *netLab, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("figure h needs root (it creates network namespaces, a bridge and veth pairs); run ringbench as root or leave h out (--figures)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("figure h needs %s(8) (Debian: apt-get install iproute2 nftables): %w", tool, err)
		}
	}
	subnet, err := freeSubnet()
	if err != nil {
		return nil, err
	}
	lab = &netLab{log: log, tag: fmt.Sprintf("rb%d", os.Getpid()%100000), subnet: subnet, n: n}
	defer func() {
		if err != nil {
			lab.close()
			lab = nil
		}
	}()
	br := lab.bridgeNS()
	if err := lab.addNS(ctx, br); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"ip", "-n", br, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", br, "link", "set", "br0", "up"},
		// The root namespace's way onto the bridge.
		{"ip", "link", "add", lab.tag + "r", "type", "veth", "peer", "name", lab.tag + "rb", "netns", br},
		{"ip", "-n", br, "link", "set", lab.tag + "rb", "master", "br0", "up"},
		{"ip", "addr", "add", subnet + ".254/24", "dev", lab.tag + "r"},
		{"ip", "link", "set", lab.tag + "r", "up"},
	}
	lab.rootLink = lab.tag + "r"
	for i := range n {
		ns, in, out := lab.memberNS(i), lab.tag+"m"+fmt.Sprint(i), lab.bridgePort(i)
		if err := lab.addNS(ctx, ns); err != nil {
			return nil, err
		}
		steps = append(steps,
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
			[]string{"ip", "-n", br, "link", "add", out, "type", "veth", "peer", "name", in, "netns", ns},
			[]string{"ip", "-n", br, "link", "set", out, "master", "br0", "up"},
			[]string{"ip", "-n", ns, "addr", "add", lab.addr(i) + "/24", "dev", in},
			[]string{"ip", "-n", ns, "link", "set", in, "up"},
		)
	}
	for _, s := range steps {
		if err := labRun(ctx, s...); err != nil {
			return nil, err
		}
	}
	return lab, nil
}

// freeSubnet picks 10.213.x.0/24 with no address or route of the root
// namespace in it.
func freeSubnet() (string, error) {
	out, err := exec.Command("ip", "-4", "-o", "addr").Output()
	if err != nil {
		return "", fmt.Errorf("ip addr: %w", err)
	}
	routes, err := exec.Command("ip", "-4", "route").Output()
	if err != nil {
		return "", fmt.Errorf("ip route: %w", err)
	}
	used := string(out) + string(routes)
	for x := 1 + os.Getpid()%200; x < 255; x++ {
		s := fmt.Sprintf("10.213.%d", x)
		if !strings.Contains(used, s+".") {
			return s, nil
		}
	}
	return "", errors.New("no free 10.213.x.0/24 subnet for figure h's namespaces")
}

func (l *netLab) bridgeNS() string      { return l.tag + "-br" }
func (l *netLab) memberNS(i int) string { return fmt.Sprintf("%s-m%d", l.tag, i) }

// bridgePort is the bridge-side end of member i's veth: taking it down cuts
// the member off from everyone, the benchmark included.
func (l *netLab) bridgePort(i int) string { return fmt.Sprintf("%sb%d", l.tag, i) }

// addr is member i's address.
func (l *netLab) addr(i int) string { return fmt.Sprintf("%s.%d", l.subnet, i+1) }

func (l *netLab) addNS(ctx context.Context, ns string) error {
	if err := labRun(ctx, "ip", "netns", "add", ns); err != nil {
		return err
	}
	l.namespaces = append(l.namespaces, ns)
	return nil
}

// setLink takes member i's link down or up.
func (l *netLab) setLink(ctx context.Context, i int, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return labRun(ctx, "ip", "-n", l.bridgeNS(), "link", "set", l.bridgePort(i), state)
}

// setInboundLoss drops the given percentage of the packets member i
// receives (0 removes the rule). The kernel here may lack netem; an nftables
// rule on the namespace's input hook drops inbound packets at random,
// which is the same fault.
func (l *netLab) setInboundLoss(ctx context.Context, i, percent int) error {
	ns := l.memberNS(i)
	_ = labRun(ctx, "ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "ringbench")
	if percent <= 0 {
		return nil
	}
	rules := fmt.Sprintf("table inet ringbench {\n chain in {\n  type filter hook input priority 0; policy accept;\n  iifname != \"lo\" numgen random mod 100 < %d drop\n }\n}\n", percent)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s", ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// command returns a command that runs in member i's namespace.
func (l *netLab) command(ctx context.Context, i int, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.memberNS(i), name}, args...)...)
}

// close deletes every namespace (and with them their veths and the bridge)
// and the root veth. It uses its own context: it must run after a cancel.
func (l *netLab) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if l.rootLink != "" {
		_ = labRun(ctx, "ip", "link", "del", l.rootLink)
	}
	for _, ns := range l.namespaces {
		if err := labRun(ctx, "ip", "netns", "del", ns); err != nil {
			l.log.Warn("could not delete a namespace; remove it by hand", "namespace", ns, "error", err)
		}
	}
	l.namespaces = nil
}

func labRun(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
