package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/internal/memnet"
	"github.com/ringd/ringd/internal/testlog"
)

// A member whose cluster-wide settings differ is refused at join, with a log
// line on both sides; one with another cluster label never even talks to us.
func TestIncompatibleMembersCannotJoin(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mutate   func(*Config)
		wantLogs bool // refusal lines on both sides
	}{
		{"partition count", func(c *Config) { c.Partitions = 64 }, true},
		{"cluster label", func(c *Config) { c.ClusterLabel = "other" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := memnet.New(7)
			start := func(name, addr string, join []string, expect int, mutate func(*Config)) (*Daemon, *testlog.Writer) {
				t.Helper()
				cfg := fastConfig(name, addr, 32, join, expect)
				if mutate != nil {
					mutate(&cfg)
				}
				tr, err := net.NewTransport(addr)
				if err != nil {
					t.Fatal(err)
				}
				logs := testlog.New(t).Keep()
				d, err := Start(mustResolve(t, cfg), hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: logs}), WithTransport(tr))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { net.Crash(addr); d.Crash() })
				return d, logs
			}
			a, aLogs := start("a", "127.0.0.1:7946", nil, 0, nil)
			deadline := time.Now().Add(20 * time.Second)
			for !a.isLeaderNow() {
				if time.Now().After(deadline) {
					t.Fatal("a never led its one-member cluster")
				}
				time.Sleep(10 * time.Millisecond) // polling interval
			}
			_, bLogs := start("b", "127.0.0.2:7946", []string{"127.0.0.1:7946"}, 0, tc.mutate)
			// Watch for a while: b must never become a member of a's cluster.
			watchUntil := time.Now().Add(2 * time.Second)
			for time.Now().Before(watchUntil) {
				for _, m := range (&source{d: a}).Cluster().Members {
					if m.Name == "b" {
						t.Fatalf("incompatible member b joined a's cluster: %+v", m)
					}
				}
				time.Sleep(20 * time.Millisecond) // polling interval
			}
			if tc.wantLogs {
				for side, logs := range map[string]*testlog.Writer{"a": aLogs, "b": bLogs} {
					if !strings.Contains(logs.String(), "refusing member with incompatible settings") {
						t.Errorf("no refusal logged on %s's side:\n%s", side, logs.String())
					}
				}
			}
		})
	}
}
