package main

// The hidden subcommands behind figure f. The load must come from a process
// other than the one measured, and the baseline server must be a process of
// its own too, so that ringd and the plain net/http server are each measured
// alone in their process with the same client. ringbench re-executes itself
// for both rather than pinning an external load tool: it needs no download,
// the client is the same code for ringd and for the baseline, and the
// long-poll mode (10,000 parked requests, answer times in wall-clock
// nanoseconds that the parent compares with its own clock) is something the
// common HTTP load tools do not do.
//
// The client speaks HTTP/1.1 over its own keep-alive connections and parses
// answers with net/http.ReadResponse: much lighter than http.Client (no
// connection pool, no per-request goroutines), which matters on a small
// machine where client and server share the cores, and is the same for both
// servers.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// hiddenCommands are ringbench's subcommands for its own child processes;
// they are not listed in --help. Each takes its arguments and returns the
// exit code.
var hiddenCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int{
	"loadgen":    runLoadgen,
	"plainserve": runPlainServe,
}

// runHidden runs a hidden subcommand when args start with one; ok is false
// otherwise.
func runHidden(ctx context.Context, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	cmd, ok := hiddenCommands[args[0]]
	if !ok {
		return 0, false
	}
	return cmd(ctx, args[1:], stdout, stderr), true
}

// LoadResult is what `ringbench loadgen` prints (one JSON object) after a
// throughput run.
type LoadResult struct {
	Requests int64 `json:"requests"`
	// Errors counts failed requests: transport errors, a status other than
	// 200, or a body of another length than --expect-bytes.
	Errors    int64   `json:"errors"`
	FirstErr  string  `json:"firstError,omitempty"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
	// P50Ms and P99Ms are latency percentiles over every successful request.
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
}

// WatchEvent is one JSON line of `ringbench loadgen --watchers N`: first
// {"parked": N} once every request is written, then a final one with the
// answers.
type WatchEvent struct {
	// Parked is how many long-polls have their request written.
	Parked int `json:"parked,omitempty"`
	// Answers are the answers' arrival times (Unix ns) and indexes, in
	// arrival order; only in the final event.
	Answers []WatchAnswer `json:"answers,omitempty"`
	Errors  int           `json:"errors,omitempty"`
	// FirstErr is the first error, for the report.
	FirstErr string `json:"firstError,omitempty"`
	Final    bool   `json:"final,omitempty"`
}

// WatchAnswer is one long-poll's answer.
type WatchAnswer struct {
	AtUnixNano int64  `json:"at"`
	Index      uint64 `json:"index"`
}

type loadgenFlags struct {
	url         string
	conns       int
	duration    time.Duration
	expectBytes int
	watchers    int
	timeout     time.Duration
}

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f loadgenFlags
	fs := flag.NewFlagSet("ringbench loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.url, "url", "", "http://127.0.0.x:port/path?query to GET")
	fs.IntVar(&f.conns, "conns", 32, "throughput: concurrent keep-alive connections, each sending its next request when the last is answered")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "throughput: how long to send")
	fs.IntVar(&f.expectBytes, "expect-bytes", -1, "throughput: count an answer whose body has another length as an error (-1: any)")
	fs.IntVar(&f.watchers, "watchers", 0, "long-poll mode: park this many requests (one connection each) and report when each is answered")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "long-poll mode: give up on answers after this long")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	target, err := loopbackTarget(f.url)
	if err != nil {
		fmt.Fprintf(stderr, "ringbench loadgen: --url: %v\n", err)
		return exitUsage
	}
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "ringbench loadgen: %v\n", err)
		return exitFailed
	}
	enc := json.NewEncoder(stdout)
	if f.watchers > 0 {
		err = watchLoad(ctx, target, f.watchers, f.timeout, enc)
	} else {
		var res LoadResult
		res, err = throughputLoad(ctx, target, f.conns, f.duration, f.expectBytes)
		if err == nil {
			err = enc.Encode(res)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "ringbench loadgen: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// target is where and what the load generator asks.
type target struct {
	addr    string
	request []byte
}

// loopbackTarget parses a URL and refuses anything but plain HTTP to a
// loopback address: the benchmark must never send load elsewhere.
func loopbackTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, err
	}
	if u.Scheme != "http" {
		return target{}, fmt.Errorf("%q: only http:// URLs", raw)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() || u.Port() == "" {
		return target{}, fmt.Errorf("%q: give a loopback IP address and a port, e.g. http://127.0.0.1:7070/partitions/mine", raw)
	}
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: ringbench\r\nAccept: application/json\r\n\r\n"
	return target{addr: u.Host, request: []byte(req)}, nil
}

// raiseFileLimit lifts the soft limit on open files to the hard one: the
// long-poll mode holds one connection per watcher.
func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open-files limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raising the open-files limit to %d: %w", lim.Max, err)
		}
	}
	return nil
}

// conn is one keep-alive connection of the load generator.
type conn struct {
	nc net.Conn
	br *bufio.Reader
}

func dial(ctx context.Context, t target) (*conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 32<<10)}, nil
}

// send writes the request.
func (c *conn) send(t target) error {
	_, err := c.nc.Write(t.request)
	return err
}

// receive reads one answer and returns its status, body length and
// X-Ringd-Index header.
func (c *conn) receive() (status, n int, index string, err error) {
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, 0, "", err
	}
	nb, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, int(nb), resp.Header.Get(api.IndexHeader), err
}

// throughputLoad keeps conns requests in flight for d and measures each one.
func throughputLoad(ctx context.Context, t target, conns int, d time.Duration, expectBytes int) (LoadResult, error) {
	if conns < 1 || d <= 0 {
		return LoadResult{}, fmt.Errorf("need --conns >= 1 and --duration > 0, got %d and %v", conns, d)
	}
	cs := make([]*conn, conns)
	for i := range cs {
		c, err := dial(ctx, t)
		if err != nil {
			return LoadResult{}, fmt.Errorf("connecting to %s: %w", t.addr, err)
		}
		defer c.nc.Close()
		cs[i] = c
	}
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int64
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for _, c := range cs {
		wg.Go(func() {
			own := make([]time.Duration, 0, 1<<14)
			var ownErrs int64
			var ownFirst string
			fail := func(msg string) {
				ownErrs++
				if ownFirst == "" {
					ownFirst = msg
				}
			}
			for ctx.Err() == nil && time.Now().Before(end) {
				t0 := time.Now()
				if err := c.send(t); err != nil {
					fail(err.Error())
					break
				}
				status, n, _, err := c.receive()
				switch {
				case err != nil:
					fail(err.Error())
				case status != http.StatusOK:
					fail("status " + strconv.Itoa(status))
				case expectBytes >= 0 && n != expectBytes:
					fail(fmt.Sprintf("body of %d bytes, expected %d", n, expectBytes))
				default:
					own = append(own, time.Since(t0))
					continue
				}
				if err != nil {
					break // the connection is unusable
				}
			}
			mu.Lock()
			lat = append(lat, own...)
			errs += ownErrs
			if firstErr == "" {
				firstErr = ownFirst
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return LoadResult{}, err
	}
	elapsed := time.Since(start)
	res := LoadResult{Requests: int64(len(lat)), Errors: errs, FirstErr: firstErr, Seconds: elapsed.Seconds()}
	res.PerSecond = float64(len(lat)) / elapsed.Seconds()
	res.P50Ms, res.P99Ms = latencyPercentiles(lat)
	return res, nil
}

// latencyPercentiles returns the nearest-rank p50 and p99 of lat in
// milliseconds (0, 0 without samples). lat is sorted in place.
func latencyPercentiles(lat []time.Duration) (p50, p99 float64) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	rank := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.999999) - 1
		return float64(lat[max(0, min(i, len(lat)-1))]) / float64(time.Millisecond)
	}
	return rank(0.50), rank(0.99)
}

// watchLoad parks n long-polls, each on its own connection, prints
// {"parked": n} once every request is written, and prints the answers when
// all came back (or timeout ran out).
func watchLoad(ctx context.Context, t target, n int, timeout time.Duration, enc *json.Encoder) error {
	cs := make([]*conn, 0, n)
	defer func() {
		for _, c := range cs {
			c.nc.Close()
		}
	}()
	// Dial one after the other: n at once would overflow the server's accept
	// backlog (SYN retries would then add a second to some connections).
	for range n {
		c, err := dial(ctx, t)
		if err != nil {
			return fmt.Errorf("connecting watcher %d of %d to %s: %w (is the open-files limit high enough?)", len(cs)+1, n, t.addr, err)
		}
		cs = append(cs, c)
		if err := c.send(t); err != nil {
			return fmt.Errorf("sending watcher %d: %w", len(cs), err)
		}
	}
	if err := enc.Encode(WatchEvent{Parked: n}); err != nil {
		return err
	}

	var (
		mu       sync.Mutex
		answers  = make([]WatchAnswer, 0, n)
		errCount int
		firstErr string
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(timeout)
	var closed atomic.Bool
	for _, c := range cs {
		_ = c.nc.SetReadDeadline(deadline)
		wg.Go(func() {
			status, _, index, err := c.receive()
			at := time.Now().UnixNano()
			mu.Lock()
			defer mu.Unlock()
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d", status)
			}
			var ix uint64
			if err == nil {
				ix, err = strconv.ParseUint(index, 10, 64)
			}
			if err != nil {
				errCount++
				if firstErr == "" && !closed.Load() {
					firstErr = err.Error()
				}
				return
			}
			answers = append(answers, WatchAnswer{AtUnixNano: at, Index: ix})
		})
	}
	stop := context.AfterFunc(ctx, func() {
		closed.Store(true)
		for _, c := range cs {
			_ = c.nc.SetReadDeadline(time.Now())
		}
	})
	defer stop()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	slices.SortFunc(answers, func(a, b WatchAnswer) int { return int(a.AtUnixNano - b.AtUnixNano) })
	return enc.Encode(WatchEvent{Answers: answers, Errors: errCount, FirstErr: firstErr, Final: true})
}

// runPlainServe is the baseline of figure f: a plain net/http handler that
// answers every request with the bytes of one GET /partitions/mine answer
// and the same headers. It prints its address as one line once it listens.
func runPlainServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringbench plainserve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bodyPath := fs.String("body", "", "file with the answer's body")
	index := fs.String("index", "0", "X-Ringd-Index header to send")
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	body, err := os.ReadFile(*bodyPath)
	if err != nil {
		fmt.Fprintf(stderr, "ringbench plainserve: --body: %v\n", err)
		return exitUsage
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		fmt.Fprintf(stderr, "ringbench plainserve: --addr %q: give a loopback IP address and port\n", *addr)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "ringbench plainserve: %v\n", err)
		return exitFailed
	}
	srv := &http.Server{Handler: plainHandler(body, *index), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Fprintln(stdout, ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "ringbench plainserve: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// plainHandler serves body with the headers ringd sends with it.
func plainHandler(body []byte, index string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set(api.IndexHeader, index)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}
