package restapi

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ringd/ringd/clientlib/api"
)

func TestBadParametersAre400(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{})
	c := newClient(t)
	for _, tc := range []struct {
		query, mention string
	}{
		{"index=-1", "index"},
		{"index=abc", "index"},
		{"index=1.5", "index"},
		{"index=", "index"},
		{"index=18446744073709551616", "index"}, // 2^64
		{"index=1&index=2", "index"},
		{"index=42&wait=-5s", "wait"},
		{"index=42&wait=banana", "wait"},
		{"index=42&wait=-5", "wait"},
		{"wait=banana", "wait"}, // checked even without index
		{"index=%zz", "malformed"},
		{"index=" + strings.Repeat("9", 5000), "index"},
	} {
		t.Run(tc.query[:min(len(tc.query), 30)], func(t *testing.T) {
			r := get(t, c, ts.URL+"/partitions/mine?"+tc.query)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body %s", r.status, r.body)
			}
			e := decodeError(t, r)
			if !strings.Contains(e.Error, tc.mention) {
				t.Fatalf("message %q does not mention %q", e.Error, tc.mention)
			}
			if len(e.Error) > 400 {
				t.Fatalf("message is %d bytes long: client input echoed in full", len(e.Error))
			}
		})
	}
}

func TestUnknownRouteIs404JSON(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{})
	c := newClient(t)
	for _, path := range []string{"/nope", "/", "/partitions", "/partitions/mine/extra"} {
		r := get(t, c, ts.URL+path)
		if r.status != http.StatusNotFound {
			t.Fatalf("GET %s: status %d, want 404", path, r.status)
		}
		e := decodeError(t, r)
		// The message tells the person what exists.
		for _, want := range []string{"GET /partitions/mine", "GET /cluster", "GET /healthz"} {
			if !strings.Contains(e.Error, want) {
				t.Errorf("GET %s: message %q does not list %q", path, e.Error, want)
			}
		}
	}
}

func TestWrongMethodIs405JSONWithAllow(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFake(sampleMine()), Options{})
	c := newClient(t)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/partitions/mine"},
		{http.MethodDelete, "/cluster"},
		{http.MethodPut, "/healthz"},
	} {
		r := do(context.Background(), c, tc.method, ts.URL+tc.path)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.status != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s: status %d, want 405", tc.method, tc.path, r.status)
		}
		if allow := r.header.Get("Allow"); !strings.Contains(allow, http.MethodGet) {
			t.Errorf("%s %s: Allow = %q, want it to list GET", tc.method, tc.path, allow)
		}
		e := decodeError(t, r)
		if !strings.Contains(e.Error, tc.method) || !strings.Contains(e.Error, "GET") {
			t.Errorf("%s %s: message %q should name the method used and the allowed one", tc.method, tc.path, e.Error)
		}
	}
}

// panicSource panics in every call: a bug in the daemon, not client input.
type panicSource struct{}

func (panicSource) Mine() (api.Mine, <-chan struct{}) { panic("boom in Mine") }
func (panicSource) Cluster() api.Cluster              { panic("boom in Cluster") }

func TestPanicBecomesLogged500(t *testing.T) {
	_, ts, logs := newHTTPTest(t, panicSource{}, Options{})
	c := newClient(t)
	for _, path := range []string{"/partitions/mine", "/cluster"} {
		r := get(t, c, ts.URL+path)
		if r.status != http.StatusInternalServerError {
			t.Fatalf("GET %s: status %d, want 500", path, r.status)
		}
		e := decodeError(t, r)
		if strings.Contains(e.Error, "boom") {
			t.Errorf("message %q leaks the panic value to the client", e.Error)
		}
	}
	if out := logs.String(); !strings.Contains(out, "boom in Mine") || !strings.Contains(out, "[ERROR]") {
		t.Errorf("panic not logged as an error; log:\n%s", out)
	}
	// The server keeps serving.
	if r := get(t, c, ts.URL+"/healthz"); r.status != http.StatusOK {
		t.Fatalf("healthz after panics: %d", r.status)
	}
}

// TestErrorAnswersReadAsWritten: a message quoting "<" shows "<" (JSON for
// people and programs, not HTML), and no cache keeps an error.
func TestErrorAnswersReadAsWritten(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFullFake(8, "ringd-0"), Options{})
	r := get(t, newClient(t), ts.URL+"/partitions/%3Cx%3E")
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if !bytes.Contains(r.body, []byte(`<x>`)) || bytes.Contains(r.body, []byte(`\u003c`)) {
		t.Errorf("body %s: want <x> as written", r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q on an error, want no-store", cc)
	}
}
