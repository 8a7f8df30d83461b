package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringd/ringd/clientlib/api"
)

// keys returns the sorted keys of a JSON object.
func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestMineJSONFieldsAsDesigned(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{})
	r := get(t, newClient(t), ts.URL+"/partitions/mine")

	if r.status != http.StatusOK {
		t.Fatalf("status = %d, body %s", r.status, r.body)
	}
	if got := r.header.Get("X-Ringd-Index"); got != "42" {
		t.Errorf("X-Ringd-Index = %q, want 42", got)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}

	// Decode generically: the JSON names are the contract (the OpenAPI
	// document in docs/openapi), not our Go struct, and tokens must survive
	// as exact integers.
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"draining", "heldMs", "incarnation", "index", "leader", "leaseRemainingMs", "node", "partitions", "term"}
	if got := keys(doc); !reflect.DeepEqual(got, want) {
		t.Fatalf("top-level fields = %v, want %v", got, want)
	}
	for k, v := range map[string]string{"node": "ringd-0", "leader": "ringd-2"} {
		if doc[k] != v {
			t.Errorf("%s = %v, want %s", k, doc[k], v)
		}
	}
	for k, v := range map[string]string{"term": "7", "index": "42", "leaseRemainingMs": "1830"} {
		if n, ok := doc[k].(json.Number); !ok || n.String() != v {
			t.Errorf("%s = %v, want %s", k, doc[k], v)
		}
	}
	parts, ok := doc["partitions"].([]any)
	if !ok || len(parts) != 2 {
		t.Fatalf("partitions = %v", doc["partitions"])
	}
	wantParts := []map[string]string{
		{"id": "3", "token": "700000000012", "state": "owned", "leaseRemainingMs": "1830"},
		{"id": "9", "token": "700000000007", "state": "releasing", "leaseRemainingMs": "640"},
	}
	for i, p := range parts {
		obj := p.(map[string]any)
		if got := keys(obj); !reflect.DeepEqual(got, []string{"id", "leaseRemainingMs", "state", "token"}) {
			t.Fatalf("partition fields = %v", got)
		}
		for k, v := range wantParts[i] {
			// json.Number and string both print as their text.
			if got := fmt.Sprint(obj[k]); got != v {
				t.Errorf("partitions[%d].%s = %v, want %s", i, k, got, v)
			}
		}
	}
}

func TestMineEmptyPartitionsIsArrayNotNull(t *testing.T) {
	m := sampleMine()
	m.Partitions = nil
	m.LeaseRemainingMs = 0
	_, ts, _ := newHTTPTest(t, newFake(m), Options{})
	r := get(t, newClient(t), ts.URL+"/partitions/mine")
	if !bytes.Contains(r.body, []byte(`"partitions":[]`)) {
		t.Fatalf("body %s: want \"partitions\":[]", r.body)
	}
}

func TestLongPollReturnsAtOnce(t *testing.T) {
	for _, tc := range []struct{ name, query string }{
		{"index below current", "?index=41&wait=1m"},
		{"index above current (member restarted)", "?index=43&wait=1m"},
		{"index zero", "?index=0&wait=1m"},
		{"no index", "?wait=1m"},
		{"equal index with wait 0", "?index=42&wait=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{})
			r := get(t, newClient(t), ts.URL+"/partitions/mine"+tc.query)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			// Far below the one-minute wait; generous for a loaded CI box.
			if r.elapsed > 5*time.Second {
				t.Fatalf("took %v, want an answer at once", r.elapsed)
			}
			if m := decodeMine(t, r); m.Index != 42 {
				t.Fatalf("index = %d, want 42", m.Index)
			}
		})
	}
}

func TestLongPollBlocksUntilIndexChanges(t *testing.T) {
	f := newFake(sampleMine())
	s, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)

	ch := goGet(context.Background(), c, ts.URL+"/partitions/mine?index=42&wait=1m")
	waitPolls(t, s, 1)

	// A wake-up that leaves the index alone must not end the poll.
	f.drainCalls()
	f.poke()
	select {
	case <-f.calls: // the handler re-read the view after the wake-up
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not re-read the view after a wake-up")
	}
	select {
	case r := <-ch:
		t.Fatalf("returned before the index changed: %d %s", r.status, r.body)
	case <-time.After(100 * time.Millisecond):
	}
	if got := s.polls.Load(); got != 1 {
		t.Fatalf("blocked polls = %d after a spurious wake-up, want 1", got)
	}

	next := sampleMine()
	next.Index = 43
	next.Partitions = next.Partitions[:1]
	changedAt := time.Now()
	f.set(next)

	r := await(t, ch, 5*time.Second)
	if d := time.Since(changedAt); d > 2*time.Second {
		t.Errorf("answered %v after the change, want promptly", d)
	}
	m := decodeMine(t, r)
	if m.Index != 43 || len(m.Partitions) != 1 {
		t.Fatalf("got index %d with %d partitions, want 43 with 1", m.Index, len(m.Partitions))
	}
	if h := r.header.Get(api.IndexHeader); h != "43" {
		t.Fatalf("%s = %q, want 43", api.IndexHeader, h)
	}
}

func TestLongPollReturnsSameIndexAtWaitExpiry(t *testing.T) {
	f := newFake(sampleMine())
	_, ts, _ := newHTTPTest(t, f, Options{})

	r := get(t, newClient(t), ts.URL+"/partitions/mine?index=42&wait=100ms")
	if r.elapsed < 100*time.Millisecond {
		t.Fatalf("returned after %v, before the 100ms wait", r.elapsed)
	}
	if r.elapsed > 5*time.Second {
		t.Fatalf("returned after %v, long after the 100ms wait", r.elapsed)
	}
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if m := decodeMine(t, r); m.Index != 42 {
		t.Fatalf("index = %d, want 42", m.Index)
	}
	if h := r.header.Get(api.IndexHeader); h != "42" {
		t.Fatalf("%s = %q", api.IndexHeader, h)
	}
}

func TestLongPollAnswersWithFreshViewAtExpiry(t *testing.T) {
	// The lease keeps running down without an index change; the answer at the
	// end of the wait must show the lease as it is then, not as it was.
	f := newFake(sampleMine())
	s, ts, _ := newHTTPTest(t, f, Options{})
	ch := goGet(context.Background(), newClient(t), ts.URL+"/partitions/mine?index=42&wait=300ms")
	waitPolls(t, s, 1)
	later := sampleMine()
	later.LeaseRemainingMs = 900
	f.set(later) // same index: no wake-up
	m := decodeMine(t, await(t, ch, 5*time.Second))
	if m.Index != 42 || m.LeaseRemainingMs != 900 {
		t.Fatalf("index %d lease %d, want 42 and 900", m.Index, m.LeaseRemainingMs)
	}
}

func TestLongPollDefaultWait(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{DefaultWait: 150 * time.Millisecond})
	r := get(t, newClient(t), ts.URL+"/partitions/mine?index=42")
	if r.elapsed < 150*time.Millisecond || r.elapsed > 5*time.Second {
		t.Fatalf("took %v, want about the 150ms default wait", r.elapsed)
	}
	if m := decodeMine(t, r); m.Index != 42 {
		t.Fatalf("index = %d", m.Index)
	}
}

func TestLongPollWaitClampedAtMaxWait(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{MaxWait: 150 * time.Millisecond})
	for _, wait := range []string{"1h", "3600"} {
		r := get(t, newClient(t), ts.URL+"/partitions/mine?index=42&wait="+wait)
		if r.status != http.StatusOK {
			t.Fatalf("wait=%s: status %d: %s", wait, r.status, r.body)
		}
		if r.elapsed < 150*time.Millisecond || r.elapsed > 5*time.Second {
			t.Fatalf("wait=%s took %v, want about MaxWait (150ms)", wait, r.elapsed)
		}
		if m := decodeMine(t, r); m.Index != 42 {
			t.Fatalf("index = %d", m.Index)
		}
	}
}

func TestLongPollClientCancelFreesHandler(t *testing.T) {
	s, ts, logs := newHTTPTest(t, newFake(sampleMine()), Options{})
	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	// Everything running now (test server, its accept loop) is the baseline.
	baseline := goleak.IgnoreCurrent()

	ctx, cancel := context.WithCancel(context.Background())
	ch := goGet(ctx, c, ts.URL+"/partitions/mine?index=42&wait=1m")
	waitPolls(t, s, 1)
	cancel()
	if r := <-ch; r.err == nil {
		t.Fatalf("request was not cancelled: %d", r.status)
	}
	tr.CloseIdleConnections()

	// The handler must go at once, not when the minute is up.
	waitPolls(t, s, 0)
	if err := goleak.Find(baseline); err != nil {
		t.Fatalf("goroutines left after the client went away: %v", err)
	}
	waitFor(t, "the request log line", func() bool { return strings.Contains(logs.String(), "client=gone") })
}

func TestParseWait(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "30", want: 30 * time.Second},
		{in: "0", want: 0},
		{in: "0s", want: 0},
		{in: "99999999999999999999", bad: true}, // not a uint64: not seconds, not a duration
		{in: "9223372036854775807", want: time.Duration(1<<63 - 1)},
		{in: "-5s", bad: true},
		{in: "-5", bad: true},
		{in: "banana", bad: true},
		{in: "", bad: true},
		{in: "1.5", bad: true},
		{in: "5 s", bad: true},
	} {
		got, err := parseWait(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseWait(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseWait(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParsePollClampsAndDefaults(t *testing.T) {
	s := New(newFake(sampleMine()), Options{MaxWait: time.Minute, DefaultWait: 2 * time.Minute})
	if s.opts.DefaultWait != time.Minute {
		t.Fatalf("DefaultWait above MaxWait not clamped: %v", s.opts.DefaultWait)
	}
	for _, tc := range []struct {
		raw  string
		want pollQuery
	}{
		{"", pollQuery{wait: time.Minute}},
		{"index=7", pollQuery{block: true, index: 7, wait: time.Minute}},
		{"index=7&wait=10s", pollQuery{block: true, index: 7, wait: 10 * time.Second}},
		{"index=7&wait=2h", pollQuery{block: true, index: 7, wait: time.Minute}},
		{"index=18446744073709551615&wait=9223372036854775807", pollQuery{block: true, index: 1<<64 - 1, wait: time.Minute}},
	} {
		got, err := s.parsePoll(tc.raw)
		// A watch waits up to 1/16 longer (jitter).
		jitter := got.wait - tc.want.wait
		if tc.want.block && jitter >= 0 && jitter < tc.want.wait/16 {
			got.wait = tc.want.wait
		}
		if err != nil || got != tc.want {
			t.Errorf("parsePoll(%q) = %+v, %v; want %+v (a watch's wait up to 1/16 longer)", tc.raw, got, err, tc.want)
		}
	}
}

// TestPollJitterSpreads checks that watches do not all get the same wait.
func TestPollJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 100 {
		j := pollJitter(16 * time.Second)
		if j < 0 || j >= time.Second {
			t.Fatalf("jitter %v for a 16s wait, want [0, 1s)", j)
		}
		seen[j] = true
	}
	if len(seen) < 50 {
		t.Errorf("100 jitters took only %d values", len(seen))
	}
	if j := pollJitter(0); j != 0 {
		t.Errorf("jitter %v for wait=0 (answer at once)", j)
	}
}
