package procluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringd/ringd/clientlib/api"
)

// The test binary doubles as a fake ringd (and as a parent process that starts
// a cluster of them), chosen by $PROCLUSTER_FAKE, so that process handling is
// tested without the real daemon.
const (
	fakeEnv = "PROCLUSTER_FAKE"
	// fakeFailOnceEnv names a file: the first fake to create it exits as if
	// its gossip port were taken.
	fakeFailOnceEnv = "PROCLUSTER_FAKE_FAILONCE"
	// fakeExitEnv makes every fake print "boom" and exit with status 3.
	fakeExitEnv = "PROCLUSTER_FAKE_EXIT"
	// fakeHangEnv makes every fake block without serving HTTP.
	fakeHangEnv = "PROCLUSTER_FAKE_HANG"
	// fakeDirEnv is the Dir of the cluster the parent mode starts.
	fakeDirEnv = "PROCLUSTER_FAKE_DIR"
)

func TestMain(m *testing.M) {
	switch os.Getenv(fakeEnv) {
	case "ringd":
		os.Exit(fakeRingd(os.Args[1:]))
	case "parent":
		os.Exit(fakeParent())
	}
	goleak.VerifyTestMain(m)
}

// fakeRingd binds its gossip port (TCP and UDP) and serves a fixed assignment
// (partition id goes to member id % members, ringd-0 leads) until SIGTERM.
// GET /partitions/mine long-polls like ringd's: ?index= below the current
// index (7) returns at once, otherwise after ?wait=. GET /fake/acked returns
// the highest ?index= a poll carried.
func fakeRingd(args []string) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	flags := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		flags[strings.TrimPrefix(args[i], "--")] = args[i+1]
	}
	if path := os.Getenv(fakeFailOnceEnv); path != "" {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
			f.Close()
			fmt.Printf("listen tcp %s: bind: address already in use\n", flags["gossip-addr"])
			return 1
		}
	}
	if os.Getenv(fakeExitEnv) != "" {
		fmt.Println("boom")
		return 3
	}
	if os.Getenv(fakeHangEnv) != "" {
		<-sigs
		return 0
	}
	name := flags["name"]
	idx, _ := strconv.Atoi(strings.TrimPrefix(name, "ringd-"))
	members, _ := strconv.Atoi(flags["bootstrap-expect"])
	parts, _ := strconv.Atoi(flags["partitions"])
	tl, err := net.Listen("tcp", flags["gossip-addr"])
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer tl.Close()
	ul, err := net.ListenPacket("udp", flags["gossip-addr"])
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer ul.Close()
	hl, err := net.Listen("tcp", flags["http-addr"])
	if err != nil {
		fmt.Println(err)
		return 1
	}
	const index = 7
	var (
		mu    sync.Mutex
		acked uint64
	)
	mine := api.Mine{Node: name, Term: 1, Index: index, Leader: "ringd-0", LeaseRemainingMs: 1500, Partitions: []api.Partition{}}
	for id := 0; id < parts; id++ {
		if members > 0 && id%members == idx {
			mine.Partitions = append(mine.Partitions, api.Partition{ID: id, Token: uint64(100 + id), State: "owned"})
		}
	}
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { reply(w, api.Health{Status: "ok"}) })
	mux.HandleFunc("GET /partitions/mine", func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("index"); q != "" {
			n, _ := strconv.ParseUint(q, 10, 64)
			mu.Lock()
			acked = max(acked, n)
			mu.Unlock()
			wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
			if n >= index {
				select {
				case <-time.After(wait):
				case <-r.Context().Done():
					return
				}
			}
		}
		reply(w, mine)
	})
	mux.HandleFunc("GET /cluster", func(w http.ResponseWriter, r *http.Request) {
		cl := api.Cluster{Node: name, Leader: "ringd-0", Term: 1, TableVersion: 3, Partitions: parts}
		for i := 0; i < members; i++ {
			cl.Members = append(cl.Members, api.Member{Name: fmt.Sprintf("ringd-%d", i), Rank: i, Alive: true, Leader: i == 0, InConfig: true})
		}
		reply(w, cl)
	})
	mux.HandleFunc("GET /fake/acked", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		reply(w, acked)
	})
	go func() { _ = http.Serve(hl, mux) }()
	fmt.Printf("fake ringd %s up: gossip %s http %s\n", name, flags["gossip-addr"], flags["http-addr"])
	<-sigs
	fmt.Println("SIGTERM: graceful shutdown")
	return 0
}

// fakeParent starts a two-member fake cluster, prints "pids A B" and then
// blocks until its stdin closes; it never calls Close, so only Pdeathsig can
// stop its members when it is killed.
func fakeParent() int {
	c, err := Start(context.Background(), Options{
		Binary:     os.Args[0],
		Members:    2,
		Partitions: 4,
		Dir:        os.Getenv(fakeDirEnv),
		Env:        []string{fakeEnv + "=ringd"},
	})
	if err != nil {
		fmt.Println("start:", err)
		return 1
	}
	var pids []string
	for _, m := range c.Members() {
		pids = append(pids, strconv.Itoa(m.PID()))
	}
	fmt.Println("pids", strings.Join(pids, " "))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}
