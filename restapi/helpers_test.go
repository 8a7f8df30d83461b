package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/testlog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeSource is a Source whose view the test changes. Like the real watch hub,
// it closes the current change channel and makes a new one whenever the index
// changes.
type fakeSource struct {
	mu      sync.Mutex
	mine    api.Mine
	changed chan struct{}
	cluster api.Cluster
	// calls gets a token per Mine call (dropped when full), so a test can see
	// that a handler has read the view.
	calls chan struct{}
}

func newFake(m api.Mine) *fakeSource {
	return &fakeSource{mine: m, changed: make(chan struct{}), calls: make(chan struct{}, 64)}
}

func (f *fakeSource) Mine() (api.Mine, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case f.calls <- struct{}{}:
	default:
	}
	m := f.mine
	if m.Partitions != nil {
		m.Partitions = append([]api.Partition(nil), m.Partitions...)
	}
	return m, f.changed
}

func (f *fakeSource) Cluster() api.Cluster {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cluster
}

// set replaces the view and wakes watchers if the index changed.
func (f *fakeSource) set(m api.Mine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.mine.Index
	f.mine = m
	if m.Index != old {
		close(f.changed)
		f.changed = make(chan struct{})
	}
}

// poke wakes watchers without changing the index (a spurious wake-up, which a
// Source is allowed to cause).
func (f *fakeSource) poke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeSource) setCluster(c api.Cluster) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cluster = c
}

// drainCalls forgets earlier Mine calls.
func (f *fakeSource) drainCalls() {
	for {
		select {
		case <-f.calls:
		default:
			return
		}
	}
}

// sampleMine is a /partitions/mine answer with one owned and one releasing
// partition, tokens beyond 2^32 and every field set.
func sampleMine() api.Mine {
	return api.Mine{
		Node: "ringd-0", Incarnation: "1796000000000000001", Term: 7, Index: 42, Leader: "ringd-2", LeaseRemainingMs: 1830,
		Partitions: []api.Partition{
			{ID: 3, Token: 700000000012, State: "owned", LeaseRemainingMs: 1830},
			{ID: 9, Token: 700000000007, State: "releasing", LeaseRemainingMs: 640},
		},
	}
}

// testLogger returns a logger into t.Log that also keeps what it logged.
func testLogger(t testing.TB) (hclog.Logger, *testlog.Writer) {
	w := testlog.New(t).Keep()
	return hclog.New(&hclog.LoggerOptions{Name: "restapi", Level: hclog.Trace, Output: w}), w
}

// newHTTPTest serves s.Handler() on an httptest server, closed at cleanup (which
// waits for every handler to return).
func newHTTPTest(t *testing.T, src Source, opts Options) (*Server, *httptest.Server, *testlog.Writer) {
	t.Helper()
	var logs *testlog.Writer
	if opts.Logger == nil {
		opts.Logger, logs = testLogger(t)
	}
	s := New(src, opts)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts, logs
}

// served is the outcome of a Serve call running in the background.
type served struct {
	done chan struct{} // closed when Serve returned
	err  error         // Serve's result, valid after done
}

// serveReal runs s.Serve on a loopback listener, so the http.Server settings
// (timeouts, Shutdown) are the ones under test. At cleanup it shuts s down and
// waits for Serve.
func serveReal(t *testing.T, s *Server) (string, *served) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	res := &served{done: make(chan struct{})}
	go func() {
		res.err = s.Serve(ln)
		close(res.done)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown at cleanup: %v", err)
		}
		<-res.done
	})
	return "http://" + ln.Addr().String(), res
}

// wait waits up to 5s for Serve to return and gives its result.
func (r *served) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// newClient returns a client with its own transport, whose connections are
// closed at cleanup so goleak sees no transport goroutines.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

type result struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
	err     error
}

func do(ctx context.Context, c *http.Client, method, url string) result {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return result{err: err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: body, elapsed: time.Since(start), err: err}
}

// get does a GET and fails the test on a transport error.
func get(t *testing.T, c *http.Client, url string) result {
	t.Helper()
	r := do(context.Background(), c, http.MethodGet, url)
	if r.err != nil {
		t.Fatalf("GET %s: %v", url, r.err)
	}
	return r
}

// goGet runs a GET in the background.
func goGet(ctx context.Context, c *http.Client, url string) <-chan result {
	ch := make(chan result, 1)
	go func() { ch <- do(ctx, c, http.MethodGet, url) }()
	return ch
}

// await waits for a background result, failing after d.
func await(t *testing.T, ch <-chan result, d time.Duration) result {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("request failed: %v", r.err)
		}
		return r
	case <-time.After(d):
		t.Fatalf("no response within %v", d)
		return result{}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// waitPolls waits until exactly n long-polls are blocked in s.
func waitPolls(t *testing.T, s *Server, n int64) {
	t.Helper()
	waitFor(t, "blocked long-polls to be "+strconv.FormatInt(n, 10), func() bool { return s.polls.Load() == n })
}

func decodeMine(t *testing.T, r result) api.Mine {
	t.Helper()
	var m api.Mine
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func decodeError(t *testing.T, r result) api.Error {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e api.Error
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q is not an api.Error: %v", r.body, err)
	}
	if e.Error == "" {
		t.Fatalf("error body %q has an empty message", r.body)
	}
	return e
}
