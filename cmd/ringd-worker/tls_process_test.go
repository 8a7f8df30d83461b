package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/procluster"
	"github.com/ringd/ringd/internal/testcert"
	"github.com/ringd/ringd/internal/testlog"
)

// TestWorkerOverTLS: the worker as the Helm chart runs it with
// api.tls.secretName (--ringd https://localhost:PORT --ca-file ca.crt)
// against a ringd serving its API over TLS with a certificate of that
// authority: it acquires partitions, and stops cleanly on its signal. Without
// --ca-file it cannot trust the certificate and acquires nothing.
func TestWorkerOverTLS(t *testing.T) {
	ips, names := testcert.Loopback()
	certs, err := testcert.Write(t.TempDir(), ips, names)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := procluster.Start(ctx, procluster.Options{Binary: ringdBinary, Members: 1, Partitions: 4, Dir: t.TempDir(), Fast: true,
		ExtraArgs: []string{"--tls-cert-file", certs.Cert, "--tls-key-file", certs.Key}, TLS: certs.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.Members()[0].HTTPAddr[strings.LastIndex(c.Members()[0].HTTPAddr, ":")+1:]

	runWorker := func(extra ...string) (logs *testlog.Writer, stop func() int) {
		logs = testlog.New(t).Keep()
		wctx, wcancel := context.WithCancel(ctx)
		code := make(chan int, 1)
		args := append([]string{"--ringd", "https://localhost:" + port, "--name", "w", "--drain-timeout", "0s", "--item-time", "5ms"}, extra...)
		go func() { code <- run(wctx, args, logs) }()
		return logs, func() int { wcancel(); return <-code }
	}

	logs, stop := runWorker("--ca-file", certs.CA)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "acquired") {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the worker acquired nothing over TLS within 30s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if code := stop(); code != 0 {
		t.Fatalf("worker exit %d:\n%s", code, logs.String())
	}

	// The system's authorities do not know the test's: every poll fails.
	logs, stop = runWorker()
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "certificate") {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no certificate error from a worker without --ca-file within 30s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	stop()
	if strings.Contains(logs.String(), "acquired") {
		t.Errorf("a worker that cannot trust ringd's certificate acquired partitions:\n%s", logs.String())
	}
}
