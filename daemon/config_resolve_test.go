package daemon

import (
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringd/ringd/internal/memnet"
)

// Start uses the key and token that Resolve read: with both files gone
// after Resolve, a member still encrypts gossip with the key (a member with
// the same key joins it, one without does not) and still requires the token
// on the admin routes.
func TestStartUsesTheSecretsResolveRead(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	net := memnet.New(3)
	start := func(name, addr string, join []string, withSecrets bool) *Daemon {
		t.Helper()
		cfg := fastConfig(name, addr, 8, join, 0)
		if withSecrets {
			cfg.GossipKeyFile = writeFile(t, "key", key+"\n")
			cfg.AdminTokenFile = writeFile(t, "token", "s3cret\n")
		}
		r := mustResolve(t, cfg)
		for _, f := range []string{cfg.GossipKeyFile, cfg.AdminTokenFile} {
			if f != "" {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}
		tr, err := net.NewTransport(addr)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Start(r, hclog.NewNullLogger(), WithTransport(tr))
		if err != nil {
			t.Fatalf("start %s after its secret files were removed: %v", name, err)
		}
		t.Cleanup(func() { net.Crash(addr); d.Crash() })
		return d
	}
	members := func(d *Daemon) []string {
		var names []string
		for _, m := range (&source{d: d}).Cluster().Members {
			names = append(names, m.Name)
		}
		return names
	}

	a := start("a", "127.0.0.1:7946", nil, true)
	start("keyless", "127.0.0.3:7946", []string{"127.0.0.1:7946"}, false)
	start("b", "127.0.0.2:7946", []string{"127.0.0.1:7946"}, true)
	deadline := time.Now().Add(20 * time.Second)
	for !slices.Contains(members(a), "b") {
		if time.Now().After(deadline) {
			t.Fatalf("b, with the same key, never joined a: members %q", members(a))
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	// The keyless member has tried for as long as b needed; give it a
	// little longer before concluding it is kept out.
	watchUntil := time.Now().Add(time.Second)
	for time.Now().Before(watchUntil) {
		if got := members(a); slices.Contains(got, "keyless") {
			t.Fatalf("a member without the gossip key joined: members %q", got)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}

	adminStatus := func(auth string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+a.HTTPAddr()+"/admin/undrain", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := adminStatus(""); code != http.StatusUnauthorized {
		t.Errorf("admin route without the token: %d, want %d", code, http.StatusUnauthorized)
	}
	if code := adminStatus("Bearer s3cret"); code == http.StatusUnauthorized || code == http.StatusForbidden {
		t.Errorf("admin route with the token read by Resolve: %d, want it accepted", code)
	}
}

func TestStartRefusesAConfigNotResolved(t *testing.T) {
	if _, err := Start(Resolved{}, hclog.NewNullLogger()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Start(Resolved{}) error = %v, want ErrInvalidConfig", err)
	}
}

// A gossip key file that does not hold a key is a field error naming the
// flag and the file, in one line without the file's content.
func TestResolveBadGossipKeyIsAFieldError(t *testing.T) {
	c := validConfig()
	c.GossipKeyFile = writeFile(t, "key", "not-a-key-but-a-secret\n")
	_, err := c.Resolve()
	fes := fieldErrors(t, err)
	if len(fes) != 1 || fes[0].Flag != "--gossip-key-file" {
		t.Fatalf("Resolve error = %v, want one --gossip-key-file error", err)
	}
	if !errors.Is(err, ErrInvalidGossipKey) || !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("error %v does not wrap ErrInvalidGossipKey and ErrInvalidConfig", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, c.GossipKeyFile) || strings.Contains(msg, "\n") || strings.Contains(msg, "secret") {
		t.Errorf("message %q: want one line naming %s, without the file content", msg, c.GossipKeyFile)
	}
}

// The result of Resolve does not change with the Config it came from, nor
// with what Config() returned.
func TestResolvedIsACopy(t *testing.T) {
	c := validConfig()
	c.Join = []string{"a", "b"}
	r := mustResolve(t, c)
	c.Join[0] = "changed"
	got := r.Config()
	got.Join[1] = "changed too"
	if want := []string{"a", "b"}; !slices.Equal(r.Config().Join, want) {
		t.Errorf("Resolved join = %q, want %q", r.Config().Join, want)
	}
}

// TLS files go in pairs, and a pair that does not load is refused at start
// with one line naming the flag.
func TestResolveTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeCert(t, cert, key, 1)
	for _, tc := range []struct {
		name      string
		cert, key string
		ok        bool
	}{
		{"both", cert, key, true},
		{"cert only", cert, "", false},
		{"key only", "", key, false},
		{"swapped", key, cert, false},
		{"missing", filepath.Join(dir, "none"), key, false},
	} {
		c := validConfig()
		c.TLSCertFile, c.TLSKeyFile = tc.cert, tc.key
		r, err := c.Resolve()
		if tc.ok {
			if err != nil || r.tlsCert == nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		fes := fieldErrors(t, err)
		if len(fes) != 1 || fes[0].Flag != "--tls-cert-file" || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: Resolve error = %v, want one --tls-cert-file error", tc.name, err)
		}
	}
}
