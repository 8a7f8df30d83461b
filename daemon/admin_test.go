package daemon

import (
	"encoding/json"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// httpDo sends a request to a member's API and returns status and body.
func httpDo(t *testing.T, m *testMember, method, path string) (int, string) {
	t.Helper()
	return httpCall(t, method, "http://"+m.d.HTTPAddr()+path)
}

// httpCall sends a request without a body and returns status and body.
func httpCall(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDrainKeepsSomebodyToTakeOver: draining the last member that could take
// partitions is refused with a reason; drains are logged in /changes with
// who asked, apart from the partition moves.
func TestDrainKeepsSomebodyToTakeOver(t *testing.T) {
	c := newTestCluster(t, 2, 16)
	c.waitCoverage(c.members, 30*time.Second)
	m0, m1 := c.members[0], c.members[1]

	if code, body := httpDo(t, m0, http.MethodPost, "/admin/drain"); code != http.StatusOK {
		t.Fatalf("draining m0: %d %s", code, body)
	}
	// m1 sees m0 draining through gossip; until then it may still accept.
	c.eventually(20*time.Second, "m1 to see m0 draining", func() bool {
		for _, m := range m1.d.snap.Load().view.Members {
			if m.Name == "m0" && m.Draining {
				return true
			}
		}
		return false
	})
	code, body := httpDo(t, m1, http.MethodPost, "/admin/drain")
	if code != http.StatusConflict || !strings.Contains(body, "no other member can take") || strings.Contains(body, "conflict:") {
		t.Fatalf("draining the last undrained member: %d %s, want 409 with the reason", code, body)
	}
	// Drained, m0's partitions went to m1 and stay there.
	c.eventually(20*time.Second, "m0 to hold nothing", func() bool { return len(c.holdings(m0)) == 0 })

	code, body = httpDo(t, m0, http.MethodGet, "/changes")
	var ch api.Changes
	if code != http.StatusOK || json.Unmarshal([]byte(body), &ch) != nil {
		t.Fatalf("/changes: %d %s", code, body)
	}
	admin, moves := 0, 0
	for _, e := range ch.Changes {
		switch e.Kind {
		case api.ChangeAdmin:
			admin++
			if !strings.Contains(e.What, "m0: drain asked by 127.0.0.1:") {
				t.Errorf("admin change %q does not say who asked", e.What)
			}
		case api.ChangeMove:
			moves++
		case api.ChangeCluster:
		default:
			t.Errorf("change of kind %q: %+v", e.Kind, e)
		}
	}
	if admin != 1 {
		t.Errorf("%d admin changes on m0, want 1: %+v", admin, ch.Changes)
	}

	if code, body := httpDo(t, m0, http.MethodPost, "/admin/undrain"); code != http.StatusOK {
		t.Fatalf("undraining m0: %d %s", code, body)
	}
	c.eventually(20*time.Second, "m1 to see m0 undrained", func() bool {
		for _, m := range m1.d.snap.Load().view.Members {
			if m.Name == "m0" && !m.Draining {
				return true
			}
		}
		return false
	})
	if code, body := httpDo(t, m1, http.MethodPost, "/admin/drain"); code != http.StatusOK {
		t.Fatalf("draining m1 once m0 is back: %d %s", code, body)
	}
	// memberlist's own telemetry is served with ringd's metrics.
	if code, body := httpDo(t, m0, http.MethodGet, "/metrics"); code != http.StatusOK ||
		!strings.Contains(body, "memberlist_msg_alive") || !strings.Contains(body, "ringd_build_info") {
		t.Errorf("/metrics: %d, without memberlist_msg_alive or ringd_build_info", code)
	}
}

// TestChangeLogKeepsEventsApartFromMoves: a rebalance's moves do not push
// the leader changes out of /changes.
func TestChangeLogKeepsEventsApartFromMoves(t *testing.T) {
	var l changeLog
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	l.add(at, api.ChangeCluster, "m0 became leader")
	for i := range 3 * changeLogSize {
		l.add(at.Add(time.Duration(i+1)*time.Millisecond), api.ChangeMove, "partition %d moved", i)
	}
	l.add(at.Add(time.Hour), api.ChangeAdmin, "m1: drain")
	got := l.list()
	if len(got) != changeLogSize+2 {
		t.Fatalf("%d changes, want the %d newest moves and the 2 others", len(got), changeLogSize)
	}
	if got[0].What != "m0 became leader" || got[len(got)-1].What != "m1: drain" {
		t.Errorf("first %+v, last %+v", got[0], got[len(got)-1])
	}
	for i := 1; i < len(got); i++ {
		if got[i].At < got[i-1].At {
			t.Fatalf("not oldest first at %d: %v after %v", i, got[i].At, got[i-1].At)
		}
	}
}

// TestAppLivenessDrains: a member whose application stops polling loses
// its partitions after --app-liveness-timeout, says why, and takes
// partitions again at the application's next poll. Observers' polls
// (?observer=true) do not count; clientlib's (?ack=false) do.
func TestAppLivenessDrains(t *testing.T) {
	c := newTestCluster(t, 2, 16)
	c.waitCoverage(c.members, 30*time.Second)
	m0 := c.members[0]
	// Restart m0 with the timeout; nothing polls as its application.
	c.kill(m0)
	m0.cfg.AppLivenessTimeout = time.Second
	c.start(m0)
	observe := func() api.Mine {
		code, body := httpDo(t, m0, http.MethodGet, "/partitions/mine?ack=false&observer=true")
		var m api.Mine
		if code != http.StatusOK || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("/partitions/mine: %d %s", code, body)
		}
		return m
	}
	c.eventually(30*time.Second, "m0 drained for its silent application, ringd_app_live 0", func() bool {
		m := observe()
		return m.Draining && m.DrainReason == "app-liveness" && testutil.ToFloat64(m0.d.metrics.appLive) == 0
	})
	c.eventually(30*time.Second, "m0's partitions moved away", func() bool { return len(c.holdings(m0)) == 0 })
	// The application polls again: a watch without acknowledging, as
	// clientlib polls.
	polled := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + m0.d.HTTPAddr() + "/partitions/mine?index=0&wait=2s&ack=false")
		if err == nil {
			resp.Body.Close()
		}
		polled <- err
	}()
	c.eventually(30*time.Second, "m0 undrained after its application polled", func() bool {
		return !observe().Draining && testutil.ToFloat64(m0.d.metrics.appLive) == 1
	})
	if err := <-polled; err != nil {
		t.Errorf("the application's poll: %v", err)
	}
}
