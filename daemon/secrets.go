package daemon

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// secretPollInterval is how often the secret files are checked for a
// change: Kubernetes updates a mounted Secret by swapping a symlink, and
// nobody sends ringd a signal then.
const secretPollInterval = 2 * time.Second

// secrets keeps what ringd reads from the admin token and TLS files, and
// reloads them on SIGHUP (Reload) and when they change on disk.
type secrets struct {
	d *Daemon

	mu sync.Mutex
	// stamps are the files' modification times and sizes when last read.
	stamps map[string]fileStamp
	// cert is the API listener's certificate, nil without TLS.
	cert *tls.Certificate
	// gossipKeys is the digest of the keys last read from
	// --gossip-key-file: the file is applied when its keys change, so a
	// SIGHUP for the certificate does not undo a rotation done through
	// the admin API.
	gossipKeys [32]byte
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}
}

// files lists the secret files of the configuration.
func (s *secrets) files() []string {
	var out []string
	for _, f := range []string{s.d.cfg.AdminTokenFile, s.d.cfg.TLSCertFile, s.d.cfg.TLSKeyFile, s.d.cfg.GossipKeyFile} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// start records the files as Resolve read them.
func (s *secrets) start(cert *tls.Certificate, gossipKeys [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cert = cert
	s.gossipKeys = keysDigest(gossipKeys)
	s.stamps = map[string]fileStamp{}
	for _, f := range s.files() {
		s.stamps[f] = stampOf(f)
	}
}

// watch reloads whenever a file's stamp changes, until the daemon stops.
func (s *secrets) watch() {
	if len(s.files()) == 0 {
		return
	}
	t := time.NewTicker(secretPollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.d.stop:
			return
		case <-t.C:
		}
		changed := false
		s.mu.Lock()
		for _, f := range s.files() {
			if stampOf(f) != s.stamps[f] {
				changed = true
			}
		}
		s.mu.Unlock()
		if changed {
			s.reload("a file changed")
		}
	}
}

// reload reads the files again and applies what reads cleanly; a file that
// does not (a half-written update, a key that does not match its
// certificate) leaves the previous value in place and is logged.
func (s *secrets) reload(why string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.d.cfg
	var errs []error
	if cfg.AdminTokenFile != "" {
		stamp := stampOf(cfg.AdminTokenFile)
		if toks, err := LoadAdminTokens(cfg.AdminTokenFile); err != nil {
			// Noted as read, so that a bad file is reported once, not
			// every poll; the next change is read again.
			s.stamps[cfg.AdminTokenFile] = stamp
			s.d.metrics.reloads.WithLabelValues("admin-token", "error").Inc()
			s.d.log.Error("cannot reload --admin-token-file; keeping the previous token", "why", why, "error", err)
			errs = append(errs, err)
		} else if stamp != s.stamps[cfg.AdminTokenFile] || why == reloadSignal {
			s.d.http.SetAdminTokens(toks)
			s.stamps[cfg.AdminTokenFile] = stamp
			s.d.metrics.reloads.WithLabelValues("admin-token", "ok").Inc()
			s.d.log.Info("reloaded the admin token", "why", why, "file", cfg.AdminTokenFile)
		}
	}
	if cfg.TLSCertFile != "" {
		stamps := []fileStamp{stampOf(cfg.TLSCertFile), stampOf(cfg.TLSKeyFile)}
		if cert, err := LoadTLSCert(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			s.stamps[cfg.TLSCertFile], s.stamps[cfg.TLSKeyFile] = stamps[0], stamps[1]
			s.d.metrics.reloads.WithLabelValues("tls", "error").Inc()
			s.d.log.Error("cannot reload the TLS certificate; keeping the previous one", "why", why, "error", err)
			errs = append(errs, err)
		} else if stamps[0] != s.stamps[cfg.TLSCertFile] || stamps[1] != s.stamps[cfg.TLSKeyFile] || why == reloadSignal {
			s.cert = cert
			s.stamps[cfg.TLSCertFile], s.stamps[cfg.TLSKeyFile] = stamps[0], stamps[1]
			s.d.metrics.reloads.WithLabelValues("tls", "ok").Inc()
			s.d.log.Info("reloaded the TLS certificate", append([]any{"why", why, "file", cfg.TLSCertFile}, certFields(cert)...)...)
		}
	}
	if cfg.GossipKeyFile != "" && s.d.keyring != nil {
		stamp := stampOf(cfg.GossipKeyFile)
		s.stamps[cfg.GossipKeyFile] = stamp
		if keys, err := LoadGossipKeys(cfg.GossipKeyFile); err != nil {
			s.d.metrics.reloads.WithLabelValues("gossip-key", "error").Inc()
			s.d.log.Error("cannot reload --gossip-key-file; keeping the keyring as it is", "why", why, "error", err)
			errs = append(errs, err)
		} else if digest := keysDigest(keys); digest != s.gossipKeys {
			s.gossipKeys = digest
			if err := s.d.setKeyring(keys); err != nil {
				s.d.metrics.reloads.WithLabelValues("gossip-key", "error").Inc()
				errs = append(errs, err)
			} else {
				s.d.metrics.reloads.WithLabelValues("gossip-key", "ok").Inc()
			}
		}
	}
	return errors.Join(errs...)
}

// keysDigest identifies a list of keys in order, without keeping them.
func keysDigest(keys [][]byte) [32]byte {
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte{byte(len(k))})
		h.Write(k)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// reloadSignal is the reason of a reload an operator asked for: it applies
// the files even when they look unchanged.
const reloadSignal = "SIGHUP"

// certFields describes a certificate for the log.
func certFields(cert *tls.Certificate) []any {
	leaf := cert.Leaf
	if leaf == nil && len(cert.Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	if leaf == nil {
		return nil
	}
	return []any{"subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
}

// getCertificate hands TLS handshakes the current certificate.
func (s *secrets) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cert, nil
}

// tlsListener serves TLS on ln with the certificate of the moment. HTTP/1.1
// only: parked long-polls take their connection over (http.Hijacker),
// which HTTP/2 does not allow.
func (s *secrets) tlsListener(ln net.Listener) net.Listener {
	return tls.NewListener(ln, &tls.Config{
		GetCertificate: s.getCertificate,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
	})
}

// Reload reads --admin-token-file and the TLS files again (what SIGHUP
// does) and returns what could not be read; the previous values stay in
// place for those.
func (d *Daemon) Reload() error { return d.secrets.reload(reloadSignal) }
