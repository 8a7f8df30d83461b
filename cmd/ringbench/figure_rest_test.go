package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestParseOpenFilesLimit(t *testing.T) {
	limits := "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max processes             95000                95000                processes \n" +
		"Max open files            20000                20000                files     \n"
	if n, err := parseOpenFilesLimit(limits); err != nil || n != 20000 {
		t.Fatalf("got %d %v", n, err)
	}
	if n, err := parseOpenFilesLimit("Max open files            unlimited            unlimited            files\n"); err != nil || n != -1 {
		t.Fatalf("unlimited: got %d %v", n, err)
	}
	if _, err := parseOpenFilesLimit("Max processes 1 1 processes\n"); err == nil {
		t.Fatal("no line: no error")
	}
}

func TestLatencyPercentiles(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	if p50, p99 := latencyPercentiles(lat); p50 != 50 || p99 != 99 {
		t.Fatalf("p50 %v p99 %v, want 50 and 99", p50, p99)
	}
	if p50, p99 := latencyPercentiles(nil); p50 != 0 || p99 != 0 {
		t.Fatalf("no samples: %v %v", p50, p99)
	}
}

func TestAnswerTimes(t *testing.T) {
	trigger := time.Unix(100, 0)
	at := func(ms int) WatchAnswer {
		return WatchAnswer{AtUnixNano: trigger.Add(time.Duration(ms) * time.Millisecond).UnixNano()}
	}
	spread, fromTrigger, early := answerTimes([]WatchAnswer{at(250), at(40), at(-5), at(90)}, trigger)
	if spread != 210*time.Millisecond || fromTrigger != 250*time.Millisecond || early != 1 {
		t.Fatalf("spread %v from trigger %v early %d", spread, fromTrigger, early)
	}
}

func TestLoopbackTargetRefusesOtherHosts(t *testing.T) {
	for _, u := range []string{"http://10.0.0.1:80/x", "https://127.0.0.1:1/x", "http://localhost:7070/x", "http://127.0.0.1/x"} {
		if _, err := loopbackTarget(u); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
	tg, err := loopbackTarget("http://127.0.0.2:7070/partitions/mine?index=3&wait=5m")
	if err != nil {
		t.Fatal(err)
	}
	if want := "GET /partitions/mine?index=3&wait=5m HTTP/1.1\r\nHost: 127.0.0.2:7070\r\n"; string(tg.request[:len(want)]) != want {
		t.Fatalf("request %q", tg.request)
	}
}

// TestLoadgenAgainstPlainHandler runs both load modes briefly against the
// baseline handler: the throughput mode counts answers of the right size,
// and the long-poll mode reports when each parked request was answered.
func TestLoadgenAgainstPlainHandler(t *testing.T) {
	body := []byte(`{"node":"ringd-0","partitions":[]}` + "\n")
	ts := httptest.NewServer(plainHandler(body, "7"))
	t.Cleanup(ts.Close)
	tg, err := loopbackTarget(ts.URL + "/partitions/mine")
	if err != nil {
		t.Fatal(err)
	}
	res, err := throughputLoad(t.Context(), tg, 2, 200*time.Millisecond, len(body))
	if err != nil || res.Requests == 0 || res.Errors != 0 || res.P50Ms <= 0 || res.P99Ms < res.P50Ms {
		t.Fatalf("throughput: %+v, %v", res, err)
	}
	if res, _ := throughputLoad(t.Context(), tg, 1, 50*time.Millisecond, len(body)+1); res.Errors == 0 {
		t.Fatalf("a body of the wrong size was not counted as an error: %+v", res)
	}

	// A server that parks every request until release is closed.
	release := make(chan struct{})
	parked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		plainHandler(body, "8").ServeHTTP(w, r)
	}))
	t.Cleanup(parked.Close)
	tg, err = loopbackTarget(parked.URL + "/partitions/mine?index=7")
	if err != nil {
		t.Fatal(err)
	}
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- watchLoad(t.Context(), tg, 5, 10*time.Second, json.NewEncoder(w)); w.Close() }()
	dec := json.NewDecoder(r)
	var ev WatchEvent
	if err := dec.Decode(&ev); err != nil || ev.Parked != 5 {
		t.Fatalf("parked event: %+v, %v", ev, err)
	}
	before := time.Now()
	close(release)
	if err := dec.Decode(&ev); err != nil || !ev.Final || len(ev.Answers) != 5 || ev.Errors != 0 {
		t.Fatalf("final event: %+v, %v", ev, err)
	}
	for _, a := range ev.Answers {
		if a.Index != 8 || a.AtUnixNano < before.UnixNano() {
			t.Fatalf("answer %+v: want index 8, after %v", a, before)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestMetricValue(t *testing.T) {
	text := "# HELP ringd_http_long_polls x\n# TYPE ringd_http_long_polls gauge\nringd_http_long_polls 9999\nringd_http_long_polls_other 1\n"
	if v, ok := metricValue(text, "ringd_http_long_polls"); !ok || v != 9999 {
		t.Fatalf("got %v %v", v, ok)
	}
	if _, ok := metricValue(text, "ringd_term"); ok {
		t.Fatal("found a metric that is not there")
	}
}
