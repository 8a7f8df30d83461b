package restapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// post sends a POST with an optional body and Authorization header.
func post(t *testing.T, c *http.Client, url, auth string, body io.Reader) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b, elapsed: time.Since(start)}
}

func TestActionsSucceed(t *testing.T) {
	f := newFullFake(20, "a", "b", "c")
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	// Partition 13 is b's (13 % 3 == 1) and releasing (13 % 7 == 6).
	for _, tc := range []struct {
		path, body, status string
	}{
		{"/partitions/13/release", "", "released"},
		{"/admin/drain", "", "draining"},
		{"/admin/undrain", "", "undrained"},
		{"/admin/leader/transfer", `{"to":"c"}`, "transferring"},
	} {
		r := post(t, c, ts.URL+tc.path, "", strings.NewReader(tc.body))
		if r.status != http.StatusOK {
			t.Fatalf("POST %s: %d %s", tc.path, r.status, r.body)
		}
		if got := decodeStrict[api.Result](t, r); got.Status != tc.status {
			t.Fatalf("POST %s: status %q, want %q", tc.path, got.Status, tc.status)
		}
	}
	want := []string{"release 13", "drain", "undrain", "transfer c"}
	if got := f.recordedCalls(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
}

func TestActionErrorsMapToStatuses(t *testing.T) {
	f := newFullFake(20, "a", "b", "c")
	_, ts, logs := newHTTPTest(t, f, Options{})
	c := newClient(t)
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("%w: no such thing", ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("%w: partition 3 is owned", ErrConflict), http.StatusConflict},
		{fmt.Errorf("%w: no leader", ErrUnavailable), http.StatusServiceUnavailable},
		{fmt.Errorf("%w: impossible", ErrBadInput), http.StatusBadRequest},
		{fmt.Errorf("loop: %w", context.DeadlineExceeded), http.StatusGatewayTimeout},
		{fmt.Errorf("loop: %w", context.Canceled), http.StatusServiceUnavailable},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	} {
		t.Run(fmt.Sprint(tc.status, " ", tc.err), func(t *testing.T) {
			f.mu.Lock()
			f.actErr = tc.err
			f.mu.Unlock()
			for _, path := range []string{"/partitions/13/release", "/admin/drain", "/admin/undrain", "/admin/leader/transfer"} {
				r := post(t, c, ts.URL+path, "", strings.NewReader(`{"to":"c"}`))
				if r.status != tc.status {
					t.Fatalf("POST %s: %d, want %d: %s", path, r.status, tc.status, r.body)
				}
				e := decodeError(t, r)
				if tc.status == http.StatusInternalServerError && strings.Contains(e.Error, "fire") {
					t.Fatalf("a bug's details reach the client: %q", e.Error)
				}
				if tc.status < 500 && (!strings.HasSuffix(tc.err.Error(), e.Error) || hasSentinelPrefix(e.Error)) {
					t.Fatalf("message %q is not the source's %q without the sentinel's prefix", e.Error, tc.err)
				}
			}
		})
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Fatalf("the unexpected error was not logged")
	}
}

func TestReleaseFromTheSource(t *testing.T) {
	// The fake answers as the daemon does: 404 beyond P, 409 for a partition
	// that is not releasing here; the id is checked before the Source sees it.
	f := newFullFake(20, "a", "b", "c")
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	for _, tc := range []struct {
		id     string
		status int
	}{
		{"13", http.StatusOK},
		{"1", http.StatusConflict},
		{"20", http.StatusNotFound},
		{"99999999999999999999999", http.StatusNotFound},
		{"-3", http.StatusBadRequest},
		{"x", http.StatusBadRequest},
		// With the grant's token only that grant is released: a token from
		// an earlier grant (an app from before a restart) is refused.
		{"13/release?token=700000000013", http.StatusOK},
		{"13/release?token=700000000012", http.StatusConflict},
		{"13/release?token=0", http.StatusBadRequest},
		{"13/release?token=abc", http.StatusBadRequest},
	} {
		path := "/partitions/" + tc.id
		if !strings.Contains(tc.id, "/") {
			path += "/release"
		}
		r := post(t, c, ts.URL+path, "", nil)
		if r.status != tc.status {
			t.Errorf("release %s: %d, want %d: %s", tc.id, r.status, tc.status, r.body)
		}
	}
	if got := f.recordedCalls(); !slices.Equal(got, []string{"release 13", "release 1", "release 20", "release 13", "release 13"}) {
		t.Fatalf("calls %v", got)
	}
}

func TestActionTimeoutIs504(t *testing.T) {
	f := newFullFake(4, "a")
	f.block = make(chan struct{})
	t.Cleanup(func() { close(f.block) })
	_, ts, _ := newHTTPTest(t, f, Options{ActionTimeout: 50 * time.Millisecond})
	r := post(t, newClient(t), ts.URL+"/admin/drain", "", nil)
	if r.status != http.StatusGatewayTimeout {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if e := decodeError(t, r); !strings.Contains(e.Error, "in time") {
		t.Fatalf("message %q", e.Error)
	}
}

func TestTransferBody(t *testing.T) {
	f := newFullFake(4, "a", "b")
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"ok", `{"to":"b"}`, http.StatusOK},
		{"ok with spaces", " {\"to\": \"b\"}\n", http.StatusOK},
		{"unknown member", `{"to":"zz"}`, http.StatusNotFound},
		{"empty", ``, http.StatusBadRequest},
		{"not json", `to=b`, http.StatusBadRequest},
		{"truncated", `{"to":"b"`, http.StatusBadRequest},
		{"array", `["b"]`, http.StatusBadRequest},
		{"null", `null`, http.StatusBadRequest},
		{"no to", `{}`, http.StatusBadRequest},
		{"empty to", `{"to":""}`, http.StatusBadRequest},
		{"number", `{"to":5}`, http.StatusBadRequest},
		{"unknown field", `{"to":"b","force":true}`, http.StatusBadRequest},
		{"misspelt", `{"To2":"b"}`, http.StatusBadRequest},
		{"two objects", `{"to":"b"}{"to":"a"}`, http.StatusBadRequest},
		{"long name", `{"to":"` + strings.Repeat("n", 300) + `"}`, http.StatusBadRequest},
		{"bad utf8", "{\"to\":\"\xff\"}", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, c, ts.URL+"/admin/leader/transfer", "", strings.NewReader(tc.body))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == http.StatusBadRequest {
				if e := decodeError(t, r); len(e.Error) > 400 {
					t.Fatalf("message is %d bytes", len(e.Error))
				}
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	f := newFullFake(20, "a", "b", "c")
	_, ts, _ := newHTTPTest(t, f, Options{MaxBodyBytes: 1024})
	c := newClient(t)
	big := `{"to":"` + strings.Repeat("x", 2000) + `"}`
	for _, path := range []string{"/admin/leader/transfer", "/admin/drain", "/admin/undrain", "/partitions/13/release"} {
		for _, chunked := range []bool{false, true} {
			var body io.Reader = strings.NewReader(big)
			if chunked {
				// No Content-Length: the limit must hold while reading.
				body = io.MultiReader(strings.NewReader(big))
			}
			r := post(t, c, ts.URL+path, "", body)
			want := http.StatusRequestEntityTooLarge
			if r.status != want {
				t.Errorf("POST %s (chunked %v): %d, want %d: %s", path, chunked, r.status, want, r.body)
				continue
			}
			decodeError(t, r)
		}
	}
	// Under the limit is fine.
	if r := post(t, c, ts.URL+"/admin/drain", "", bytes.NewReader(make([]byte, 1024))); r.status != http.StatusOK {
		t.Fatalf("1024-byte body: %d %s", r.status, r.body)
	}
	if calls := f.recordedCalls(); !slices.Equal(calls, []string{"drain"}) {
		t.Fatalf("an oversized request reached the Source: %v", calls)
	}
}

func TestAdminToken(t *testing.T) {
	const token = "s3cret-token"
	f := newFullFake(20, "a", "b", "c")
	_, ts, _ := newHTTPTest(t, f, Options{AdminToken: token})
	c := newClient(t)
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"none", "", http.StatusUnauthorized},
		{"basic", "Basic czNjcmV0LXRva2Vu", http.StatusUnauthorized},
		{"scheme only", "Bearer", http.StatusUnauthorized},
		{"empty token", "Bearer ", http.StatusUnauthorized},
		{"no space", "Bearer" + token, http.StatusUnauthorized},
		{"wrong", "Bearer nope", http.StatusForbidden},
		{"prefix of it", "Bearer s3cret", http.StatusForbidden},
		{"longer", "Bearer " + token + "x", http.StatusForbidden},
		{"right", "Bearer " + token, http.StatusOK},
		{"scheme in lower case", "bearer " + token, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/admin/drain", "/admin/undrain", "/admin/leader/transfer"} {
				r := post(t, c, ts.URL+path, tc.auth, strings.NewReader(`{"to":"c"}`))
				if r.status != tc.status {
					t.Fatalf("POST %s: %d, want %d: %s", path, r.status, tc.status, r.body)
				}
				if tc.status == http.StatusOK {
					continue
				}
				e := decodeError(t, r)
				if strings.Contains(e.Error, token) {
					t.Fatalf("message %q shows the token", e.Error)
				}
				challenge := r.header.Get("WWW-Authenticate")
				if tc.status == http.StatusUnauthorized && !strings.HasPrefix(challenge, "Bearer") {
					t.Fatalf("401 without a Bearer challenge: %q", challenge)
				}
			}
		})
	}

	// Refused requests never reach the Source; a refused transfer is refused
	// before its body is looked at.
	before := len(f.recordedCalls())
	if r := post(t, c, ts.URL+"/admin/leader/transfer", "", strings.NewReader("garbage")); r.status != http.StatusUnauthorized {
		t.Fatalf("bad body without token: %d", r.status)
	}
	if r := post(t, c, ts.URL+"/admin/drain", "Bearer nope", nil); r.status != http.StatusForbidden {
		t.Fatalf("wrong token: %d", r.status)
	}
	if got := len(f.recordedCalls()); got != before {
		t.Fatalf("refused requests reached the Source")
	}

	// Two Authorization headers are malformed.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/drain", nil)
	req.Header.Add("Authorization", "Bearer "+token)
	req.Header.Add("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("two Authorization headers: %d", resp.StatusCode)
	}

	// The token guards the admin endpoints only.
	if r := post(t, c, ts.URL+"/partitions/13/release", "", nil); r.status != http.StatusOK {
		t.Fatalf("release with a token configured: %d %s", r.status, r.body)
	}
	if r := get(t, c, ts.URL+"/partitions"); r.status != http.StatusOK {
		t.Fatalf("GET /partitions with a token configured: %d", r.status)
	}
}

func TestAdminOpenWithoutToken(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFullFake(4, "a"), Options{})
	if r := post(t, newClient(t), ts.URL+"/admin/drain", "Bearer anything", nil); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		want string
		ok   bool
	}{
		{nil, "", false},
		{[]string{"Bearer abc"}, "abc", true},
		{[]string{"BEARER abc"}, "abc", true},
		{[]string{"Bearer   abc"}, "abc", true},
		{[]string{"Bearer a b"}, "a b", true},
		{[]string{"Bearer"}, "", false},
		{[]string{"Bearer "}, "", false},
		{[]string{"Token abc"}, "", false},
		{[]string{"Bearer a", "Bearer a"}, "", false},
	} {
		got, ok := bearerToken(tc.vals)
		if got != tc.want || ok != tc.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.vals, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMineAckFalse(t *testing.T) {
	f := newFullFake(4, "a")
	_, ts, _ := newHTTPTest(t, f, Options{})
	c := newClient(t)
	for _, tc := range []struct {
		query  string
		status int
		acks   []uint64
	}{
		{"?index=7&wait=0&ack=false", http.StatusOK, nil},
		{"?index=7&wait=0&ack=0", http.StatusOK, nil},
		{"?index=7&wait=0&ack=maybe", http.StatusBadRequest, nil},
		{"?index=7&wait=0&ack=false&ack=true", http.StatusBadRequest, nil},
		{"?index=7&wait=0&ack=true", http.StatusOK, []uint64{7}},
		{"?index=8&wait=0", http.StatusOK, []uint64{7, 8}},
	} {
		r := get(t, c, ts.URL+"/partitions/mine"+tc.query)
		if r.status != tc.status {
			t.Fatalf("%s: %d, want %d: %s", tc.query, r.status, tc.status, r.body)
		}
		if got := f.recordedAcks(); !slices.Equal(got, tc.acks) {
			t.Fatalf("after %s: acks %v, want %v", tc.query, got, tc.acks)
		}
	}
}

// Without an admin token, the admin routes answer only requests that came
// in on a loopback listener; the app's own routes are not affected.
func TestAdminRoutesClosedOffLoopbackWithoutToken(t *testing.T) {
	s := New(newFullFake(20, "a", "b", "c"), Options{})
	for _, tc := range []struct {
		local *net.TCPAddr
		path  string
		want  int
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 7070}, "/admin/drain", http.StatusForbidden},
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 7070}, "/admin/leader/transfer", http.StatusForbidden},
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 7070}, "/admin/drain", http.StatusOK},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 7070}, "/admin/undrain", http.StatusOK},
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 7070}, "/partitions/13/release", http.StatusOK},
	} {
		body := ""
		if strings.HasSuffix(tc.path, "transfer") {
			body = `{"to":"c"}`
		}
		req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(body))
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, net.Addr(tc.local)))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("POST %s on %v: %d %s, want %d", tc.path, tc.local, rec.Code, rec.Body, tc.want)
		}
		if tc.want == http.StatusForbidden && !strings.Contains(rec.Body.String(), "--admin-token-file") {
			t.Errorf("the refusal does not say how to enable the routes: %s", rec.Body)
		}
	}
}

// hasSentinelPrefix reports whether msg starts with a Source sentinel's
// text, which means nothing to a person ("conflict: ...").
func hasSentinelPrefix(msg string) bool {
	for _, m := range sourceStatus {
		if strings.HasPrefix(msg, m.err.Error()+":") {
			return true
		}
	}
	return false
}
