package restapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringd/ringd/clientlib/api"
)

const fuzzToken = "fuzz-token"

// fuzzSeeds reach every route with good and bad input. Each is method, path,
// query, Authorization header and body.
var fuzzSeeds = []struct {
	method, path, query, auth, body string
}{
	{"GET", "/partitions/mine", "", "", ""},
	{"GET", "/partitions/mine", "index=42&wait=1s", "", ""},
	{"GET", "/partitions/mine", "index=41&ack=false", "", ""},
	{"GET", "/partitions/mine", "index=%zz", "", ""},
	{"GET", "/partitions/mine", "wait=-5s&ack=maybe", "", ""},
	{"GET", "/partitions", "", "", ""},
	{"GET", "/partitions", "index=1&wait=30", "", ""},
	{"GET", "/partitions", "index=18446744073709551616", "", ""},
	{"GET", "/partitions/0", "", "", ""},
	{"GET", "/partitions/11", "", "", ""},
	{"GET", "/partitions/12", "", "", ""},
	{"GET", "/partitions/-1", "", "", ""},
	{"GET", "/partitions/99999999999999999999", "", "", ""},
	{"GET", "/partitions/%41", "", "", ""},
	{"GET", "/partitions/locate", "key=user-1", "", ""},
	{"GET", "/partitions/locate", "key=", "", ""},
	{"GET", "/partitions/locate", "key=a&key=b", "", ""},
	{"GET", "/partitions/locate", "key=" + strings.Repeat("k", 1025), "", ""},
	{"GET", "/members", "", "", ""},
	{"GET", "/leader", "", "", ""},
	{"GET", "/cluster", "", "", ""},
	{"GET", "/changes", "", "", ""},
	{"GET", "/healthz", "", "", ""},
	{"GET", "/readyz", "", "", ""},
	{"GET", "/metrics", "", "", ""},
	{"GET", "/swagger/index.html", "", "", ""},
	{"GET", "/swagger/doc.json", "", "", ""},
	{"GET", "/swagger/swagger-ui.css", "", "", ""},
	{"GET", "/swagger/../../etc/passwd", "", "", ""},
	{"GET", "/dashboard", "", "", ""},
	{"GET", "/dashboard/app.js", "", "", ""},
	{"GET", "/dashboard/..%2f..%2fserver.go", "", "", ""},
	{"POST", "/partitions/5/release", "", "", ""},
	{"POST", "/partitions/6/release", "", "", "junk"},
	{"POST", "/partitions/x/release", "", "", ""},
	{"POST", "/admin/drain", "", "Bearer " + fuzzToken, ""},
	{"POST", "/admin/undrain", "", "Bearer " + fuzzToken, "{}"},
	{"POST", "/admin/drain", "", "Bearer wrong", ""},
	{"POST", "/admin/drain", "", "Basic xyz", ""},
	{"POST", "/admin/leader/transfer", "", "Bearer " + fuzzToken, `{"to":"b"}`},
	{"POST", "/admin/leader/transfer", "", "Bearer " + fuzzToken, `{"to":"nobody"}`},
	{"POST", "/admin/leader/transfer", "", "Bearer " + fuzzToken, `{"to":`},
	{"POST", "/admin/leader/transfer", "", "Bearer " + fuzzToken, `{"to":"b","x":[1,{"y":null}]}`},
	{"POST", "/admin/leader/transfer", "", "Bearer " + fuzzToken, strings.Repeat("[", 2000)},
	{"DELETE", "/partitions/mine", "", "", ""},
	{"HEAD", "/healthz", "", "", ""},
	{"OPTIONS", "/partitions", "", "", ""},
	{"BREW", "/coffee", "", "", ""},
	{"GET", "/", "", "", ""},
	{"GET", "//partitions//mine", "", "", ""},
}

// newFuzzServer serves a full fake with every option set; long-polls wait at
// most a millisecond.
func newFuzzServer() (*Server, *fullFake) {
	f := newFullFake(12, "a", "b", "c")
	reg := prometheus.NewRegistry()
	s := New(f, Options{
		Logger:         hclog.NewNullLogger(),
		MaxWait:        time.Millisecond,
		AdminToken:     fuzzToken,
		Registerer:     reg,
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		MaxBodyBytes:   4 << 10,
	})
	return s, f
}

// wireRequest builds the request a client would send, through net/http's own
// parser; ok is false when net/http would refuse it before ringd sees it.
func wireRequest(method, path, query, auth string, body []byte) (*http.Request, bool) {
	target := path
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	if query != "" {
		target += "?" + query
	}
	var b bytes.Buffer
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: ringd\r\n")
	if auth != "" {
		b.WriteString("Authorization: " + auth + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		return nil, false
	}
	req.RemoteAddr = "127.0.0.1:40000"
	return req, true
}

// checkAnswer is the fuzz oracle: a 2xx or 4xx, never a 5xx; a JSON body,
// and an api.Error with a message for every 4xx. Exempt are bodies that must
// be empty (HEAD, 204) and the 2xx of the routes that serve files or text.
func checkAnswer(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	code := rec.Code
	if loc := rec.Header().Get("Location"); code == http.StatusMovedPermanently && (loc == "/swagger/index.html" || loc == "/dashboard") {
		return // the addresses people type, led to the pages (TestRedirects)
	}
	if code >= 500 || (code >= 300 && code < 400) || code < 200 {
		t.Fatalf("%s %s: status %d: %s", req.Method, req.URL, code, rec.Body.Bytes())
	}
	if req.Method == http.MethodHead || code == http.StatusNoContent {
		if rec.Body.Len() != 0 {
			t.Fatalf("%s %s: %d with a body", req.Method, req.URL, code)
		}
		return
	}
	p := req.URL.Path
	content := strings.HasPrefix(p, "/swagger/") || strings.HasPrefix(p, "/dashboard") || p == "/metrics"
	if code < 300 && content {
		return
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: %d with Content-Type %q", req.Method, req.URL, code, ct)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s %s: %d with a body that is not JSON: %q", req.Method, req.URL, code, rec.Body.Bytes())
	}
	if code >= 400 {
		var e api.Error
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%s %s: %d with %q, not an api.Error", req.Method, req.URL, code, rec.Body.Bytes())
		}
	}
}

// FuzzAPI sends arbitrary methods, paths, queries, Authorization headers and
// bodies to every route in process. Run it longer with
//
//	go test -run XXX -fuzz=FuzzAPI -fuzztime=15s ./restapi/
func FuzzAPI(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.method, s.path, s.query, s.auth, []byte(s.body))
	}
	srv, _ := newFuzzServer()
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, method, path, query, auth string, body []byte) {
		req, ok := wireRequest(method, path, query, auth, body)
		if !ok {
			t.Skip("net/http refuses this request itself")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAnswer(t, req, rec)
	})
}

// TestFuzzSeedsReachTheirRoutes keeps the seed corpus honest: the seeds are
// meant to reach real handlers, so most must not be plain 404s.
func TestFuzzSeedsReachTheirRoutes(t *testing.T) {
	srv, _ := newFuzzServer()
	routed := 0
	for _, s := range fuzzSeeds {
		req, ok := wireRequest(s.method, s.path, s.query, s.auth, []byte(s.body))
		if !ok {
			t.Fatalf("seed %+v is not a valid request", s)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		checkAnswer(t, req, rec)
		if rec.Code != http.StatusNotFound {
			routed++
		}
	}
	if routed < len(fuzzSeeds)*3/4 {
		t.Fatalf("only %d of %d seeds reach a handler", routed, len(fuzzSeeds))
	}
}
