package procluster

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// fakeAPI serves canned answers and records the queries it got.
type fakeAPI struct {
	mu      sync.Mutex
	queries []url.Values
	release chan struct{} // closed to free handlers of /hang
}

func newFakeAPI(t *testing.T) (*fakeAPI, *Client) {
	f := &fakeAPI{release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /partitions/mine", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.queries = append(f.queries, r.URL.Query())
		f.mu.Unlock()
		w.Header().Set(api.IndexHeader, "42")
		w.Write([]byte(`{"node":"ringd-0","term":7,"index":42,"leader":"ringd-2","leaseRemainingMs":1830,
			"partitions":[{"id":3,"token":700000000012,"state":"owned"},{"id":9,"token":700000000007,"state":"releasing"}]}`))
	})
	mux.HandleFunc("GET /cluster", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"node":"ringd-0","leader":"ringd-2","term":7,"tableVersion":12,"partitions":64,
			"members":[{"name":"ringd-2","rank":0,"priority":5,"alive":true,"leader":true,"inConfig":true,"owned":22,"httpAddr":"127.0.0.1:7072"}]}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"no table yet"}`))
	})
	mux.HandleFunc("GET /plain", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream exploded", http.StatusBadGateway)
	})
	mux.HandleFunc("GET /notjson", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<html>`))
	})
	mux.HandleFunc("GET /hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-f.release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		close(f.release)
		srv.Close()
	})
	return f, NewClient(strings.TrimPrefix(srv.URL, "http://"))
}

func TestClientDecodesMineAndCluster(t *testing.T) {
	_, c := newFakeAPI(t)
	ctx := context.Background()
	m, err := c.Mine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := api.Mine{Node: "ringd-0", Term: 7, Index: 42, Leader: "ringd-2", LeaseRemainingMs: 1830,
		Partitions: []api.Partition{{ID: 3, Token: 700000000012, State: "owned"}, {ID: 9, Token: 700000000007, State: "releasing"}}}
	if m.Node != want.Node || m.Term != want.Term || m.Index != want.Index || m.Leader != want.Leader ||
		m.LeaseRemainingMs != want.LeaseRemainingMs || len(m.Partitions) != 2 ||
		m.Partitions[0] != want.Partitions[0] || m.Partitions[1] != want.Partitions[1] {
		t.Errorf("Mine = %+v, want %+v", m, want)
	}
	cl, err := c.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Leader != "ringd-2" || cl.TableVersion != 12 || cl.Partitions != 64 || len(cl.Members) != 1 ||
		cl.Members[0].Owned != 22 || !cl.Members[0].Leader || cl.Members[0].HTTPAddr != "127.0.0.1:7072" {
		t.Errorf("Cluster = %+v", cl)
	}
}

func TestClientMineAfterSendsIndexAndWait(t *testing.T) {
	f, c := newFakeAPI(t)
	ctx := context.Background()
	if _, err := c.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MineAfter(ctx, 41, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queries) != 2 {
		t.Fatalf("got %d requests, want 2", len(f.queries))
	}
	if q := f.queries[0]; len(q) != 0 {
		t.Errorf("plain Mine sent a query %v: it must not acknowledge anything", q)
	}
	if q := f.queries[1]; q.Get("index") != "41" || q.Get("wait") != "1.5s" {
		t.Errorf("MineAfter sent %v, want index=41 wait=1.5s", q)
	}
	if d, err := time.ParseDuration(f.queries[1].Get("wait")); err != nil || d != 1500*time.Millisecond {
		t.Errorf("wait %q does not parse back: %v %v", f.queries[1].Get("wait"), d, err)
	}
}

func TestClientErrors(t *testing.T) {
	_, c := newFakeAPI(t)
	ctx := context.Background()

	err := c.Ready(ctx)
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 503 || he.Message != "no table yet" || he.Path != "/readyz" {
		t.Errorf("Ready = %#v, want a 503 with the JSON message", err)
	}
	if !IsHTTPStatus(err, 503) || IsHTTPStatus(err, 500) || IsHTTPStatus(errors.New("x"), 503) {
		t.Error("IsHTTPStatus does not match the status")
	}

	var out map[string]any
	err = c.GetJSON(ctx, "/plain", &out)
	if !errors.As(err, &he) || he.Status != 502 || he.Message != "upstream exploded" {
		t.Errorf("non-JSON error body: %#v", err)
	}
	if !IsHTTPStatus(c.GetJSON(ctx, "/nowhere", &out), 404) {
		t.Error("unknown path is not a 404 HTTPError")
	}
	err = c.GetJSON(ctx, "/notjson", &out)
	if err == nil || !strings.Contains(err.Error(), "bad JSON") || errors.As(err, &he) {
		t.Errorf("2xx with a bad body = %v, want a bad JSON error", err)
	}

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if err := c.GetJSON(short, "/hang", &out); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung request = %v, want a deadline error", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("hung request took %v despite a 200ms deadline", d)
	}

	dead := NewClient("127.0.0.1:1")
	if _, err := dead.Mine(ctx); err == nil || errors.As(err, &he) {
		t.Errorf("Mine against a closed port = %v, want a connection error", err)
	}
}
