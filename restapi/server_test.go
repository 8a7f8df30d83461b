package restapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

func TestNewDefaultsAndServerLimits(t *testing.T) {
	s := New(newFake(sampleMine()), Options{})
	if s.opts.MaxWait != 5*time.Minute || s.opts.DefaultWait != 30*time.Second {
		t.Fatalf("defaults: MaxWait %v DefaultWait %v", s.opts.MaxWait, s.opts.DefaultWait)
	}
	if s.log == nil {
		t.Fatal("nil logger not replaced")
	}
	srv := s.srv
	if srv.ReadHeaderTimeout <= 0 || srv.ReadHeaderTimeout > 30*time.Second {
		t.Errorf("ReadHeaderTimeout = %v, want short", srv.ReadHeaderTimeout)
	}
	if srv.ReadTimeout <= 0 || srv.ReadTimeout > 30*time.Second {
		t.Errorf("ReadTimeout = %v, want short", srv.ReadTimeout)
	}
	if srv.WriteTimeout <= s.opts.MaxWait {
		t.Errorf("WriteTimeout = %v, must outlast MaxWait %v", srv.WriteTimeout, s.opts.MaxWait)
	}
	if srv.IdleTimeout <= 0 {
		t.Errorf("IdleTimeout not set")
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d, want bounded", srv.MaxHeaderBytes)
	}

	s = New(newFake(sampleMine()), Options{MaxWait: time.Second})
	if s.srv.WriteTimeout <= time.Second {
		t.Errorf("WriteTimeout %v does not follow MaxWait", s.srv.WriteTimeout)
	}
}

func TestServeAndShutdownReleasesLongPolls(t *testing.T) {
	f := newFake(sampleMine())
	logger, _ := testLogger(t)
	s := New(f, Options{Logger: logger})
	base, done := serveReal(t, s)
	c := newClient(t)

	if r := get(t, c, base+"/healthz"); r.status != http.StatusOK {
		t.Fatalf("healthz: %d", r.status)
	}

	polls := []<-chan result{
		goGet(context.Background(), c, base+"/partitions/mine?index=42&wait=1m"),
		goGet(context.Background(), c, base+"/partitions/mine?index=42"),
	}
	waitPolls(t, s, 2)
	// The answer carries the view as of the shutdown.
	now := sampleMine()
	now.LeaseRemainingMs = 1200
	f.set(now)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v; long-polls held it", d)
	}
	for _, ch := range polls {
		r := await(t, ch, 5*time.Second)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if m := decodeMine(t, r); m.Index != 42 || m.LeaseRemainingMs != 1200 {
			t.Fatalf("index %d lease %d, want 42 and 1200", m.Index, m.LeaseRemainingMs)
		}
	}
	if err := done.wait(t); err != nil {
		t.Fatalf("Serve returned %v after Shutdown, want nil", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if r := do(context.Background(), c, http.MethodGet, base+"/healthz"); r.err == nil {
		t.Fatalf("server still answers after Shutdown: %d", r.status)
	}
}

func TestServeAfterShutdownReturnsNil(t *testing.T) {
	s := New(newFake(sampleMine()), Options{})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := s.Serve(ln); err != nil {
		t.Fatalf("Serve after Shutdown = %v, want nil", err)
	}
}

func TestLongPollOutlivesReadTimeout(t *testing.T) {
	// ReadTimeout is short (10s) while long-polls last minutes. This relies on
	// net/http clearing the read deadline once a body-less request is read; if
	// the deadline stayed, its expiry would cancel the request's context and cut
	// every poll at ReadTimeout. Guard that assumption against Go upgrades.
	s := New(newFake(sampleMine()), Options{})
	s.srv.ReadTimeout = 100 * time.Millisecond
	s.srv.ReadHeaderTimeout = 100 * time.Millisecond
	base, _ := serveReal(t, s)

	r := get(t, newClient(t), base+"/partitions/mine?index=42&wait=500ms")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if r.elapsed < 500*time.Millisecond {
		t.Fatalf("returned after %v, before the 500ms wait", r.elapsed)
	}
	if m := decodeMine(t, r); m.Index != 42 {
		t.Fatalf("index %d", m.Index)
	}
}

// stuckSource blocks in Mine until release is closed: a daemon bug that Shutdown
// must not wait for forever.
type stuckSource struct {
	entered chan struct{}
	release chan struct{}
}

func (s stuckSource) Mine() (api.Mine, <-chan struct{}) {
	close(s.entered)
	<-s.release
	return sampleMine(), nil
}
func (stuckSource) Cluster() api.Cluster { return api.Cluster{} }

func TestShutdownGivesUpAtContextDeadline(t *testing.T) {
	src := stuckSource{entered: make(chan struct{}), release: make(chan struct{})}
	// No t.Log logger: the stuck handler finishes after the test.
	s := New(src, Options{})
	base, done := serveReal(t, s)
	// Let the handler goroutine end before goleak looks (cleanups run last in,
	// first out, so this runs before serveReal's).
	t.Cleanup(func() { close(src.release) })
	c := newClient(t)
	ch := goGet(context.Background(), c, base+"/partitions/mine")
	<-src.entered

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	// The stuck request's connection was cut.
	if r := await2(ch); r.err == nil {
		t.Fatalf("stuck request got an answer: %d", r.status)
	}
	if err := done.wait(t); err != nil {
		t.Fatalf("Serve = %v", err)
	}
}

// await2 waits for a result that is expected to be an error.
func await2(ch <-chan result) result {
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		return result{status: -1}
	}
}

func TestRequestLogging(t *testing.T) {
	f := newFake(sampleMine())
	s, ts, logs := newHTTPTest(t, f, Options{})
	c := newClient(t)

	ch := goGet(context.Background(), c, ts.URL+"/partitions/mine?index=42&wait=1m")
	waitPolls(t, s, 1)
	for range 5 {
		f.drainCalls()
		f.poke()
		select {
		case <-f.calls: // the handler re-read the view and waits again
		case <-time.After(5 * time.Second):
			t.Fatal("handler did not re-read the view after a wake-up")
		}
	}
	next := sampleMine()
	next.Index = 43
	f.set(next)
	await(t, ch, 5*time.Second)
	get(t, c, ts.URL+"/healthz")
	get(t, c, ts.URL+"/nope")
	ts.Close() // waits for handlers, so every log line is written

	var mine, health, nope []string
	for _, line := range strings.Split(logs.String(), "\n") {
		switch {
		case strings.Contains(line, "path=/partitions/mine"):
			mine = append(mine, line)
		case strings.Contains(line, "path=/healthz"):
			health = append(health, line)
		case strings.Contains(line, "path=/nope"):
			nope = append(nope, line)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("long-poll with 6 wake-ups logged %d lines, want 1:\n%s", len(mine), strings.Join(mine, "\n"))
	}
	for _, want := range []string{"[DEBUG]", "method=GET", "status=200", "duration="} {
		if !strings.Contains(mine[0], want) {
			t.Errorf("log line %q lacks %q", mine[0], want)
		}
	}
	if len(health) != 1 || !strings.Contains(health[0], "[TRACE]") {
		t.Errorf("healthz should log one trace line, got %q", health)
	}
	if len(nope) != 1 || !strings.Contains(nope[0], "status=404") {
		t.Errorf("404 should log its status, got %q", nope)
	}
}

func TestNilLoggerWorks(t *testing.T) {
	s := New(newFake(sampleMine()), Options{Logger: nil})
	if s.log.IsError() {
		t.Fatal("default logger is not the null logger")
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if r := get(t, newClient(t), ts.URL+"/nope"); r.status != http.StatusNotFound {
		t.Fatalf("status %d", r.status)
	}
}
