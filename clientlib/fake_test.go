package clientlib_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// fakeRingd is a programmable stand-in for the local ringd: it serves
// GET /partitions/mine as a long-poll over a view the test sets, takes
// POST /partitions/{id}/release?token=T for releasing grants, and lets a
// test inject faults (slow, hung or reset answers, 5xx, bad JSON).
type fakeRingd struct {
	srv *httptest.Server

	mu          sync.Mutex
	node        string
	incarnation string
	index       uint64
	grants      map[int]*fakeGrant
	changed     chan struct{}
	acks        []fakeAck
	polls       []string // raw queries of every poll
	// fault, when set, may answer a request itself (return true).
	fault func(w http.ResponseWriter, r *http.Request) bool
	// delay is added after the answer is computed, before it is written:
	// a slow network.
	delay time.Duration
	// standby is the standby list of every answer.
	standby []api.Standby
}

type fakeGrant struct {
	token     uint64
	releasing bool
	until     time.Time // lease end on the fake's clock
}

type fakeAck struct {
	id    int
	token uint64
	at    time.Time
}

func newFake(t *testing.T) *fakeRingd {
	f := startFake()
	t.Cleanup(f.srv.Close)
	return f
}

// startFake starts a fake; the caller closes f.srv.
func startFake() *fakeRingd {
	f := &fakeRingd{node: "a", incarnation: "1", index: 1, grants: map[int]*fakeGrant{}, changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /partitions/mine", f.serveMine)
	mux.HandleFunc("POST /partitions/{id}/release", f.serveRelease)
	mux.HandleFunc("GET /partitions/locate", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, api.Locate{Key: r.URL.Query().Get("key"), Partition: 5, Entry: api.Entry{ID: 5, Owner: "b", Token: 9, State: "owned"}})
	})
	mux.HandleFunc("GET /members", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, api.Members{Members: []api.Member{{Name: "a", Alive: true}, {Name: "b", Alive: true, Leader: true}}})
	})
	mux.HandleFunc("GET /leader", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, api.Leader{Leader: "b", Term: 4})
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		fault := f.fault
		f.mu.Unlock()
		if fault != nil && fault(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// set changes the view under the lock and wakes the long-polls.
func (f *fakeRingd) set(change func(f *fakeRingd)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
}

// grant lists partition id as owned under token with lease left.
func (f *fakeRingd) grant(id int, token uint64, lease time.Duration) {
	f.set(func(f *fakeRingd) { f.grants[id] = &fakeGrant{token: token, until: time.Now().Add(lease)} })
}

// release lists partition id as releasing.
func (f *fakeRingd) release(id int) {
	f.set(func(f *fakeRingd) { f.grants[id].releasing = true })
}

// drop stops listing partition id.
func (f *fakeRingd) drop(id int) {
	f.set(func(f *fakeRingd) { delete(f.grants, id) })
}

// renew extends every lease to lease from now (no index change, as ringd's
// renewals).
func (f *fakeRingd) renew(lease time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.grants {
		g.until = time.Now().Add(lease)
	}
}

func (f *fakeRingd) setFault(fault func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.fault = fault
	f.mu.Unlock()
}

func (f *fakeRingd) ackList() []fakeAck {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeAck(nil), f.acks...)
}

func (f *fakeRingd) pollQueries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.polls...)
}

// leaseEnd is when the fake's lease of partition id ends (zero if unlisted).
func (f *fakeRingd) leaseEnd(id int) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.grants[id]; g != nil {
		return g.until
	}
	return time.Time{}
}

func (f *fakeRingd) serveMine(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q := r.URL.Query()
	f.mu.Lock()
	f.polls = append(f.polls, r.URL.RawQuery)
	f.mu.Unlock()
	if raw := q.Get("index"); raw != "" {
		want, _ := strconv.ParseUint(raw, 10, 64)
		wait, err := time.ParseDuration(q.Get("wait"))
		if err != nil {
			wait = 30 * time.Second
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for {
			f.mu.Lock()
			index, ch := f.index, f.changed
			f.mu.Unlock()
			if index != want {
				break
			}
			select {
			case <-ch:
				continue
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
			break
		}
	}
	f.mu.Lock()
	now := time.Now()
	m := api.Mine{Node: f.node, Incarnation: f.incarnation, Index: f.index, HeldMs: now.Sub(start).Milliseconds(), Partitions: []api.Partition{}}
	for id, g := range f.grants {
		left := g.until.Sub(now).Milliseconds()
		if left <= 0 {
			continue
		}
		state := "owned"
		if g.releasing {
			state = "releasing"
		}
		m.Partitions = append(m.Partitions, api.Partition{ID: id, Token: g.token, State: state, LeaseRemainingMs: left})
	}
	m.Standby = f.standby
	delay := f.delay
	f.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay) // the answer is on a slow network
	}
	w.Header().Set(api.IndexHeader, strconv.FormatUint(m.Index, 10))
	writeJSON(w, m)
}

func (f *fakeRingd) serveRelease(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	token, _ := strconv.ParseUint(r.URL.Query().Get("token"), 10, 64)
	f.mu.Lock()
	g := f.grants[id]
	if g == nil || !g.releasing || g.token != token {
		f.mu.Unlock()
		w.WriteHeader(http.StatusConflict)
		writeJSON(w, api.Error{Error: "partition " + strconv.Itoa(id) + " is not releasing on this member under token " + strconv.FormatUint(token, 10)})
		return
	}
	f.acks = append(f.acks, fakeAck{id: id, token: token, at: time.Now()})
	f.mu.Unlock()
	f.drop(id)
	writeJSON(w, api.Result{Status: "released"})
}

// addr is the fake's host:port.
func (f *fakeRingd) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }
