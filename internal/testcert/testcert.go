// Package testcert makes a throwaway certificate authority and a server
// certificate signed by it, as PEM files, for tests that run ringd's API over
// TLS: the files are what an operator (or cert-manager, in a
// kubernetes.io/tls Secret) would hand ringd and its clients.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files are the PEM files written by Write.
type Files struct {
	// Cert and Key are the server certificate and its private key
	// (tls.crt and tls.key), CA the authority's certificate (ca.crt).
	Cert, Key, CA string
	// PEM holds the same three files' contents, by those names.
	PEM map[string][]byte
	// Pool trusts CA.
	Pool *x509.CertPool
}

// ClientConfig is a TLS client configuration that trusts the authority.
func (f Files) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: f.Pool, MinVersion: tls.VersionTLS12}
}

// Write makes an authority and a server certificate for the given IP
// addresses and DNS names, valid for a day, and writes tls.crt, tls.key and
// ca.crt into dir.
func Write(dir string, ips []net.IP, names []string) (Files, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Files{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ringd test authority"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return Files{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return Files{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Files{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "ringd test server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  ips,
		DNSNames:     names,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return Files{}, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Files{}, err
	}
	f := Files{
		Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key"), CA: filepath.Join(dir, "ca.crt"),
		PEM: map[string][]byte{
			"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
			"ca.crt":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		},
		Pool: x509.NewCertPool(),
	}
	f.Pool.AddCert(ca)
	for name, b := range f.PEM {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return Files{}, fmt.Errorf("testcert: %w", err)
		}
	}
	return f, nil
}

// Loopback is the addresses a test's processes use: 127.0.0.1, every
// address of 127.77.0.0/23 (the pod IPs of the chart's tests), and the name
// localhost.
func Loopback() ([]net.IP, []string) {
	ips := []net.IP{net.IPv4(127, 0, 0, 1)}
	for _, c := range []byte{0, 1} {
		for d := 1; d < 255; d++ {
			ips = append(ips, net.IPv4(127, 77, c, byte(d)))
		}
	}
	return ips, []string{"localhost"}
}
