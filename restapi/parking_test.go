package restapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/clientlib/api"
)

// withoutHeld returns a /partitions/mine body with heldMs zeroed, so that two
// answers of one view compare equal.
func withoutHeld(t *testing.T, body []byte) string {
	t.Helper()
	var m api.Mine
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if m.HeldMs < 0 {
		t.Fatalf("heldMs %d < 0", m.HeldMs)
	}
	m.HeldMs = 0
	out, _ := json.Marshal(m)
	return string(out)
}

// TestParkedPollAnswersLikeAPlainRead: a watch that waits is taken off
// net/http, and the answer the parking writes when the index moves carries
// the same body and headers as a plain read of the new view; the
// connection then serves the client's next request (keep-alive).
func TestParkedPollAnswersLikeAPlainRead(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFake(sampleMine())
	s := New(f, Options{Registerer: reg})
	base, _ := serveReal(t, s)
	c := newClient(t)

	ch := goGet(context.Background(), c, base+"/partitions/mine?index=42&wait=1m")
	waitPolls(t, s, 1)
	if n, _ := parkedPolls(s); n != 1 {
		t.Fatalf("%d polls parked, want 1: the watch kept its net/http goroutine", n)
	}
	next := sampleMine()
	next.Index = 43
	next.Partitions = append(next.Partitions, api.Partition{ID: 12, Token: 5, State: "owned", LeaseRemainingMs: 1830})
	f.set(next)
	parkedAnswer := await(t, ch, 10*time.Second)
	waitPolls(t, s, 0)
	plain := get(t, c, base+"/partitions/mine")

	if parkedAnswer.status != http.StatusOK {
		t.Fatalf("status %d: %s", parkedAnswer.status, parkedAnswer.body)
	}
	if got, want := withoutHeld(t, parkedAnswer.body), withoutHeld(t, plain.body); got != want {
		t.Fatalf("parked answer\n%s\nplain read\n%s", got, want)
	}
	if !bytes.HasSuffix(parkedAnswer.body, []byte("}\n")) {
		t.Fatalf("body does not end as encoding/json's: %q", parkedAnswer.body)
	}
	for _, h := range []string{api.IndexHeader, "Content-Type", "Cache-Control"} {
		if got, want := parkedAnswer.header.Get(h), plain.header.Get(h); got != want || got == "" {
			t.Errorf("header %s: parked %q, plain %q", h, got, want)
		}
	}
	if got := parkedAnswer.header.Get("Content-Length"); got != strconv.Itoa(len(parkedAnswer.body)) {
		t.Errorf("Content-Length %q for %d bytes", got, len(parkedAnswer.body))
	}
	if _, err := http.ParseTime(parkedAnswer.header.Get("Date")); err != nil {
		t.Errorf("Date %q: %v", parkedAnswer.header.Get("Date"), err)
	}

	// The answered connection went back to net/http: the next watch reuses it.
	var reused atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused.Store(info.Reused) }}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	r := do(ctx, c, http.MethodGet, base+"/partitions/mine?index=42&wait=1m")
	if r.err != nil || r.status != http.StatusOK || r.header.Get(api.IndexHeader) != "43" {
		t.Fatalf("next poll: %v %d %q", r.err, r.status, r.header.Get(api.IndexHeader))
	}
	if !reused.Load() {
		t.Fatal("the poll after a parked answer opened a new connection; keep-alive was lost")
	}

	requests, _ := counts(t, reg)
	if got := requests[[3]string{"/partitions/mine", "GET", "200"}]; got != 3 {
		t.Errorf("requests_total{/partitions/mine,GET,200} = %v, want 3 (the parked one counted once)", got)
	}
}

// parkedPolls is how many polls s holds in its parking, waiting or idle.
func parkedPolls(s *Server) (waiting, idle int) {
	s.parking.mu.Lock()
	defer s.parking.mu.Unlock()
	for _, p := range s.parking.byDeadline {
		if p.idle {
			idle++
		} else {
			waiting++
		}
	}
	return waiting, idle
}

// waitParked waits until s holds waiting polls and idle connections.
func waitParked(t *testing.T, s *Server, waiting, idle int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d waiting and %d idle parked", waiting, idle), func() bool {
		w, i := parkedPolls(s)
		return w == waiting && i == idle
	})
}

// rawPoll writes a long-poll for index on conn.
func rawPoll(t *testing.T, conn net.Conn, index int) {
	t.Helper()
	req := "GET /partitions/mine?index=" + strconv.Itoa(index) + "&wait=5m HTTP/1.1\r\nHost: ringd\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
}

// readAnswer reads one response from br.
func readAnswer(t *testing.T, conn net.Conn, br *bufio.Reader) *http.Response {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp
}

// TestAnsweredConnectionRestsUntilTheNextRequest: an answered connection
// stays parked, idle (not a net/http goroutine), until the client sends its
// next request, which net/http then serves; one whose client closes it is
// dropped; one idle past the idle timeout is closed by the server.
func TestAnsweredConnectionRestsUntilTheNextRequest(t *testing.T) {
	f := newFake(sampleMine())
	s := New(f, Options{})
	s.parking.idleFor = 500 * time.Millisecond
	base, _ := serveReal(t, s)
	addr := strings.TrimPrefix(base, "http://")
	dial := func() (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn, bufio.NewReader(conn)
	}
	// answeredAndResting parks a poll on index, moves the member to index+1
	// and reads the answer; the connection then rests in the parking.
	answeredAndResting := func(index int) (net.Conn, *bufio.Reader) {
		t.Helper()
		conn, br := dial()
		rawPoll(t, conn, index)
		waitParked(t, s, 1, 0)
		next := sampleMine()
		next.Index = uint64(index + 1)
		f.set(next)
		if resp := readAnswer(t, conn, br); resp.Header.Get(api.IndexHeader) != strconv.Itoa(index+1) || resp.Close {
			t.Fatalf("index %q close %v", resp.Header.Get(api.IndexHeader), resp.Close)
		}
		waitParked(t, s, 0, 1)
		return conn, br
	}

	// Next request on the idle connection: served by net/http.
	conn, br := answeredAndResting(42)
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: ringd\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp := readAnswer(t, conn, br); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz on the rested connection: %d", resp.StatusCode)
	}
	waitParked(t, s, 0, 0)

	// The client closes the idle connection: dropped at once.
	conn2, _ := answeredAndResting(43)
	_ = conn2.Close()
	waitParked(t, s, 0, 0)

	// Idle past the idle timeout: the server closes it.
	conn3, br3 := answeredAndResting(44)
	_ = conn3.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := br3.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection past the idle timeout: read %d, %v; want EOF", n, err)
	}
	waitParked(t, s, 0, 0)
}

// TestParkedPollWaitRunsOut: a parked poll whose ?wait= runs out gets the
// view as it is then, same index, read at the end of the wait.
func TestParkedPollWaitRunsOut(t *testing.T) {
	f := newFake(sampleMine())
	s := New(f, Options{})
	base, _ := serveReal(t, s)
	c := newClient(t)

	// Polls with different waits are answered each at its own deadline.
	long := goGet(context.Background(), c, base+"/partitions/mine?index=42&wait=1m")
	waitPolls(t, s, 1)
	r := get(t, c, base+"/partitions/mine?index=42&wait=300ms")
	if r.status != http.StatusOK || r.header.Get(api.IndexHeader) != "42" {
		t.Fatalf("%d %q", r.status, r.header.Get(api.IndexHeader))
	}
	if r.elapsed < 300*time.Millisecond {
		t.Fatalf("answered after %v, before its wait of 300ms", r.elapsed)
	}
	if held := decodeMine(t, r).HeldMs; held < 300 {
		t.Fatalf("heldMs %d, want >= 300", held)
	}
	select {
	case r := <-long:
		t.Fatalf("the 1m poll was answered with the 300ms one: %+v", r)
	default:
	}
	if n := s.polls.Load(); n != 1 {
		t.Fatalf("%d polls parked, want the 1m one", n)
	}
	next := sampleMine()
	next.Index = 50
	f.set(next)
	if r := await(t, long, 10*time.Second); r.header.Get(api.IndexHeader) != "50" {
		t.Fatalf("index %q", r.header.Get(api.IndexHeader))
	}
}

// TestShutdownAnswersParkedPolls: Shutdown answers every parked poll at
// once, with Connection: close, and does not wait for their ?wait=.
func TestShutdownAnswersParkedPolls(t *testing.T) {
	s := New(newFake(sampleMine()), Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	c := newClient(t)
	var chans []<-chan result
	for range 5 {
		chans = append(chans, goGet(context.Background(), c, "http://"+ln.Addr().String()+"/partitions/mine?index=42&wait=5m"))
	}
	waitPolls(t, s, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, ch := range chans {
		r := await(t, ch, 10*time.Second)
		if r.status != http.StatusOK || r.header.Get(api.IndexHeader) != "42" {
			t.Fatalf("%d %q", r.status, r.header.Get(api.IndexHeader))
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	waitPolls(t, s, 0)
}

// TestParkedPollClientLeavesOnRealServer: a client that closes its
// connection while parked is noticed at once (not at its deadline), counted
// as 499 and its socket closed.
func TestParkedPollClientLeavesOnRealServer(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(newFake(sampleMine()), Options{Registerer: reg})
	base, _ := serveReal(t, s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /partitions/mine?index=42&wait=5m HTTP/1.1\r\nHost: ringd\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitPolls(t, s, 1)
	if n, _ := parkedPolls(s); n != 1 {
		t.Fatalf("%d polls parked, want 1", n)
	}
	_ = conn.Close()
	waitPolls(t, s, 0)
	waitFor(t, "the 499 to be counted", func() bool {
		requests, _ := counts(t, reg)
		return requests[[3]string{"/partitions/mine", "GET", codeClientGone}] == 1
	})
}

// TestParkedPollPipelined: a request the client sent behind a parked poll
// is not lost silently: the answer says Connection: close and the
// connection ends, so the client sends it again.
func TestParkedPollPipelined(t *testing.T) {
	f := newFake(sampleMine())
	s := New(f, Options{})
	base, _ := serveReal(t, s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /partitions/mine?index=42&wait=5m HTTP/1.1\r\nHost: ringd\r\n\r\n"
	if _, err := io.WriteString(conn, req+"GET /healthz HTTP/1.1\r\nHost: ringd\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitPolls(t, s, 1)
	next := sampleMine()
	next.Index = 43
	f.set(next)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(api.IndexHeader) != "43" || !resp.Close {
		t.Fatalf("status %d index %q close %v: %s", resp.StatusCode, resp.Header.Get(api.IndexHeader), resp.Close, body)
	}
	if n, err := br.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d more bytes after a Connection: close answer", n)
	}
}

// TestParkedPollIndexMovedWhileParking: a poll parked on an index that is no
// longer the member's is answered at once, not at its deadline.
func TestParkedPollIndexMovedWhileParking(t *testing.T) {
	f := newFake(sampleMine())
	s := New(f, Options{})
	base, _ := serveReal(t, s)
	c := newClient(t)
	// Many rounds: a change may land between the handler's read and the
	// parking; every poll must still be answered with the new index.
	for i := range 50 {
		ch := goGet(context.Background(), c, base+"/partitions/mine?index="+strconv.Itoa(42+i)+"&wait=5m")
		next := sampleMine()
		next.Index = uint64(43 + i)
		f.set(next)
		if r := await(t, ch, 10*time.Second); r.header.Get(api.IndexHeader) != strconv.Itoa(43+i) {
			t.Fatalf("round %d: index %q", i, r.header.Get(api.IndexHeader))
		}
	}
	waitPolls(t, s, 0)
}
