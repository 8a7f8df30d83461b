package restapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringd/ringd/clientlib/api"
)

// TestThousandsOfWatchers holds 2000 long-polls open at once through the real
// http.Server (half on /partitions/mine, half on /partitions) and wakes them
// all with one change of each.
func TestThousandsOfWatchers(t *testing.T) {
	const perRoute = 1000
	f := newFullFake(16, "a", "b")
	s := New(f, Options{})
	base, _ := serveReal(t, s)
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * perRoute}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: time.Minute}

	var mine, table []<-chan result
	for range perRoute {
		mine = append(mine, goGet(context.Background(), c, base+"/partitions/mine?index=42&wait=1m"))
		table = append(table, goGet(context.Background(), c, base+"/partitions?index=1&wait=1m"))
	}
	waitForLong(t, "2000 blocked long-polls", func() bool { return s.polls.Load() == 2*perRoute })

	next := sampleMine()
	next.Index = 43
	f.set(next)
	f.setTable(dealTable(2, 16, []string{"b"}))
	for i := range perRoute {
		if r := await(t, mine[i], 30*time.Second); r.status != http.StatusOK || r.header.Get(api.IndexHeader) != "43" {
			t.Fatalf("mine watcher %d: %d index %q", i, r.status, r.header.Get(api.IndexHeader))
		}
		if r := await(t, table[i], 30*time.Second); r.status != http.StatusOK || r.header.Get(api.IndexHeader) != "2" {
			t.Fatalf("table watcher %d: %d index %q", i, r.status, r.header.Get(api.IndexHeader))
		}
	}
	waitPolls(t, s, 0)
}

// waitForLong is waitFor with room for a slow, loaded machine.
func waitForLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTableWatchClientCancelFreesHandler(t *testing.T) {
	s, ts, _ := newHTTPTest(t, newFullFake(8, "a"), Options{})
	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	baseline := goleak.IgnoreCurrent()

	ctx, cancel := context.WithCancel(context.Background())
	ch := goGet(ctx, c, ts.URL+"/partitions?index=1&wait=1m")
	waitPolls(t, s, 1)
	cancel()
	if r := <-ch; r.err == nil {
		t.Fatalf("request was not cancelled: %d", r.status)
	}
	tr.CloseIdleConnections()
	waitPolls(t, s, 0)
	if err := goleak.Find(baseline); err != nil {
		t.Fatalf("goroutines left after the client went away: %v", err)
	}
}
