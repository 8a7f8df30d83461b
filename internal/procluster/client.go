package procluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// maxBody bounds how much of a response is read.
const maxBody = 4 << 20

// Client reads one ringd's app-facing HTTP API. It only observes: plain GET
// /partitions/mine does not acknowledge releases (MineAfter does, as an app's
// long-poll would).
type Client struct {
	// Addr is host:port of the API.
	Addr string
	// HTTP is the client used; nil means one without proxy, for loopback.
	HTTP *http.Client
	// TLS: the API speaks HTTPS (--tls-cert-file); HTTP's transport must
	// trust its certificate.
	TLS bool
}

// NewClient returns a Client for addr (host:port) that never uses a proxy.
func NewClient(addr string) *Client { return &Client{Addr: addr} }

// HTTPError is a non-2xx answer.
type HTTPError struct {
	Method string
	Path   string
	Status int
	// Message is the "error" field of the JSON body, or the start of the raw
	// body when it is not JSON.
	Message string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// Mine is GET /partitions/mine: what this member's app may work on now.
func (c *Client) Mine(ctx context.Context) (api.Mine, error) {
	var m api.Mine
	err := c.GetJSON(ctx, "/partitions/mine", &m)
	return m, err
}

// MineAfter is the long-poll GET /partitions/mine?index=N&wait=D: it returns
// as soon as the member's index differs from index, or after wait (plus
// ringd's jitter of up to wait/16) with the same view. Polling with the index of the last view seen tells ringd that the app
// has taken that view in, which acknowledges the releases in it.
func (c *Client) MineAfter(ctx context.Context, index uint64, wait time.Duration) (api.Mine, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait+wait/16+requestTimeout)
		defer cancel()
	}
	q := url.Values{}
	q.Set("index", strconv.FormatUint(index, 10))
	q.Set("wait", wait.String())
	var m api.Mine
	err := c.GetJSON(ctx, "/partitions/mine?"+q.Encode(), &m)
	return m, err
}

// Cluster is GET /cluster: members, leader and table version as this member
// sees them.
func (c *Client) Cluster(ctx context.Context) (api.Cluster, error) {
	var cl api.Cluster
	err := c.GetJSON(ctx, "/cluster", &cl)
	return cl, err
}

// Ready reports whether GET /readyz answers 2xx (joined, has a table, lease
// valid); the error says why not.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/readyz", nil)
	return err
}

// GetJSON GETs path (with its query) and decodes a 2xx JSON body into out.
// A non-2xx answer is an *HTTPError. Without a deadline in ctx the request is
// bounded by a few seconds, so a frozen (SIGSTOP) member cannot hang a caller.
func (c *Client) GetJSON(ctx context.Context, path string, out any) error {
	body, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s from %s: bad JSON: %w", path, c.Addr, err)
	}
	return nil
}

// Post POSTs body (JSON, or nothing when nil) to path, for the actions
// (release, drain, undrain, leader transfer), and returns the answer's body.
func (c *Client) Post(ctx context.Context, path string, body any) ([]byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	return c.do(ctx, http.MethodPost, path, r)
}

// do sends one request and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, method, path string, reqBody io.Reader) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	scheme := "http://"
	if c.TLS {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, method, scheme+c.Addr+path, reqBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Transport: noProxy}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s to %s: %w", method, path, c.Addr, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &HTTPError{Method: method, Path: path, Status: resp.StatusCode, Message: api.ErrorText(body)}
	}
	return body, nil
}

// noProxy is the transport of a Client without its own http.Client.
var noProxy = &http.Transport{Proxy: nil}

// IsHTTPStatus reports whether err is an *HTTPError with that status.
func IsHTTPStatus(err error, status int) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.Status == status
}
