package main

// ringctl against real ringd processes on 127.0.0.1.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

var ringdBinary string

func TestMain(m *testing.M) {
	os.Exit(procluster.RunWithRingd(m, &ringdBinary))
}

const procPartitions = 32

// ringctlOK runs ringctl and fails the test unless it exits 0.
func ringctlOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := ringctl(t, nil, args...)
	if code != exitOK {
		t.Fatalf("ringctl %q: exit %d: %s", args, code, errOut)
	}
	return out
}

func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return v
}

func TestAgainstRealMembers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(tokenFile, []byte("let-me-in\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := procluster.Start(ctx, procluster.Options{Binary: ringdBinary, Members: 3, Partitions: procPartitions,
		Dir: dir, Fast: true, ExtraArgs: []string{"--admin-token-file", tokenFile}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stopApps := c.RunApps(ctx)
	defer stopApps()
	if _, _, err := c.WaitSettled(ctx, c.Names(), time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	first := c.Members()[0]
	at := []string{"--addr", first.HTTPAddr}
	admin := append(at[:len(at):len(at)], "--token-file", tokenFile)

	// status: the leader and every member, in a table and in JSON.
	out := ringctlOK(t, append(at, "status")...)
	for _, want := range []string{"leader", "partitions  32: 32 owned, 0 releasing, 0 unassigned", "RANK", "LEASE", "ringd-0", "ringd-1", "ringd-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	st := decode[statusJSON](t, ringctlOK(t, append(at, "--json", "status")...))
	if st.Leader == "" || len(st.Members) != 3 || st.Partitions.Owned != procPartitions {
		t.Fatalf("status --json = %+v", st)
	}
	owned := 0
	for _, m := range decode[api.Members](t, ringctlOK(t, append(at, "--json", "members")...)).Members {
		owned += m.Owned
		if m.LeaseMs != 2000 || m.LeaderLeaseMs != 1000 || m.Load != 1.25 { // procluster.FastArgs, default load
			t.Errorf("members shows %s with lease %d ms, leader lease %d ms, load %v; want 2000, 1000, 1.25", m.Name, m.LeaseMs, m.LeaderLeaseMs, m.Load)
		}
	}
	if owned != procPartitions {
		t.Errorf("members list %d partitions in all, want %d", owned, procPartitions)
	}

	// locate agrees with the table.
	table := decode[api.Table](t, ringctlOK(t, append(at, "--json", "partitions")...))
	loc := decode[api.Locate](t, ringctlOK(t, append(at, "--json", "locate", "customer-42")...))
	if loc.Key != "customer-42" || loc.Owner != table.Partitions[loc.Partition].Owner {
		t.Errorf("locate = %+v, table says partition %d is %s's", loc, loc.Partition, table.Partitions[loc.Partition].Owner)
	}

	// Admin commands need the token.
	code, _, errOut := ringctl(t, nil, append(at, "drain")...)
	if code != exitRefused || !strings.Contains(errOut, "401") {
		t.Errorf("drain without a token: exit %d, %q", code, errOut)
	}
	wrong := filepath.Join(dir, "wrong")
	_ = os.WriteFile(wrong, []byte("guess"), 0o600)
	code, _, errOut = ringctl(t, nil, append(at, "--token-file", wrong, "drain")...)
	if code != exitRefused || !strings.Contains(errOut, "403") {
		t.Errorf("drain with a wrong token: exit %d, %q", code, errOut)
	}

	// keys list is an admin route too: with the token it gets as far as
	// the keyring (off in this cluster), without it no further than 401.
	code, _, errOut = ringctl(t, nil, append(admin, "keys", "list")...)
	if code != exitRefused || !strings.Contains(errOut, "409") || !strings.Contains(errOut, "encryption is off") {
		t.Errorf("keys list with the token, encryption off: exit %d, %q", code, errOut)
	}
	code, _, errOut = ringctl(t, nil, append(at, "keys", "list")...)
	if code != exitRefused || !strings.Contains(errOut, "401") {
		t.Errorf("keys list without the token: exit %d, %q", code, errOut)
	}

	// A watch sees the drain move the partitions away.
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watchOut lockedBuffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		realMain(watchCtx, append(at, "--json", "partitions", "--watch", "--owner", first.Name), func(string) string { return "" }, &watchOut, os.Stderr)
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(watchOut.String(), "\n"); {
		if time.Now().After(deadline) {
			t.Fatal("the watch printed nothing in 30s")
		}
		time.Sleep(10 * time.Millisecond) // polling the buffer, with a deadline
	}

	out = ringctlOK(t, append(admin, "drain", "--wait", "--wait-timeout", "1m")...)
	if !strings.Contains(out, first.Name+": drained, it holds no partition") {
		t.Errorf("drain --wait said:\n%s", out)
	}
	for _, m := range decode[statusJSON](t, ringctlOK(t, append(at, "--json", "status")...)).Members {
		if m.Name == first.Name && (!m.Draining || m.Owned != 0) {
			t.Errorf("after drain: %+v", m)
		}
	}
	stopWatch()
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(watchOut.String()), "\n")
	firstTable, lastTable := decode[api.Table](t, lines[0]), decode[api.Table](t, lines[len(lines)-1])
	if len(lines) < 2 || len(firstTable.Partitions) == 0 || len(lastTable.Partitions) != 0 {
		t.Errorf("the watch of %s's partitions printed %d tables, first with %d partitions, last with %d; want its partitions, then none",
			first.Name, len(lines), len(firstTable.Partitions), len(lastTable.Partitions))
	}

	if out := ringctlOK(t, append(admin, "undrain")...); strings.TrimSpace(out) != "undrained" {
		t.Errorf("undrain said %q", out)
	}

	// Maintenance mode, asked at a member that need not lead: every member's
	// table shows it, status says so, and unfreeze ends it.
	if out := ringctlOK(t, append(admin, "freeze", "--wait")...); !strings.Contains(out, "frozen") {
		t.Errorf("freeze --wait said %q", out)
	}
	for _, m := range c.Members() {
		if st := decode[statusJSON](t, ringctlOK(t, "--addr", m.HTTPAddr, "--json", "status")); !st.Frozen {
			deadline := time.Now().Add(10 * time.Second)
			for !st.Frozen && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond) // polling, with a deadline: the table reaches the others a heartbeat later
				st = decode[statusJSON](t, ringctlOK(t, "--addr", m.HTTPAddr, "--json", "status"))
			}
			if !st.Frozen {
				t.Errorf("%s's status does not show the freeze", m.Name)
			}
		}
	}
	if out := ringctlOK(t, append(at, "status")...); !strings.Contains(out, "no rebalancing moves until ringctl unfreeze") {
		t.Errorf("status does not say the assignment is frozen:\n%s", out)
	}
	if out := ringctlOK(t, append(admin, "unfreeze", "--wait")...); !strings.Contains(out, "unfrozen") {
		t.Errorf("unfreeze --wait said %q", out)
	}

	// Pin a partition to the last member and exclude the middle one: the
	// table shows both, the pinned partition moves, the excluded member ends
	// with nothing; then both are undone.
	last, middle := c.Members()[2], c.Members()[1]
	ringctlOK(t, append(admin, "pin", "3", last.Name)...)
	ringctlOK(t, append(admin, "exclude", middle.Name)...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		tbl := decode[api.Table](t, mustGet(t, first.HTTPAddr, "/partitions"))
		held := 0
		for _, e := range tbl.Partitions {
			if e.Owner == middle.Name {
				held++
			}
		}
		if tbl.Partitions[3].PinnedTo == last.Name && tbl.Partitions[3].Owner == last.Name && held == 0 &&
			slices.Equal(tbl.Excluded, []string{middle.Name}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 30s: partition 3 %+v, %s holds %d, excluded %v", tbl.Partitions[3], middle.Name, held, tbl.Excluded)
		}
		time.Sleep(50 * time.Millisecond) // polling, with a deadline
	}
	ringctlOK(t, append(admin, "unpin", "3")...)
	ringctlOK(t, append(admin, "include", middle.Name)...)
	if code, _, errOut := ringctl(t, nil, append(admin, "pin", "3")...); code != exitUsage || !strings.Contains(errOut, "PARTITION NAME") {
		t.Errorf("pin without a member: exit %d, %q", code, errOut)
	}

	// Hand leadership to a member that does not lead.
	code, _, errOut = ringctl(t, nil, append(admin, "transfer-leader", "no-such-member")...)
	if code != exitRefused || !strings.Contains(errOut, "404") {
		t.Errorf("transfer to an unknown member: exit %d, %q", code, errOut)
	}
	leader := decode[api.Leader](t, mustGet(t, first.HTTPAddr, "/leader"))
	to := c.Members()[2].Name
	if to == leader.Leader {
		to = c.Members()[1].Name
	}
	out = ringctlOK(t, append(admin, "transfer-leader", to, "--wait", "--wait-timeout", "1m")...)
	if !strings.HasPrefix(out, to+" leads") {
		t.Errorf("transfer-leader --wait said %q", out)
	}
}

// lockedBuffer is a bytes.Buffer one goroutine writes while another reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mustGet returns the body of a GET on a member.
func mustGet(t *testing.T, addr, path string) string {
	t.Helper()
	var raw json.RawMessage
	if err := procluster.NewClient(addr).GetJSON(context.Background(), path, &raw); err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// startChecked starts real members with fast timings and apps that hold
// partitions, and checks at the end of the test, from outside and through
// the applications' leases, that no partition ever had two owners.
func startChecked(ctx context.Context, t *testing.T, opt procluster.Options) *procluster.Cluster {
	t.Helper()
	opt.Binary, opt.Partitions, opt.Fast = ringdBinary, procPartitions, true
	c, err := procluster.Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	stopApps := c.RunApps(ctx)
	w := c.Watch(ctx, 20*time.Millisecond)
	t.Cleanup(func() {
		stopApps()
		if v := w.Stop(); len(v) > 0 {
			t.Errorf("ownership violations seen from outside (%d polls):\n%s", w.Polls(), strings.Join(v, "\n"))
		}
		if v := c.AppLeases().Violations(); len(v) > 0 {
			t.Errorf("application lease violations:\n%s", strings.Join(v, "\n"))
		}
		if t.Failed() {
			for _, m := range c.Members() {
				t.Logf("log of %s:\n%s", m.Name, m.LogTail(40))
			}
		}
		c.Close()
	})
	return c
}

// writeKey writes a random gossip key to path and returns it in base64.
func writeKey(t *testing.T, path string) string {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

func fingerprint(key string) string {
	raw, _ := base64.StdEncoding.DecodeString(key)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

// TestKeyRotation rotates the gossip key of a running cluster with ringctl
// (install, use, remove, each on every member) while apps hold partitions,
// restarts a member whose key file still holds the old key (its data dir
// kept the new keyring), and checks that a member with only the old key
// cannot join while one with the new key can.
func TestKeyRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "gossip.key")
	oldKey := writeKey(t, keyFile)
	newKeyFile := filepath.Join(dir, "new.key")
	newKey := writeKey(t, newKeyFile)
	c := startChecked(ctx, t, procluster.Options{Members: 3, Dir: dir, ExtraArgs: []string{"--gossip-key-file", keyFile}})
	if _, _, err := c.WaitSettled(ctx, c.Names(), time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	at := []string{"--addr", c.Members()[0].HTTPAddr}
	type outcome struct {
		Member string    `json:"member"`
		Keys   *api.Keys `json:"keys"`
	}
	primaries := func() map[string]string {
		out := map[string]string{}
		for _, o := range decode[[]outcome](t, ringctlOK(t, append(at, "--json", "keys", "list", "--all")...)) {
			var fps []string
			for _, k := range o.Keys.Keys {
				fps = append(fps, k.Fingerprint)
			}
			out[o.Member] = o.Keys.Primary + " of " + strings.Join(fps, ",")
		}
		return out
	}
	want := func(what string) map[string]string {
		return map[string]string{"ringd-0": what, "ringd-1": what, "ringd-2": what}
	}
	if got, w := primaries(), want(fingerprint(oldKey)+" of "+fingerprint(oldKey)); !maps.Equal(got, w) {
		t.Fatalf("keys before: %v, want %v", got, w)
	}
	ringctlOK(t, append(at, "keys", "install", "--key-file", newKeyFile, "--all")...)
	ringctlOK(t, append(at, "keys", "use", newKey, "--all")...)
	ringctlOK(t, append(at, "keys", "remove", oldKey, "--all")...)
	if got, w := primaries(), want(fingerprint(newKey)+" of "+fingerprint(newKey)); !maps.Equal(got, w) {
		t.Fatalf("keys after the rotation: %v, want %v", got, w)
	}
	// The primary key cannot be removed.
	code, _, errOut := ringctl(t, nil, append(at, "keys", "remove", newKey)...)
	if code != exitRefused || !strings.Contains(errOut, "409") {
		t.Errorf("removing the primary key: exit %d, %q", code, errOut)
	}

	// A restart with the old key file: the keyring kept in the data dir wins.
	if err := c.Member("ringd-2").Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.WaitSettled(ctx, c.Names(), time.Second, time.Minute); err != nil {
		t.Fatalf("after restarting ringd-2 with the old key file: %v", err)
	}

	// A new member with only the old key is refused by every member...
	intruder, err := c.Add(ctx, "ringd-3")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(c.Member("ringd-0").LogTail(200)+c.Member("ringd-1").LogTail(200)+c.Member("ringd-2").LogTail(200), "could decrypt") {
		if time.Now().After(deadline) {
			t.Fatal("no member logged refusing ringd-3's packets within a minute")
		}
		time.Sleep(50 * time.Millisecond) // polling the logs, with a deadline
	}
	for _, m := range decode[api.Members](t, ringctlOK(t, append(at, "--json", "members")...)).Members {
		if m.Name == "ringd-3" {
			t.Fatalf("ringd-3 with the old key is a member: %+v", m)
		}
	}
	// ...and joins once its key file holds the new key.
	if err := os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := intruder.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.WaitSettled(ctx, c.Names(), time.Second, time.Minute); err != nil {
		t.Fatalf("ringd-3 with the new key did not join: %v", err)
	}
}

// TestRecoverAfterLosingTheMajority: two of three voters are SIGKILLed for
// good; no leader can be elected; ringctl recover --all makes the three
// survivors the voters, they elect a leader and cover every partition again,
// and no partition ever had two owners.
func TestRecoverAfterLosingTheMajority(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startChecked(ctx, t, procluster.Options{Members: 5, Dir: t.TempDir(), ExtraArgs: []string{"--voters", "3"}})
	var voters []string
	deadline := time.Now().Add(time.Minute)
	for len(voters) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("voters %v, want 3", voters)
		}
		if _, _, err := c.WaitSettled(ctx, c.Names(), time.Second, time.Minute); err != nil {
			t.Fatal(err)
		}
		voters = nil
		for _, m := range decode[api.Members](t, mustGet(t, c.Members()[0].HTTPAddr, "/members")).Members {
			if m.Voter {
				voters = append(voters, m.Name)
			}
		}
	}
	lost := voters[:2]
	var survivors []string
	for _, name := range c.Names() {
		if !slices.Contains(lost, name) {
			survivors = append(survivors, name)
		}
	}
	for _, name := range lost {
		if err := c.Member(name).Kill(); err != nil {
			t.Fatal(err)
		}
	}
	at := []string{"--addr", c.Member(survivors[0]).HTTPAddr}
	// ringd refuses while a leader is in office: wait until the survivors'
	// leases ran out (a leader among them steps down without its majority)
	// and gossip declares the lost voters dead.
	deadline = time.Now().Add(time.Minute)
	for {
		// Leaderless: no survivor's lease is renewed any more.
		leaderless := true
		for _, name := range survivors {
			var m api.Mine
			err := procluster.NewClient(c.Member(name).HTTPAddr).GetJSON(ctx, "/partitions/mine?ack=false&observer=true", &m)
			leaderless = leaderless && err == nil && m.LeaseRemainingMs == 0
		}
		dead := 0
		for _, m := range decode[api.Members](t, ringctlOK(t, append(at, "--json", "members")...)).Members {
			if slices.Contains(lost, m.Name) && !m.Alive {
				dead++
			}
		}
		if leaderless && dead == len(lost) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within a minute of losing %v: leaderless %v, %d of them dead in gossip", lost, leaderless, dead)
		}
		time.Sleep(50 * time.Millisecond) // polling, with a deadline
	}
	code, out, errOut := ringctl(t, nil, append(at, append([]string{"recover", "--all", "--skip-dead"}, survivors...)...)...)
	if code != exitOK {
		t.Fatalf("ringctl recover: exit %d: %s\n%s", code, errOut, out)
	}
	t.Logf("ringctl recover:\n%s", out)
	if _, took, err := c.WaitSettled(ctx, survivors, time.Second, time.Minute); err != nil {
		t.Fatalf("the survivors did not cover the partitions after the recovery: %v", err)
	} else {
		t.Logf("covered again %v after the recovery", took.Round(time.Millisecond))
	}
	// Every survivor applied a table of the new leader that carries the
	// forced voters (not only its own forced configuration).
	for _, name := range survivors {
		table := decode[api.Table](t, mustGet(t, c.Member(name).HTTPAddr, "/partitions"))
		var now []string
		for _, v := range table.Voters {
			now = append(now, strings.SplitN(v, "@", 2)[0])
		}
		slices.Sort(now)
		if !slices.Equal(now, survivors) || table.Leader == "" || len(table.PrevVoters) > 0 {
			t.Errorf("%s's table after the recovery: leader %q, voters %v (previous %v), want %v", name, table.Leader, now, table.PrevVoters, survivors)
		}
	}
	// Nothing shows a forced configuration once the recovered leader's
	// table replaced it.
	for _, name := range survivors {
		if st := decode[statusJSON](t, ringctlOK(t, "--addr", c.Member(name).HTTPAddr, "--json", "status")); st.ForcedVoters != nil {
			t.Errorf("%s still shows forced voters %v after the recovery", name, st.ForcedVoters)
		}
	}
	// A healthy cluster refuses a forced configuration.
	code, _, errOut = ringctl(t, nil, append(at, "recover", survivors[0])...)
	if code != exitRefused || !strings.Contains(errOut, "409") || !strings.Contains(errOut, "leader is in office") {
		t.Errorf("recover with a leader in office: exit %d, %q", code, errOut)
	}
}
