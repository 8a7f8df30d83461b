package daemon

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ringd/ringd/internal/memnet"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with serial
// number serial, and its key, as PEM files; it returns the certificate.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "ringd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeAtomically(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeAtomically(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// writeAtomically replaces a file the way a careful operator (or the
// kubelet) does: a new file renamed over the old one.
func writeAtomically(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestTLSAndTokenReload: with --tls-cert-file the API speaks HTTPS only;
// a changed token or certificate takes effect without a restart, and a bad
// one leaves the previous in place.
func TestTLSAndTokenReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, tokenFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "token")
	first := writeCert(t, certFile, keyFile, 1)
	writeAtomically(t, tokenFile, []byte("one\n"))

	tr, err := memnet.New(1).NewTransport("127.0.0.1:7946")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig("m0", "127.0.0.1:7946", 8, nil, 0)
	cfg.TLSCertFile, cfg.TLSKeyFile, cfg.AdminTokenFile = certFile, keyFile, tokenFile
	d, err := Start(mustResolve(t, cfg), hclog.NewNullLogger(), WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Crash()
	base := "https://" + d.HTTPAddr()

	// The client trusts whichever certificate the test expects now.
	client := func(trust *x509.Certificate) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(trust)
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	status := func(c *http.Client, method, url, token string) (int, error) {
		req, _ := http.NewRequest(method, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second) // a few polls of the files
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 10s: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	c1 := client(first)
	if code, err := status(c1, http.MethodGet, base+"/healthz", ""); err != nil || code != http.StatusOK {
		t.Fatalf("HTTPS /healthz: %d %v", code, err)
	}
	// net/http answers plain HTTP on a TLS listener with a bare 400.
	if code, err := status(&http.Client{Timeout: 5 * time.Second}, http.MethodGet, "http://"+d.HTTPAddr()+"/healthz", ""); err != nil || code != http.StatusBadRequest {
		t.Errorf("plain HTTP on the TLS listener: %d %v, want 400", code, err)
	}
	if code, _ := status(c1, http.MethodPost, base+"/admin/undrain", "one"); code != http.StatusOK {
		t.Fatalf("undrain with the token: %d", code)
	}
	if code, _ := status(c1, http.MethodPost, base+"/admin/undrain", "two"); code != http.StatusForbidden {
		t.Fatalf("undrain with another token: %d", code)
	}

	// Rotate both: the new token and certificate are used without a
	// restart. The token goes through a file with both, so that no client
	// is refused while they change over.
	second := writeCert(t, certFile, keyFile, 2)
	writeAtomically(t, tokenFile, []byte("two\none\n"))
	c2 := client(second)
	eventually("the new token to be accepted", func() bool {
		code, _ := status(c2, http.MethodPost, base+"/admin/undrain", "two")
		return code == http.StatusOK
	})
	if code, _ := status(c2, http.MethodPost, base+"/admin/undrain", "one"); code != http.StatusOK {
		t.Errorf("the old token is refused while both are in the file: %d", code)
	}
	writeAtomically(t, tokenFile, []byte("two\n"))
	eventually("the old token to be refused", func() bool {
		code, _ := status(c2, http.MethodPost, base+"/admin/undrain", "one")
		return code == http.StatusForbidden
	})
	if _, err := status(client(first), http.MethodGet, base+"/healthz", ""); err == nil {
		t.Error("the old certificate is still served")
	}
	if n := testutil.ToFloat64(d.metrics.reloads.WithLabelValues("tls", "ok")); n < 1 {
		t.Errorf("ringd_secret_reloads_total{file=tls,result=ok} = %v", n)
	}

	// A broken update keeps the previous values, and says so.
	writeAtomically(t, tokenFile, []byte("   \n"))
	writeAtomically(t, keyFile, []byte("not a key"))
	eventually("the failed reloads to be counted", func() bool {
		return testutil.ToFloat64(d.metrics.reloads.WithLabelValues("admin-token", "error")) >= 1 &&
			testutil.ToFloat64(d.metrics.reloads.WithLabelValues("tls", "error")) >= 1
	})
	if err := d.Reload(); err == nil {
		t.Error("Reload of broken files returned no error")
	}
	if code, err := status(c2, http.MethodPost, base+"/admin/undrain", "two"); err != nil || code != http.StatusOK {
		t.Errorf("after a broken update, the previous token and certificate: %d %v", code, err)
	}
}

// TestGossipKeyFileReload: a rotation through the key file (as a mounted
// Kubernetes Secret is updated): each version of the file is applied when
// its keys change, and kept in the data dir.
func TestGossipKeyFileReload(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "gossip.key")
	a, b := make([]byte, 32), make([]byte, 32)
	for i := range a {
		a[i], b[i] = byte(i), byte(100+i)
	}
	enc := func(keys ...[]byte) []byte {
		var out []byte
		for _, k := range keys {
			out = append(out, []byte(base64.StdEncoding.EncodeToString(k)+"\n")...)
		}
		return out
	}
	writeAtomically(t, keyFile, enc(a))
	tr, err := memnet.New(1).NewTransport("127.0.0.1:7946")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig("m0", "127.0.0.1:7946", 8, nil, 0)
	cfg.GossipKeyFile, cfg.DataDir = keyFile, filepath.Join(dir, "data")
	d, err := Start(mustResolve(t, cfg), hclog.NewNullLogger(), WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Crash()
	want := func(primary []byte, keys ...[]byte) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			k, err := d.keys()
			if err != nil {
				t.Fatal(err)
			}
			var fps []string
			for _, key := range k.Keys {
				fps = append(fps, key.Fingerprint)
			}
			var wantFps []string
			for _, key := range keys {
				wantFps = append(wantFps, keyFingerprint(key))
			}
			slices.Sort(fps)
			slices.Sort(wantFps)
			if k.Primary == keyFingerprint(primary) && slices.Equal(fps, wantFps) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("keys %v primary %s, want %v primary %s", fps, k.Primary, wantFps, keyFingerprint(primary))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	want(a, a)
	writeAtomically(t, keyFile, enc(a, b)) // install
	want(a, a, b)
	writeAtomically(t, keyFile, enc(b, a)) // use
	want(b, a, b)
	writeAtomically(t, keyFile, enc(b)) // remove
	want(b, b)
	saved, ok, err := loadKeyring(cfg.DataDir)
	if err != nil || !ok || len(saved) != 1 || !bytes.Equal(saved[0], b) {
		t.Errorf("kept keyring: %d keys, %v, %v; want only the new key", len(saved), ok, err)
	}
	// A broken file changes nothing.
	writeAtomically(t, keyFile, []byte("not a key\n"))
	if err := d.Reload(); err == nil {
		t.Error("Reload of a broken key file returned no error")
	}
	want(b, b)
}
