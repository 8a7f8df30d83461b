package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ringd/ringd/clientlib"
	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/secret"
)

// maxAnswer bounds what ringctl reads of one answer (a table of 100,000
// partitions is a few MB).
const maxAnswer = 64 << 20

// ctl is one invocation's connection to ringd and its output settings.
type ctl struct {
	// name is the member's name when known (keys --all), else its address.
	name      string
	base      *url.URL
	tokenFile string
	timeout   time.Duration
	hc        *http.Client
	json      bool
	out       io.Writer
	// errOut gets notes that do not end the command (a watch retrying).
	errOut io.Writer
}

func newCtl(addr, tokenFile, caFile string, timeout time.Duration, asJSON bool, out, errOut io.Writer) (*ctl, error) {
	base, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	// No proxy: ringctl talks to members on the pod network or loopback,
	// and the admin token must not pass through a proxy from the
	// environment.
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	hc := &http.Client{Transport: tr}
	if caFile != "" {
		pool, err := clientlib.LoadCertPool(caFile)
		if err != nil {
			return nil, usagef("--ca-file: %v", err)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &ctl{name: base.Host, base: base, tokenFile: tokenFile, timeout: timeout, hc: hc, json: asJSON, out: out, errOut: errOut}, nil
}

// parseAddr takes host:port, or a URL with http or https.
func parseAddr(addr string) (*url.URL, error) {
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, usagef("--addr %q is not host:port or a URL", addr)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, usagef("--addr %q: the scheme must be http or https", addr)
	case u.Host == "" || u.Port() == "":
		return nil, usagef("--addr %q needs a host and a port (ringd listens on 7070 by default)", addr)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return nil, usagef("--addr %q: %v", addr, err)
	}
	u.Path, u.RawQuery = strings.TrimSuffix(u.Path, "/"), ""
	return u, nil
}

// refusedError is an error answer from ringd.
type refusedError struct {
	addr   string
	status int
	msg    string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("ringd at %s answered %d %s: %s", e.addr, e.status, http.StatusText(e.status), e.msg)
}

// get fetches path with query into out, within the request timeout plus
// extra (a long-poll's wait).
func (c *ctl) get(ctx context.Context, path string, query url.Values, extra time.Duration, out any) error {
	return c.do(ctx, http.MethodGet, path, query, nil, false, extra, out)
}

// admin posts body (nil: none) to an admin route with the token.
func (c *ctl) admin(ctx context.Context, path string, body any, out any) error {
	return c.do(ctx, http.MethodPost, path, nil, body, true, 0, out)
}

func (c *ctl) do(ctx context.Context, method, path string, query url.Values, body any, admin bool, extra time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+extra)
	defer cancel()
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin && c.tokenFile != "" {
		token, err := readToken(c.tokenFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("ringd at %s did not answer %s %s within %v", c.base.Host, method, path, c.timeout+extra)
		}
		return fmt.Errorf("cannot reach ringd at %s: %w", c.base.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("reading the answer of ringd at %s: %w", c.base.Host, err)
	}
	if resp.StatusCode >= 300 {
		msg := api.ErrorText(raw)
		if resp.StatusCode == http.StatusForbidden && admin && c.tokenFile == "" {
			msg += " (pass --token-file with ringd's admin token)"
		}
		return &refusedError{addr: c.base.Host, status: resp.StatusCode, msg: msg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("ringd at %s answered %s %s with something that is not the expected JSON (%v); is it a ringd?", c.base.Host, method, path, err)
	}
	return nil
}

// readToken reads the admin token the way ringd reads --admin-token-file.
func readToken(path string) (string, error) {
	toks, err := secret.Tokens(path)
	if err != nil {
		return "", usagef("--token-file: %v", err)
	}
	return toks[0], nil // the first: a server accepts every token of its own file
}

// unwrapURLError drops net/http's `Get "http://...":` prefix: the message
// already names the address.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
