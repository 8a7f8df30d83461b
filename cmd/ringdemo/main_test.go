package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

// The test binary doubles as a fake ringd when $RINGDEMO_FAKE is "ringd", so
// the demo runs end to end without the real daemon. The fakes see each other
// by dialling their peers' gossip ports, and split the partitions among the
// live ones by rendezvous hashing (so only a leaver's or joiner's partitions
// move); the lowest live name leads while a majority is live.
const (
	fakeEnv = "RINGDEMO_FAKE"
	// noLeaderEnv makes the fakes split the partitions but name no leader.
	noLeaderEnv = "RINGDEMO_FAKE_NOLEADER"
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) == "ringd" {
		if slices.Contains(os.Args[1:], "--ledger") {
			os.Exit(fakeWorker())
		}
		os.Exit(fakeRingd(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// fakeWorker stands in for ringd-worker beside the fake ringds: it waits for
// SIGTERM and exits 0.
func fakeWorker() int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	<-sigs
	return 0
}

func fakeRingd(args []string) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	flags := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		flags[strings.TrimPrefix(args[i], "--")] = args[i+1]
	}
	name := flags["name"]
	self, _ := strconv.Atoi(strings.TrimPrefix(name, "ringd-"))
	members, _ := strconv.Atoi(flags["bootstrap-expect"])
	parts, _ := strconv.Atoi(flags["partitions"])
	// --join lists the other members' gossip addresses in name order.
	seeds := strings.Split(flags["join"], ",")
	peers := map[string]string{}
	for i, j := 0, 0; i < members; i++ {
		if i != self && j < len(seeds) {
			peers[fmt.Sprintf("ringd-%d", i)] = seeds[j]
			j++
		}
	}
	gossip, err := net.Listen("tcp", flags["gossip-addr"])
	if err != nil {
		fmt.Println(err)
		return 1
	}
	go func() {
		for {
			conn, err := gossip.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	httpLn, err := net.Listen("tcp", flags["http-addr"])
	if err != nil {
		fmt.Println(err)
		return 1
	}

	var (
		mu    sync.Mutex
		index uint64 = 1
		last  string
	)
	view := func() api.Mine {
		live := []string{name}
		for i := 0; i < members; i++ {
			peer := fmt.Sprintf("ringd-%d", i)
			if addr, ok := peers[peer]; ok {
				if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
					c.Close()
					live = append(live, peer)
				}
			}
		}
		v := api.Mine{Node: name, Term: 1, Partitions: []api.Partition{}}
		if 2*len(live) > members {
			if os.Getenv(noLeaderEnv) == "" {
				v.Leader = live[0]
				for _, n := range live[1:] {
					v.Leader = min(v.Leader, n)
				}
			}
			v.LeaseRemainingMs = 1500
			for id := 0; id < parts; id++ {
				if rendezvous(id, live) == name {
					v.Partitions = append(v.Partitions, api.Partition{ID: id, Token: uint64(id + 1), State: "owned"})
				}
			}
		}
		key := fmt.Sprint(v.Leader, v.Partitions)
		mu.Lock()
		defer mu.Unlock()
		if key != last {
			last, index = key, index+1
		}
		v.Index = index
		return v
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(api.Health{Status: "ok"})
	})
	mux.HandleFunc("GET /partitions/mine", func(w http.ResponseWriter, r *http.Request) {
		v := view()
		if q := r.URL.Query().Get("index"); q != "" {
			// A long-poll: answer when the view changes, or after ?wait=.
			n, _ := strconv.ParseUint(q, 10, 64)
			wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
			deadline := time.Now().Add(wait)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for v.Index <= n && time.Now().Before(deadline) {
				select {
				case <-r.Context().Done():
					return
				case <-tick.C:
				}
				v = view()
			}
		}
		json.NewEncoder(w).Encode(v)
	})
	go http.Serve(httpLn, mux)
	fmt.Println("fake ringd", name, "up")
	<-sigs
	return 0
}

// rendezvous picks the member with the highest hash of (partition, member).
func rendezvous(id int, live []string) string {
	best, bestHash := "", uint64(0)
	for _, n := range live {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s", id, n)
		if s := h.Sum64(); best == "" || s > bestHash {
			best, bestHash = n, s
		}
	}
	return best
}

// syncBuffer is a bytes.Buffer safe for the demo's concurrent writes, that
// calls onMatch once when match first appears in it.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	match   string
	onMatch func()
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.onMatch != nil && strings.Contains(b.buf.String(), b.match) {
		b.onMatch()
		b.onMatch = nil
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The demo end to end, with real ringd processes and real workers (built from
// cmd/ringd and cmd/ringd-worker): every step converges, the workers show
// their acquires and releases, and no item is processed twice under
// overlapping leases.
func TestDemoRunsThroughEveryStep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := t.TempDir()
	ringd, err := procluster.BuildRingd(ctx, bin, false)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := procluster.BuildWorker(ctx, bin, false)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	dir := t.TempDir()
	code := run(ctx, []string{"--ringd", ringd, "--worker", worker, "--dir", dir, "--hold", "300ms", "--timeout", "60s"}, &out, &errOut)
	t.Logf("output:\n%s%s", out.String(), errOut.String())
	if code != exitOK {
		t.Fatalf("exit code %d, want 0", code)
	}
	o := out.String()
	for _, want := range []string{
		"starting 3 ringd members with 24 partitions",
		"logs and data dirs: " + dir,
		"starting a worker beside each member",
		"  ringd-0 worker: acquired partition=",
		"killing ringd-1 with SIGKILL (it is not the leader: ringd-0 leads)",
		"  ringd-1     (not running)",
		"shutting down the pod of ringd-0, the leader",
		"ringd-0's ringd and worker exited 0",
		// The killed member's worker stops by its own clock.
		`ringd-1 worker: released partition=`,
		`why="clientlib: the lease runs out without a renewal"`,
		"partitions moved; ringd-1 had",
		"restarting ringd-1 (same name, ports and flags)",
		"partitions moved on the rejoin",
		"draining ringd-2 (POST /admin/drain)",
		"  ringd-2      0  []",
		"undraining ringd-2",
		`why="clientlib: the partition was revoked"`,
		"killed the members; stopping the workers",
		"stopped every member and worker",
		"items processed twice under an overlapping lease: 0\n",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	var items int
	for _, line := range strings.Split(o, "\n") {
		if strings.HasSuffix(line, "(not overlapping)") {
			fmt.Sscanf(line, "%d items processed", &items)
		}
	}
	if items == 0 {
		t.Error("the workers processed no item")
	}
	if kids := childPIDs(t); len(kids) != 0 {
		t.Errorf("processes left after the demo: %v", kids)
	}
}

func TestDemoReportsAStepThatDoesNotConverge(t *testing.T) {
	t.Setenv(fakeEnv, "ringd")
	t.Setenv(noLeaderEnv, "1")
	var out, errOut syncBuffer
	code := run(context.Background(), []string{"--ringd", os.Args[0], "--worker", os.Args[0], "--dir", t.TempDir(), "--timeout", "1s"}, &out, &errOut)
	if code != exitFailed {
		t.Errorf("exit code %d, want 1", code)
	}
	o := out.String()
	for _, want := range []string{"last views (GET /partitions/mine):", `leader ""`, "--- last lines of ringd-2", "fake ringd ringd-2 up"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if e := errOut.String(); !strings.Contains(e, "condition not reached") || !strings.Contains(e, "no common leader") {
		t.Errorf("error output does not say what did not converge: %q", e)
	}
	if kids := childPIDs(t); len(kids) != 0 {
		t.Errorf("processes left after a failed demo: %v", kids)
	}
}

func TestDemoStopsEverythingWhenInterrupted(t *testing.T) {
	t.Setenv(fakeEnv, "ringd")
	t.Setenv(noLeaderEnv, "1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// "Ctrl-C" as soon as the demo waits for agreement.
	out := &syncBuffer{match: "waiting for", onMatch: cancel}
	var errOut syncBuffer
	begin := time.Now()
	code := run(ctx, []string{"--ringd", os.Args[0], "--worker", os.Args[0], "--dir", t.TempDir(), "--timeout", "60s"}, out, &errOut)
	if code != exitInterrupted {
		t.Errorf("exit code %d, want %d; output:\n%s%s", code, exitInterrupted, out.String(), errOut.String())
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Errorf("took %v to stop", d)
	}
	if !strings.Contains(out.String(), "interrupted: stopping every member") {
		t.Errorf("output does not say it was interrupted:\n%s", out.String())
	}
	if kids := childPIDs(t); len(kids) != 0 {
		t.Errorf("processes left after an interrupt: %v", kids)
	}
}

func TestDemoRefusesBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--ringd", os.Args[0], "--members", "2"}, "--members is 2, must be at least 3"},
		{[]string{"--ringd", os.Args[0], "--partitions", "2"}, "--partitions is 2, must be at least --members"},
		{[]string{"--ringd", "/nonexistent/ringd"}, "make build"},
		{[]string{"--ringd", os.Args[0], "--worker", "/nonexistent/worker"}, "--worker: "},
		{[]string{"--ringd", os.Args[0], "--worker", os.Args[0], "--item-time", "0s"}, "--item-time must be positive"},
		{[]string{"--ringd", os.Args[0], "extra"}, "unexpected arguments: extra"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut syncBuffer
			if code := run(context.Background(), tt.args, &out, &errOut); code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.want)
			}
			if out.String() != "" {
				t.Errorf("started despite bad flags: %q", out.String())
			}
		})
	}
}

// childPIDs lists this test process's unreaped children (see
// procluster.ChildPIDs).
func childPIDs(t *testing.T) []int {
	t.Helper()
	pids, err := procluster.ChildPIDs()
	if err != nil {
		t.Fatal(err)
	}
	return pids
}
