package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// ringctl runs realMain and returns its exit status, stdout and stderr.
func ringctl(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := realMain(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"--nope", "status"}, "flag provided but not defined: -nope"},
		{[]string{"--addr", "127.0.0.1", "status"}, "needs a host and a port"},
		{[]string{"--addr", "ftp://127.0.0.1:7070", "status"}, "the scheme must be http or https"},
		{[]string{"--timeout", "0s", "status"}, "--timeout must be positive"},
		{[]string{"status", "extra"}, `status takes no arguments, got "extra"`},
		{[]string{"locate"}, "locate needs a KEY"},
		{[]string{"locate", "a", "b"}, "locate takes one argument"},
		{[]string{"transfer-leader"}, "transfer-leader needs the NAME"},
		{[]string{"drain", "--wait-timeout", "soon"}, "drain: invalid value"},
		{[]string{"partitions", "--watch=maybe"}, "partitions: invalid boolean value"},
	} {
		code, out, errOut := ringctl(t, nil, tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("ringctl %q: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		code, out, errOut := ringctl(t, nil, args...)
		if code != exitOK || errOut != "" || !strings.Contains(out, "transfer-leader NAME") || !strings.Contains(out, "--token-file") {
			t.Errorf("ringctl %q: exit %d, stderr %q, stdout %q", args, code, errOut, out)
		}
	}
	for _, args := range [][]string{{"drain", "--help"}, {"help", "drain"}} {
		code, out, _ := ringctl(t, nil, args...)
		if code != exitOK || !strings.Contains(out, "--wait-timeout") {
			t.Errorf("ringctl %q: exit %d, stdout %q", args, code, out)
		}
	}
	code, out, _ := ringctl(t, nil, "--version")
	if code != exitOK || !strings.HasPrefix(out, "ringctl ") || !strings.Contains(out, "commit ") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close() // nothing listens there now
	code, _, errOut := ringctl(t, nil, "--addr", addr, "status")
	if code != exitRefused || !strings.Contains(errOut, "cannot reach ringd at "+addr) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	// RINGCTL_ADDR is the default address.
	code, _, errOut = ringctl(t, map[string]string{"RINGCTL_ADDR": addr}, "members")
	if code != exitRefused || !strings.Contains(errOut, addr) {
		t.Errorf("RINGCTL_ADDR: exit %d, stderr %q", code, errOut)
	}
}

// TestRefusals checks how ringd's error answers come out: exit 1, one line
// with ringd's message and the status.
func TestRefusals(t *testing.T) {
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/admin/drain":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":"this member is the only one: nobody could take its partitions"}`))
		case "/admin/undrain":
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":"the admin token is wrong"}`))
		case "/members":
			_, _ = w.Write([]byte(`<html>not ringd</html>`))
		default:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("upstream\nbroken"))
		}
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(" s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--token-file", token, "drain"}, "answered 409 Conflict: this member is the only one"},
		{[]string{"undrain"}, "the admin token is wrong (pass --token-file"},
		{[]string{"members"}, "not the expected JSON"},
		{[]string{"status"}, "answered 502 Bad Gateway: upstream; broken"},
	} {
		code, _, errOut := ringctl(t, nil, append([]string{"--addr", addr}, tc.args...)...)
		if code != exitRefused || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("ringctl %q: exit %d, stderr %q; want exit 1 and one line with %q", tc.args, code, errOut, tc.want)
		}
	}
	code, _, _ := ringctl(t, nil, "--addr", addr, "--token-file", token, "drain")
	if code != exitRefused || gotAuth != "Bearer s3cret" {
		t.Errorf("Authorization sent %q, want the file's token without white space", gotAuth)
	}
	code, _, errOut := ringctl(t, nil, "--addr", addr, "--token-file", filepath.Join(t.TempDir(), "none"), "drain")
	if code != exitUsage || !strings.Contains(errOut, "--token-file") {
		t.Errorf("missing token file: exit %d, %q", code, errOut)
	}
}

// TestHTTPSWithCAFile: an https:// address is trusted through --ca-file,
// and refused without it.
func TestHTTPSWithCAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"members":[{"name":"ringd-0","rank":0,"alive":true,"owned":3}]}`))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := ringctl(t, nil, "--addr", srv.URL, "--ca-file", ca, "members")
	if code != exitOK || !strings.Contains(out, "ringd-0") {
		t.Fatalf("with --ca-file: exit %d, %q %q", code, out, errOut)
	}
	code, _, errOut = ringctl(t, nil, "--addr", srv.URL, "members")
	if code != exitRefused || !strings.Contains(errOut, "certificate") {
		t.Errorf("without --ca-file: exit %d, %q", code, errOut)
	}
	code, _, errOut = ringctl(t, nil, "--addr", srv.URL, "--ca-file", filepath.Join(t.TempDir(), "none"), "members")
	if code != exitUsage || !strings.Contains(errOut, "--ca-file") {
		t.Errorf("missing --ca-file: exit %d, %q", code, errOut)
	}
}

// TestWatchOutlivesAnOutage: partitions --watch keeps going through a member
// that cannot answer for a while (a 503 while there is no leader, then a
// dropped connection), says so on stderr, shows the next table, and ends
// with exit 1 only when ringd refuses the request itself.
func TestWatchOutlivesAnOutage(t *testing.T) {
	table := func(version int, owner string) string {
		return fmt.Sprintf(`{"node":"ringd-0","index":%d,"term":7,"tableVersion":%d,"leader":"ringd-0","members":["ringd-0"],"voters":["ringd-0"],`+
			`"partitions":[{"id":0,"owner":%q,"token":7001,"state":"owned"}]}`, version, version, owner)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			_, _ = w.Write([]byte(table(1, "ringd-0")))
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"no leader yet"}`))
		case 3, 4:
			// The member went away mid-poll (twice: net/http tries an
			// idempotent request again once on a reused connection).
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		case 5:
			_, _ = w.Write([]byte(table(2, "ringd-1")))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not found"}`))
		}
	}))
	defer srv.Close()
	code, out, errOut := ringctl(t, nil, "--addr", srv.URL, "partitions", "--watch")
	if code != exitRefused || !strings.Contains(errOut, "404") {
		t.Errorf("the watch ended with exit %d, %q; want 1 on the 404", code, errOut)
	}
	if n := strings.Count(errOut, "retrying in"); n < 2 || !strings.Contains(errOut, "no leader yet") {
		t.Errorf("stderr has %d retry notes, want one for the 503 and one for the dropped connection:\n%s", n, errOut)
	}
	if !strings.Contains(out, "ringd-0") || !strings.Contains(out, "ringd-1") {
		t.Errorf("the watch did not show both tables:\n%s", out)
	}
}
