package restapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/clientlib/api"
)

// deadlineSource is a fakeSource that also hands out its view with
// deadlines, as the daemon does.
type deadlineSource struct {
	*fakeSource
	mu sync.Mutex
	m  *MineDeadlines
}

func (d *deadlineSource) MineDeadlines() *MineDeadlines {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m
}

func (d *deadlineSource) setDeadlines(m *MineDeadlines) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m = m
}

// randomDeadlines is a view of n partitions whose lease and release
// deadlines lie around base, some of them passed.
func randomDeadlines(r *rand.Rand, base time.Time, n int) *MineDeadlines {
	m := &MineDeadlines{
		Mine: api.Mine{Node: "ringd-1", Incarnation: "17", Term: r.Uint64(), Index: r.Uint64(), Leader: "ringd-<0>",
			LeaseRemainingMs: 999, Partitions: []api.Partition{}},
		LeaseUntil: base.Add(time.Duration(r.Int64N(int64(4*time.Second))) - time.Second),
	}
	for id := range n {
		state := "owned"
		if r.IntN(3) == 0 {
			state = "releasing"
		}
		m.Mine.Partitions = append(m.Mine.Partitions, api.Partition{ID: id, Token: r.Uint64(), State: state, LeaseRemainingMs: 12345})
		until := base.Add(time.Duration(r.Int64N(int64(3*time.Second))) - time.Second)
		if r.IntN(2) == 0 {
			// Most partitions end with the lease.
			until = m.LeaseUntil
		}
		m.Until = append(m.Until, until)
	}
	for id := range r.IntN(3) * r.IntN(5) { // no standbys in most views
		m.Mine.Standby = append(m.Mine.Standby, api.Standby{ID: n + id, Rank: r.IntN(3), Owner: "ringd-" + string(rune('a'+id))})
	}
	return m
}

// TestMineTemplateMatchesAt holds the template of a view, written at an
// instant, to the JSON of the view read at that instant: the same lease
// times, the same partitions left out once their time passed, nothing at
// all once the lease ran out.
func TestMineTemplateMatchesAt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Now()
	shown, hidden, expired := 0, 0, 0
	for trial := range 300 {
		m := randomDeadlines(r, base, r.IntN(40))
		tmpl := newMineTemplate(m)
		for range 5 {
			now := base.Add(time.Duration(r.Int64N(int64(3*time.Second))) - time.Second)
			held := r.Int64N(100000)
			v := m.At(now)
			v.HeldMs = held
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(v); err != nil {
				t.Fatal(err)
			}
			if got := tmpl.appendAt(nil, now, held); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("trial %d:\n got %s\nwant %s", trial, got, want.Bytes())
			}
			if !now.Before(m.LeaseUntil) {
				expired++
				if len(v.Partitions) != 0 || v.LeaseRemainingMs != 0 {
					t.Fatalf("lease ran out at %v, now %v, but the view shows %+v", m.LeaseUntil, now, v)
				}
				continue
			}
			shown += len(v.Partitions)
			hidden += len(m.Mine.Partitions) - len(v.Partitions)
		}
	}
	// The random views must have covered every case.
	if shown == 0 || hidden == 0 || expired == 0 {
		t.Fatalf("cases not covered: %d partitions shown, %d left out, %d reads after the lease", shown, hidden, expired)
	}
}

// TestGetMineFollowsDeadlineSource reads GET /partitions/mine from a
// DeadlineSource: the answer is the view at the time of the read, and a
// new view is served as soon as the source hands it out (the template of
// the old one is not reused).
func TestGetMineFollowsDeadlineSource(t *testing.T) {
	now := time.Now()
	first := &MineDeadlines{Mine: api.Mine{Node: "ringd-1", Index: 5, Term: 2, Leader: "ringd-0",
		Partitions: []api.Partition{{ID: 3, Token: 9, State: "owned"}, {ID: 4, Token: 11, State: "releasing"}}},
		LeaseUntil: now.Add(time.Hour), Until: []time.Time{now.Add(time.Hour), now.Add(-time.Second)}}
	firstChanged := make(chan struct{})
	first.Changed = firstChanged
	src := &deadlineSource{fakeSource: newFake(api.Mine{}), m: first}
	h := New(src, Options{Logger: hclog.NewNullLogger()}).Handler()
	read := func() api.Mine {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/partitions/mine", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		var v api.Mine
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		if got := w.Header().Get(api.IndexHeader); got != "" && v.Index != 0 && got != jsonIndex(v.Index) {
			t.Fatalf("index header %s, body index %d", got, v.Index)
		}
		return v
	}
	v := read()
	if v.Index != 5 || len(v.Partitions) != 1 || v.Partitions[0].ID != 3 {
		t.Fatalf("first view: %+v (partition 4's release deadline passed, so only 3 is shown)", v)
	}
	if v.LeaseRemainingMs <= 0 || v.LeaseRemainingMs > time.Hour.Milliseconds() || v.Partitions[0].LeaseRemainingMs > v.LeaseRemainingMs {
		t.Fatalf("lease times of the first view: %+v", v)
	}
	second := &MineDeadlines{Mine: api.Mine{Node: "ringd-1", Index: 6, Term: 2, Leader: "ringd-0", Partitions: []api.Partition{}},
		LeaseUntil: now.Add(time.Hour)}
	src.setDeadlines(second)
	close(firstChanged)
	if v := read(); v.Index != 6 || len(v.Partitions) != 0 {
		t.Fatalf("after the view changed: %+v", v)
	}
}

func jsonIndex(i uint64) string { b, _ := json.Marshal(i); return string(b) }

// TestSharedPlainReadsNeverOverstate reads GET /partitions/mine over and
// over from several clients, as figure f does: however the answers are
// shared between requests, heldMs is never negative and send time + heldMs
// + leaseRemainingMs never passes the lease's real end.
func TestSharedPlainReadsNeverOverstate(t *testing.T) {
	until := time.Now().Add(time.Hour)
	m := &MineDeadlines{Mine: api.Mine{Node: "ringd-1", Index: 5, Partitions: []api.Partition{{ID: 1, Token: 2, State: "owned"}}},
		LeaseUntil: until, Until: []time.Time{until}}
	src := &deadlineSource{fakeSource: newFake(api.Mine{}), m: m}
	h := New(src, Options{Logger: hclog.NewNullLogger()}).Handler()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				sent := time.Now()
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/partitions/mine", nil))
				var v api.Mine
				if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
					t.Error(err)
					return
				}
				if v.HeldMs < 0 {
					t.Errorf("heldMs %d", v.HeldMs)
					return
				}
				for _, p := range append(v.Partitions, api.Partition{LeaseRemainingMs: v.LeaseRemainingMs}) {
					if end := sent.Add(time.Duration(v.HeldMs+p.LeaseRemainingMs) * time.Millisecond); end.After(until) {
						t.Errorf("sent %v + held %d ms + remaining %d ms = %v, after the lease's end %v", sent, v.HeldMs, p.LeaseRemainingMs, end, until)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestSharedAnswerOfAnOlderViewIsNotServed: two requests may make answers
// at once and store the one of the older view last. The next read must
// not get it: its client may have seen the newer view already. Here the
// older view's change channel is still open (the source has not closed it
// yet), so only the view itself tells the answers apart.
func TestSharedAnswerOfAnOlderViewIsNotServed(t *testing.T) {
	now := time.Now()
	view := func(index uint64) *MineDeadlines {
		return &MineDeadlines{Mine: api.Mine{Node: "ringd-1", Index: index, Partitions: []api.Partition{}},
			LeaseUntil: now.Add(time.Hour), Changed: make(chan struct{})}
	}
	src := &deadlineSource{fakeSource: newFake(api.Mine{}), m: view(5)}
	s := New(src, Options{Logger: hclog.NewNullLogger()})
	h := s.Handler()
	read := func() uint64 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/partitions/mine", nil))
		var v api.Mine
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		return v.Index
	}
	if got := read(); got != 5 {
		t.Fatalf("first read: index %d, want 5", got)
	}
	src.setDeadlines(view(6))
	for range 100 {
		if got := read(); got != 6 {
			t.Fatalf("after the view moved to index 6, a read got index %d", got)
		}
	}
}
