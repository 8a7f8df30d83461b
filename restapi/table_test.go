package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

func decodeStrict[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return v
}

func TestTableBody(t *testing.T) {
	f := newFullFake(20, "ringd-2", "ringd-0", "ringd-1")
	_, ts, _ := newHTTPTest(t, f, Options{})
	r := get(t, newClient(t), ts.URL+"/partitions")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := decodeStrict[api.Table](t, r)
	want, _ := f.Table()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if h := r.header.Get(api.IndexHeader); h != "1" {
		t.Fatalf("%s = %q, want 1", api.IndexHeader, h)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q", cc)
	}
}

func TestTableEmptyListsAreArrays(t *testing.T) {
	f := newFullFake(4, "a")
	f.setTable(api.Table{Index: 2})
	_, ts, _ := newHTTPTest(t, f, Options{})
	r := get(t, newClient(t), ts.URL+"/partitions")
	for _, want := range []string{`"members":[]`, `"partitions":[]`} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Fatalf("body %s: want %s", r.body, want)
		}
	}
}

func TestTableLongPoll(t *testing.T) {
	f := newFullFake(10, "a", "b")
	s, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)

	t.Run("different index answers at once", func(t *testing.T) {
		r := get(t, c, ts.URL+"/partitions?index=7&wait=1m")
		if r.elapsed > 5*time.Second || decodeStrict[api.Table](t, r).Index != 1 {
			t.Fatalf("took %v, body %s", r.elapsed, r.body)
		}
	})
	t.Run("same index waits for wait", func(t *testing.T) {
		r := get(t, c, ts.URL+"/partitions?index=1&wait=100ms")
		if r.elapsed < 100*time.Millisecond || r.header.Get(api.IndexHeader) != "1" {
			t.Fatalf("took %v, index %s", r.elapsed, r.header.Get(api.IndexHeader))
		}
	})
	t.Run("same index wakes on a change", func(t *testing.T) {
		ch := goGet(context.Background(), c, ts.URL+"/partitions?index=1&wait=1m")
		waitPolls(t, s, 1)
		// A change of this member's view is not a change of the table.
		next := sampleMine()
		next.Index = 99
		f.set(next)
		select {
		case r := <-ch:
			t.Fatalf("table poll woke on a /partitions/mine change: %d %s", r.status, r.body)
		case <-time.After(100 * time.Millisecond):
		}
		f.setTable(dealTable(2, 10, []string{"b"}))
		r := await(t, ch, 5*time.Second)
		got := decodeStrict[api.Table](t, r)
		if got.Index != 2 || got.Partitions[0].Owner != "b" || r.header.Get(api.IndexHeader) != "2" {
			t.Fatalf("got index %d owner %q header %q", got.Index, got.Partitions[0].Owner, r.header.Get(api.IndexHeader))
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		for _, q := range []string{"index=x", "wait=banana", "index=1&index=2", "index=%zz"} {
			if r := get(t, c, ts.URL+"/partitions?"+q); r.status != http.StatusBadRequest {
				t.Errorf("?%s: status %d, want 400", q, r.status)
			}
		}
	})
	t.Run("a table poll acknowledges nothing", func(t *testing.T) {
		get(t, c, ts.URL+"/partitions?index=2&wait=0")
		if acks := f.recordedAcks(); len(acks) != 0 {
			t.Fatalf("acks %v", acks)
		}
	})
}

func TestPartitionByID(t *testing.T) {
	f := newFullFake(20, "a", "b")
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	for _, tc := range []struct {
		id     string
		status int
	}{
		{"0", http.StatusOK},
		{"7", http.StatusOK},
		{"007", http.StatusOK},
		{"19", http.StatusOK},
		{"20", http.StatusNotFound},
		{"1000000", http.StatusNotFound},
		{"99999999999999999999999", http.StatusNotFound},
		{"-1", http.StatusBadRequest},
		{"+1", http.StatusBadRequest},
		{"abc", http.StatusBadRequest},
		{"1.5", http.StatusBadRequest},
		{"1e3", http.StatusBadRequest},
		{"%20", http.StatusBadRequest},
		{"0x10", http.StatusBadRequest},
	} {
		t.Run(tc.id, func(t *testing.T) {
			r := get(t, c, ts.URL+"/partitions/"+tc.id)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != http.StatusOK {
				decodeError(t, r)
				return
			}
			got := decodeStrict[api.Entry](t, r)
			tbl, _ := f.Table()
			if want := tbl.Partitions[got.ID]; !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestPartitionBeforeAnyTable(t *testing.T) {
	// No table yet, but the configured count is known: a partition in range
	// is unassigned, one out of range is a 404.
	f := newFullFake(0, "a")
	f.setCluster(api.Cluster{Node: "a", Partitions: 8})
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	r := get(t, c, ts.URL+"/partitions/3")
	if r.status != http.StatusOK || !reflect.DeepEqual(decodeStrict[api.Entry](t, r), api.Entry{ID: 3, State: "unassigned"}) {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	if r := get(t, c, ts.URL+"/partitions/8"); r.status != http.StatusNotFound {
		t.Fatalf("status %d", r.status)
	}
}

func TestStaticRoutesNotTakenForID(t *testing.T) {
	f := newFullFake(20, "a", "b")
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	r := get(t, c, ts.URL+"/partitions/mine")
	if m := decodeStrict[api.Mine](t, r); r.status != http.StatusOK || m.Node != "b" {
		t.Fatalf("/partitions/mine: %d %s", r.status, r.body)
	}
	r = get(t, c, ts.URL+"/partitions/locate")
	if e := decodeError(t, r); r.status != http.StatusBadRequest || !strings.Contains(e.Error, "key") {
		t.Fatalf("/partitions/locate without key: %d %s", r.status, r.body)
	}
}

func TestLocate(t *testing.T) {
	f := newFullFake(20, "a", "b")
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	for _, tc := range []struct {
		name, query string
		status      int
		mention     string
	}{
		{"plain", "key=user-42", http.StatusOK, ""},
		{"encoded", "key=" + url.QueryEscape("ä/b c&d"), http.StatusOK, ""},
		{"1024 bytes", "key=" + strings.Repeat("k", 1024), http.StatusOK, ""},
		{"1025 bytes", "key=" + strings.Repeat("k", 1025), http.StatusBadRequest, "1024"},
		{"no key", "", http.StatusBadRequest, "key"},
		{"other parameter", "k=1", http.StatusBadRequest, "key"},
		{"empty key", "key=", http.StatusBadRequest, "empty"},
		{"twice", "key=a&key=b", http.StatusBadRequest, "once"},
		{"malformed", "key=%zz", http.StatusBadRequest, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, c, ts.URL+"/partitions/locate?"+tc.query)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != http.StatusOK {
				if e := decodeError(t, r); !strings.Contains(e.Error, tc.mention) {
					t.Fatalf("message %q does not mention %q", e.Error, tc.mention)
				}
				return
			}
			vals, _ := url.ParseQuery(tc.query)
			got := decodeStrict[api.Locate](t, r)
			if want := f.Locate(vals.Get("key")); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestMembersAndLeader(t *testing.T) {
	f := newFullFake(20, "ringd-2", "ringd-0", "ringd-1")
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)

	r := get(t, c, ts.URL+"/members")
	ms := decodeStrict[api.Members](t, r)
	if want := f.Cluster().Members; r.status != http.StatusOK || !reflect.DeepEqual(ms.Members, want) {
		t.Fatalf("members: %d %+v, want %+v", r.status, ms, want)
	}

	r = get(t, c, ts.URL+"/leader")
	if got := decodeStrict[api.Leader](t, r); got != (api.Leader{Leader: "ringd-2", Term: 7, HTTPAddr: "127.0.0.1:7010"}) {
		t.Fatalf("leader: %+v", got)
	}

	// No leader, no members: 200 with empty values, [] not null.
	f.setCluster(api.Cluster{Node: "ringd-0", Term: 8})
	r = get(t, c, ts.URL+"/leader")
	if got := decodeStrict[api.Leader](t, r); r.status != http.StatusOK || got != (api.Leader{Term: 8}) {
		t.Fatalf("leader without one: %d %+v", r.status, got)
	}
	if r := get(t, c, ts.URL+"/members"); !bytes.Contains(r.body, []byte(`"members":[]`)) {
		t.Fatalf("members without any: %s", r.body)
	}
}

func TestReadyz(t *testing.T) {
	f := newFullFake(4, "a")
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	for _, tc := range []struct {
		ready  bool
		reason string
		status int
		body   string
	}{
		{true, "", http.StatusOK, `{"ready":true}`},
		{false, "no table yet", http.StatusServiceUnavailable, `{"ready":false,"reason":"no table yet","error":"no table yet"}`},
		{false, "", http.StatusServiceUnavailable, `{"ready":false,"reason":"not ready","error":"not ready"}`},
	} {
		f.setReady(tc.ready, tc.reason)
		r := get(t, c, ts.URL+"/readyz")
		if r.status != tc.status || string(bytes.TrimSpace(r.body)) != tc.body {
			t.Errorf("ready=%v reason=%q: %d %s, want %d %s", tc.ready, tc.reason, r.status, r.body, tc.status, tc.body)
		}
	}
}

func TestChanges(t *testing.T) {
	f := newFullFake(4, "a")
	f.addChange("b is gone")
	_, ts, _ := newHTTPTest(t, f, Options{})
	r := get(t, newClient(t), ts.URL+"/changes")
	got := decodeStrict[api.Changes](t, r)
	if len(got.Changes) != 2 || got.Changes[1].What != "b is gone" {
		t.Fatalf("changes %+v", got)
	}
}

func TestSourceOnlyServesTheBasics(t *testing.T) {
	// A plain Source gets the routes it can serve, and 404s (not 500s) for
	// the others.
	f := newFake(sampleMine())
	f.setCluster(api.Cluster{Node: "ringd-0", Leader: "ringd-2", Partitions: 8})
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	for path, status := range map[string]int{
		"/partitions/mine":   http.StatusOK,
		"/members":           http.StatusOK,
		"/leader":            http.StatusOK,
		"/cluster":           http.StatusOK,
		"/healthz":           http.StatusOK,
		"/swagger/doc.json":  http.StatusOK,
		"/partitions":        http.StatusNotFound,
		"/partitions/3":      http.StatusNotFound,
		"/partitions/locate": http.StatusNotFound,
		"/readyz":            http.StatusNotFound,
		"/changes":           http.StatusNotFound,
		"/dashboard":         http.StatusNotFound,
		"/metrics":           http.StatusNotFound,
	} {
		if r := get(t, c, ts.URL+path); r.status != status {
			t.Errorf("GET %s: %d, want %d", path, r.status, status)
		}
	}
	for _, path := range []string{"/admin/drain", "/partitions/3/release"} {
		if r := do(context.Background(), c, http.MethodPost, ts.URL+path); r.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, r.status)
		}
	}
}

func TestWrongMethodOnFullAPI(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFullFake(8, "a", "b"), Options{})
	c := newClient(t)
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPost, "/partitions/mine", "GET"},
		{http.MethodPost, "/partitions", "GET"},
		{http.MethodDelete, "/partitions/3", "GET"},
		{http.MethodPost, "/partitions/locate", "GET"},
		{http.MethodGet, "/partitions/3/release", "POST"},
		{http.MethodGet, "/admin/drain", "POST"},
		{http.MethodPut, "/admin/leader/transfer", "POST"},
		{http.MethodPost, "/readyz", "GET"},
		{http.MethodPost, "/dashboard", "GET"},
		{http.MethodPost, "/swagger/index.html", "GET"},
	} {
		r := do(context.Background(), c, tc.method, ts.URL+tc.path)
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 405: %s", tc.method, tc.path, r.status, r.body)
			continue
		}
		if allow := r.header.Get("Allow"); !strings.Contains(allow, tc.allow) {
			t.Errorf("%s %s: Allow %q, want %s", tc.method, tc.path, allow, tc.allow)
		}
		decodeError(t, r)
	}
}
