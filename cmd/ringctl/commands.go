package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// commands, in the order --help lists them.
var commands = []command{
	{name: "status", summary: "the leader, the term, the partitions by state and the members in ring order with their partitions",
		run: runStatus},
	{name: "members", summary: "the members in ring order: alive, voter, draining, partitions, lease settings, API address",
		run: runMembers},
	{name: "partitions", summary: "every partition with its owner, state and fencing token; --watch prints each new table",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.BoolVar(&o.watch, "watch", false, "keep printing the table whenever it changes, until interrupted; an unreachable or leaderless member is retried (noted on stderr), a refused request ends it")
			fs.StringVar(&o.owner, "owner", "", "show only the partitions of this member")
		},
		run: runPartitions},
	{name: "locate", args: "KEY", summary: "the partition KEY hashes to and its owner",
		run: runLocate},
	{name: "drain", summary: "drain the member ringctl talks to: the leader moves its partitions away and gives it no new ones",
		flags: waitFlags("until the member holds no partition"),
		run:   runDrain},
	{name: "undrain", summary: "let the member ringctl talks to take partitions again",
		run: runUndrain},
	{name: "freeze", summary: "maintenance mode: the leader makes no rebalancing moves until unfreeze (failed members' partitions are still granted, drains still hand over)",
		flags: waitFlags("until the cluster's table shows it frozen"),
		run: func(ctx context.Context, c *ctl, o *cmdOpts, args []string) error {
			return runFreeze(ctx, c, o, args, true)
		}},
	{name: "unfreeze", summary: "end maintenance mode: the leader rebalances again",
		flags: waitFlags("until the cluster's table shows it unfrozen"),
		run: func(ctx context.Context, c *ctl, o *cmdOpts, args []string) error {
			return runFreeze(ctx, c, o, args, false)
		}},
	{name: "pin", args: "PARTITION NAME", summary: "keep PARTITION with member NAME (it moves there and stays, past the load bound if need be)",
		run: func(ctx context.Context, c *ctl, o *cmdOpts, args []string) error { return runPin(ctx, c, args, true) }},
	{name: "unpin", args: "PARTITION", summary: "place PARTITION as any other again",
		run: func(ctx context.Context, c *ctl, o *cmdOpts, args []string) error { return runPin(ctx, c, args, false) }},
	{name: "exclude", args: "NAME", summary: "give member NAME no partitions (kept across leader changes and restarts, unlike drain)",
		run: func(ctx context.Context, c *ctl, o *cmdOpts, args []string) error {
			return runExclude(ctx, c, args, true)
		}},
	{name: "include", args: "NAME", summary: "let an excluded member NAME own partitions again",
		run: func(ctx context.Context, c *ctl, o *cmdOpts, args []string) error {
			return runExclude(ctx, c, args, false)
		}},
	{name: "transfer-leader", args: "NAME", summary: "hand leadership over to member NAME",
		flags: waitFlags("until NAME leads"),
		run:   runTransfer},
	keysCommand,
	recoverCommand,
}

func waitFlags(until string) func(fs *flag.FlagSet, o *cmdOpts) {
	return func(fs *flag.FlagSet, o *cmdOpts) {
		fs.BoolVar(&o.wait, "wait", false, "wait "+until+", showing progress")
		fs.DurationVar(&o.timeout, "wait-timeout", 2*time.Minute, "give up waiting after this long (exit 1)")
	}
}

// noArgs refuses arguments to a command that takes none.
func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", name, args[0])
	}
	return nil
}

// oneArg returns the single argument of a command.
func oneArg(name, what string, args []string) (string, error) {
	switch {
	case len(args) == 0:
		return "", usagef("%s needs %s", name, what)
	case len(args) > 1:
		return "", usagef("%s takes one argument (%s), got %d", name, what, len(args))
	case args[0] == "":
		return "", usagef("%s: %s must not be empty", name, what)
	}
	return args[0], nil
}

// statusJSON is what status --json prints.
type statusJSON struct {
	Node         string       `json:"node"`
	Leader       string       `json:"leader"`
	Term         uint64       `json:"term"`
	TableVersion uint64       `json:"tableVersion"`
	Partitions   stateCounts  `json:"partitions"`
	Members      []api.Member `json:"members"`
	ForcedVoters []string     `json:"forcedVoters,omitempty"`
	Frozen       bool         `json:"frozen,omitempty"`
}

// stateCounts counts a table's partitions by state.
type stateCounts struct {
	Total      int `json:"total"`
	Owned      int `json:"owned"`
	Releasing  int `json:"releasing"`
	Unassigned int `json:"unassigned"`
}

func countStates(t api.Table) stateCounts {
	n := stateCounts{Total: len(t.Partitions)}
	for _, e := range t.Partitions {
		switch {
		case e.Owner == "":
			n.Unassigned++
		case e.State == "releasing":
			n.Releasing++
		default:
			n.Owned++
		}
	}
	return n
}

func runStatus(ctx context.Context, c *ctl, _ *cmdOpts, args []string) error {
	if err := noArgs("status", args); err != nil {
		return err
	}
	var cl api.Cluster
	if err := c.get(ctx, "/cluster", nil, 0, &cl); err != nil {
		return err
	}
	var t api.Table
	if err := c.get(ctx, "/partitions", nil, 0, &t); err != nil {
		return err
	}
	st := statusJSON{Node: cl.Node, Leader: cl.Leader, Term: cl.Term, TableVersion: cl.TableVersion,
		Partitions: countStates(t), Members: cl.Members, ForcedVoters: cl.ForcedVoters, Frozen: t.Frozen}
	if st.Members == nil {
		st.Members = []api.Member{}
	}
	if c.json {
		return c.printJSON(st)
	}
	leader := st.Leader
	if leader == "" {
		leader = "none (no member leads now)"
	}
	alive, voters, draining := 0, 0, 0
	for _, m := range st.Members {
		alive += b2i(m.Alive)
		voters += b2i(m.Voter)
		draining += b2i(m.Draining)
	}
	p := st.Partitions
	if p.Total == 0 {
		// No table yet: the member has not heard from a leader.
		p.Total, p.Unassigned = cl.Partitions, cl.Partitions
	}
	w := newTable(c.out)
	w.row("node", fmt.Sprintf("%s (at %s)", st.Node, c.base.Host))
	w.row("leader", fmt.Sprintf("%s, term %d, table version %d", leader, st.Term, st.TableVersion))
	w.row("partitions", fmt.Sprintf("%d: %d owned, %d releasing, %d unassigned", p.Total, p.Owned, p.Releasing, p.Unassigned))
	w.row("members", fmt.Sprintf("%d: %d alive, %d voters, %d draining", len(st.Members), alive, voters, draining))
	if t.Frozen {
		w.row("frozen", "yes: no rebalancing moves until ringctl unfreeze")
	}
	if len(t.Excluded) > 0 {
		w.row("excluded", strings.Join(t.Excluded, ", ")+" (ringctl include NAME)")
	}
	kept := map[string]int{}
	for _, e := range t.Partitions {
		if e.ReservedFor != "" && e.Owner == "" {
			kept[e.ReservedFor]++
		}
	}
	for _, name := range slices.Sorted(maps.Keys(kept)) {
		w.row("restarting", fmt.Sprintf("%s: %d partitions kept for it, owned by nobody, until it is back or its rejoin grace ends", name, kept[name]))
	}
	if f := st.ForcedVoters; f != nil {
		w.row("forced voters", strings.Join(f, ", ")+" (ringctl recover; until the recovered leader's first table)")
	}
	if err := w.flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.out)
	return c.printMembers(st.Members)
}

func runMembers(ctx context.Context, c *ctl, _ *cmdOpts, args []string) error {
	if err := noArgs("members", args); err != nil {
		return err
	}
	var ms api.Members
	if err := c.get(ctx, "/members", nil, 0, &ms); err != nil {
		return err
	}
	if ms.Members == nil {
		ms.Members = []api.Member{}
	}
	if c.json {
		return c.printJSON(ms)
	}
	return c.printMembers(ms.Members)
}

func (c *ctl) printMembers(ms []api.Member) error {
	w := newTable(c.out)
	w.row("RANK", "NAME", "LEADER", "VOTER", "ALIVE", "ADMITTED", "DRAINING", "PARTITIONS", "WEIGHT", "ZONE", "LEASE", "LEADER-LEASE", "LOAD", "API")
	for _, m := range ms {
		api := m.HTTPAddr
		if api == "" {
			api = "-"
		}
		draining := yesNo(m.Draining)
		if m.Restarting {
			draining = "restarting"
		}
		w.row(strconv.Itoa(m.Rank), m.Name, yes(m.Leader, "*"), yes(m.Voter, "yes"), yesNo(m.Alive),
			yesNo(m.InConfig), draining, strconv.Itoa(m.Owned), loadOf(m.Weight), orDash(m.Zone),
			millis(m.LeaseMs), millis(m.LeaderLeaseMs), loadOf(m.Load), api)
	}
	return w.flush()
}

// millis shows a duration in milliseconds from the API as Go writes
// durations ("1.4s"), "-" when a member does not say (an older ringd).
func millis(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

// loadOf shows a member's --load or --weight, "-" when it does not say.
func loadOf(load float64) string {
	if load <= 0 {
		return "-"
	}
	return strconv.FormatFloat(load, 'g', -1, 64)
}

func runPartitions(ctx context.Context, c *ctl, o *cmdOpts, args []string) error {
	if err := noArgs("partitions", args); err != nil {
		return err
	}
	if !o.watch {
		var t api.Table
		if err := c.get(ctx, "/partitions", nil, 0, &t); err != nil {
			return err
		}
		return c.printPartitions(filterOwner(t, o.owner), false)
	}
	// A watch long-polls: each answer comes when the table differs from
	// the one of the index passed, or after the wait with the same one.
	const wait = 30 * time.Second
	var index uint64
	var last *api.Table
	retry := watchRetryMin
	for {
		q := url.Values{"wait": {wait.String()}}
		if last != nil {
			q.Set("index", strconv.FormatUint(index, 10))
		}
		var t api.Table
		err := c.get(ctx, "/partitions", q, wait, &t)
		if ctx.Err() != nil {
			return nil // interrupted: the watch is over
		}
		if err != nil {
			// A member restarting or a leader election must not end a
			// watch: only a refusal of the request itself does.
			var refused *refusedError
			if errors.As(err, &refused) && refused.status < 500 {
				return err
			}
			fmt.Fprintf(c.errOut, "ringctl: %s; retrying in %v\n", oneLine(err.Error()), retry)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retry):
			}
			retry = min(2*retry, watchRetryMax)
			continue
		}
		retry = watchRetryMin
		index = t.Index
		t = filterOwner(t, o.owner)
		if last != nil && sameTable(*last, t) {
			continue
		}
		last = &t
		if err := c.printPartitions(t, true); err != nil {
			return err
		}
	}
}

// watchRetryMin and watchRetryMax bound how long a watch waits before it
// asks again after a failed poll, doubling from one to the other.
const (
	watchRetryMin = 500 * time.Millisecond
	watchRetryMax = 8 * time.Second
)

// filterOwner keeps the partitions of owner ("" keeps all).
func filterOwner(t api.Table, owner string) api.Table {
	if owner == "" {
		return t
	}
	var keep []api.Entry
	for _, e := range t.Partitions {
		if e.Owner == owner {
			keep = append(keep, e)
		}
	}
	t.Partitions = keep
	return t
}

// sameTable reports whether a watch has anything new to show: the index
// also moves with membership changes that leave the partitions as they are.
func sameTable(a, b api.Table) bool {
	if a.Term != b.Term || a.TableVersion != b.TableVersion || a.Leader != b.Leader || len(a.Partitions) != len(b.Partitions) {
		return false
	}
	return slices.EqualFunc(a.Partitions, b.Partitions, func(x, y api.Entry) bool {
		return x.ID == y.ID && x.Owner == y.Owner && x.OwnerHTTPAddr == y.OwnerHTTPAddr && x.Token == y.Token &&
			x.State == y.State && x.PinnedTo == y.PinnedTo && x.ReservedFor == y.ReservedFor && slices.Equal(x.Standbys, y.Standbys)
	})
}

func (c *ctl) printPartitions(t api.Table, watching bool) error {
	if t.Partitions == nil {
		t.Partitions = []api.Entry{}
	}
	if c.json {
		if watching {
			// One object per line, for a script reading the stream.
			b, err := json.Marshal(t)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.out, "%s\n", b)
			return err
		}
		return c.printJSON(t)
	}
	if watching {
		fmt.Fprintf(c.out, "# %s: leader %s, term %d, table version %d\n",
			time.Now().Format(time.TimeOnly), orNone(t.Leader), t.Term, t.TableVersion)
	}
	w := newTable(c.out)
	w.row("PARTITION", "OWNER", "STATE", "TOKEN", "PINNED-TO", "STANDBYS")
	for _, e := range t.Partitions {
		state := e.State
		if e.ReservedFor != "" && e.Owner == "" {
			state = "kept for " + e.ReservedFor
		}
		standbys := "-"
		if len(e.Standbys) > 0 {
			standbys = strings.Join(e.Standbys, ",")
		}
		w.row(strconv.Itoa(e.ID), orNone(e.Owner), state, strconv.FormatUint(e.Token, 10), orDash(e.PinnedTo), standbys)
	}
	if err := w.flush(); err != nil {
		return err
	}
	if watching {
		fmt.Fprintln(c.out)
	}
	return nil
}

func runLocate(ctx context.Context, c *ctl, _ *cmdOpts, args []string) error {
	key, err := oneArg("locate", "a KEY", args)
	if err != nil {
		return err
	}
	var loc api.Locate
	if err := c.get(ctx, "/partitions/locate", url.Values{"key": {key}}, 0, &loc); err != nil {
		return err
	}
	if c.json {
		return c.printJSON(loc)
	}
	w := newTable(c.out)
	w.row("key", strconv.Quote(loc.Key))
	w.row("partition", strconv.Itoa(loc.Partition))
	w.row("owner", orNone(loc.Owner))
	w.row("state", loc.State)
	w.row("token", strconv.FormatUint(loc.Token, 10))
	if loc.OwnerHTTPAddr != "" {
		w.row("owner API", loc.OwnerHTTPAddr)
	}
	return w.flush()
}

func runDrain(ctx context.Context, c *ctl, o *cmdOpts, args []string) error {
	if err := noArgs("drain", args); err != nil {
		return err
	}
	var res api.Result
	if err := c.admin(ctx, "/admin/drain", nil, &res); err != nil {
		return err
	}
	if !o.wait {
		return c.printResult(res)
	}
	var node string
	var left, shown = 0, -1
	err := c.waitFor(ctx, o.timeout, func() (bool, error) {
		var cl api.Cluster
		if err := c.get(ctx, "/cluster", nil, 0, &cl); err != nil {
			return false, err
		}
		node = cl.Node
		left = -1
		for _, m := range cl.Members {
			if m.Name == cl.Node {
				left = m.Owned
			}
		}
		if left != shown && !c.json {
			fmt.Fprintf(c.out, "%s: draining, %d partitions left\n", node, max(left, 0))
			shown = left
		}
		return left == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%s still holds %d partitions: %w", node, left, err)
	}
	if c.json {
		return c.printJSON(api.Result{Status: "drained"})
	}
	fmt.Fprintf(c.out, "%s: drained, it holds no partition\n", node)
	return nil
}

func runUndrain(ctx context.Context, c *ctl, _ *cmdOpts, args []string) error {
	if err := noArgs("undrain", args); err != nil {
		return err
	}
	var res api.Result
	if err := c.admin(ctx, "/admin/undrain", nil, &res); err != nil {
		return err
	}
	return c.printResult(res)
}

func runFreeze(ctx context.Context, c *ctl, o *cmdOpts, args []string, frozen bool) error {
	name, path := "unfreeze", "/admin/unfreeze"
	if frozen {
		name, path = "freeze", "/admin/freeze"
	}
	if err := noArgs(name, args); err != nil {
		return err
	}
	var res api.Result
	if err := c.admin(ctx, path, nil, &res); err != nil {
		return err
	}
	if !o.wait {
		return c.printResult(res)
	}
	var t api.Table
	err := c.waitFor(ctx, o.timeout, func() (bool, error) {
		t = api.Table{} // a fresh one: an unfrozen table omits "frozen"
		if err := c.get(ctx, "/partitions", nil, 0, &t); err != nil {
			return false, err
		}
		return t.Frozen == frozen, nil
	})
	if err != nil {
		return fmt.Errorf("the table does not show the %s yet: %w", name, err)
	}
	if c.json {
		return c.printJSON(api.Result{Status: res.Status})
	}
	fmt.Fprintf(c.out, "the assignment is %s (table version %d)\n", res.Status, t.TableVersion)
	return nil
}

// runPin serves pin PARTITION NAME and unpin PARTITION.
func runPin(ctx context.Context, c *ctl, args []string, pin bool) error {
	name, want, shape := "unpin", 1, "PARTITION"
	if pin {
		name, want, shape = "pin", 2, "PARTITION NAME"
	}
	if len(args) != want {
		return usagef("%s takes %s (got %d arguments)", name, shape, len(args))
	}
	p, err := strconv.Atoi(args[0])
	if err != nil || p < 0 {
		return usagef("%s: PARTITION %q is not a partition number", name, args[0])
	}
	req := api.PinRequest{Partition: p}
	path := "/admin/unpin"
	if pin {
		req.Member, path = args[1], "/admin/pin"
	}
	var res api.Result
	if err := c.admin(ctx, path, req, &res); err != nil {
		return err
	}
	return c.printResult(res)
}

// runExclude serves exclude NAME and include NAME.
func runExclude(ctx context.Context, c *ctl, args []string, on bool) error {
	name, path := "include", "/admin/include"
	if on {
		name, path = "exclude", "/admin/exclude"
	}
	member, err := oneArg(name, "the NAME of a member", args)
	if err != nil {
		return err
	}
	var res api.Result
	if err := c.admin(ctx, path, api.MemberRequest{Member: member}, &res); err != nil {
		return err
	}
	return c.printResult(res)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runTransfer(ctx context.Context, c *ctl, o *cmdOpts, args []string) error {
	to, err := oneArg("transfer-leader", "the NAME of the member to hand over to", args)
	if err != nil {
		return err
	}
	var res api.Result
	if err := c.admin(ctx, "/admin/leader/transfer", api.TransferRequest{To: to}, &res); err != nil {
		return err
	}
	if !o.wait {
		return c.printResult(res)
	}
	var l api.Leader
	err = c.waitFor(ctx, o.timeout, func() (bool, error) {
		if err := c.get(ctx, "/leader", nil, 0, &l); err != nil {
			// 503 while nobody leads, in the middle of the handover.
			var re *refusedError
			return false, nilIf(errors.As(err, &re), err)
		}
		return l.Leader == to, nil
	})
	if err != nil {
		return fmt.Errorf("%s does not lead yet (leader %s): %w", to, orNone(l.Leader), err)
	}
	if c.json {
		return c.printJSON(l)
	}
	fmt.Fprintf(c.out, "%s leads (term %d)\n", l.Leader, l.Term)
	return nil
}

func nilIf(cond bool, err error) error {
	if cond {
		return nil
	}
	return err
}

// waitFor polls done every half second until it says true, fails, or the
// timeout passes.
func (c *ctl) waitFor(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-deadline.C:
			return fmt.Errorf("gave up after --wait-timeout %v", timeout)
		case <-tick.C:
		}
	}
}

func (c *ctl) printResult(res api.Result) error {
	if c.json {
		return c.printJSON(res)
	}
	_, err := fmt.Fprintf(c.out, "%s\n", res.Status)
	return err
}

func (c *ctl) printJSON(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func yes(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
