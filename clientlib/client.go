package clientlib

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// Member is one member of the cluster (GET /members).
type Member = api.Member

// Leader is the cluster's leader as the local ringd knows it (GET /leader).
type Leader = api.Leader

// Location is where a key belongs: its partition and that partition's owner
// (GET /partitions/locate).
type Location = api.Locate

// Logger is what the library logs through. Both an hclog.Logger and a
// *slog.Logger satisfy it as they are; the arguments after msg are
// alternating keys and values.
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// Client talks to the ringd beside this application. Its methods are safe
// for concurrent use; Run may run once at a time.
type Client struct {
	base *url.URL
	http *http.Client
	log  Logger

	margin        time.Duration
	returnTimeout time.Duration
	maxWait       time.Duration
	minBackoff    time.Duration
	maxBackoff    time.Duration

	// ownTransport is true when New made the HTTP client: only then may
	// Run close its idle connections.
	ownTransport bool
	// roots, from WithCAFile, are the authorities New's own transport
	// trusts.
	roots *x509.CertPool

	running atomic.Bool
	// owned is the snapshot Owned returns, kept by Run; idle is what
	// WaitIdle waits for.
	owned atomic.Pointer[[]Partition]
	idle  atomic.Bool
	// slots is what Run knows of each partition, kept across Runs so that
	// tokens never go down; only the running Run touches it.
	slots map[int]*slot
}

// Option configures a Client.
type Option func(*Client) error

// Defaults of the options.
const (
	DefaultMargin     = 500 * time.Millisecond
	DefaultMaxWait    = 30 * time.Second
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

// maxResponse bounds a response body: the largest answer (GET /partitions of a
// big cluster) is well below it, and a broken server cannot make the client
// buffer without end.
const maxResponse = 32 << 20

// New returns a client of the ringd whose HTTP API listens at addr:
// "host:port" or a URL such as "http://127.0.0.1:8080".
func New(addr string, opts ...Option) (*Client, error) {
	base, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:       base,
		log:        slog.New(discardHandler{}),
		margin:     DefaultMargin,
		maxWait:    DefaultMaxWait,
		minBackoff: DefaultMinBackoff,
		maxBackoff: DefaultMaxBackoff,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(c); err != nil {
			return nil, fmt.Errorf("clientlib: %w", err)
		}
	}
	if c.http == nil {
		// A transport of its own: the long-poll keeps a connection busy,
		// and the application's other requests should not queue behind it.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if c.roots != nil {
			tr.TLSClientConfig = &tls.Config{RootCAs: c.roots, MinVersion: tls.VersionTLS12}
		}
		c.http = &http.Client{Transport: tr}
		c.ownTransport = true
	} else if c.roots != nil {
		return nil, errors.New("clientlib: WithCAFile and WithHTTPClient together: give your client's transport the certificates instead")
	}
	return c, nil
}

// WithCAFile trusts the PEM certificates in path (instead of the system's)
// for an https:// ringd address: the authority that signed ringd's
// --tls-cert-file, such as the ca.crt of a cert-manager Secret.
func WithCAFile(path string) Option {
	return func(c *Client) error {
		pool, err := LoadCertPool(path)
		if err != nil {
			return fmt.Errorf("WithCAFile: %w", err)
		}
		c.roots = pool
		return nil
	}
}

// LoadCertPool reads PEM certificates from path into a pool; a file without
// any is an error.
func LoadCertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

func parseAddr(addr string) (*url.URL, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, errors.New("clientlib: the ringd address is empty; give host:port of its HTTP API, e.g. 127.0.0.1:8080")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	switch {
	case err != nil:
		return nil, fmt.Errorf("clientlib: the ringd address %q is not host:port or a URL: %v", addr, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("clientlib: the ringd address %q has scheme %q; use http or https", addr, u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("clientlib: the ringd address %q has no host", addr)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("clientlib: the ringd address %q must not have a query or fragment", addr)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// WithHTTPClient makes the client send its requests with hc (for TLS, a
// proxy, or instrumentation). Leave hc.Timeout at 0, or above WithMaxWait
// plus 5s: each request is bounded by its own context, and a shorter
// timeout cuts every idle long-poll short.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("WithHTTPClient: the client is nil")
		}
		c.http = hc
		return nil
	}
}

// WithLogger logs through l: an hclog.Logger or a *slog.Logger. The default
// logs nothing.
func WithLogger(l Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("WithLogger: the logger is nil")
		}
		c.log = l
		return nil
	}
}

// WithMargin sets how long before a partition's deadline its worker's context
// is cancelled when no fresh answer from ringd has moved the deadline on
// (default 500ms). It is the time a worker has to notice the cancellation and
// stop; it must be well below ringd's --lease (3s by default): a grant that
// arrives with less than the margin left is not started (and a warning says
// so).
func WithMargin(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("WithMargin: %v is not positive (a worker needs time to stop before its deadline)", d)
		}
		c.margin = d
		return nil
	}
}

// WithReturnTimeout sets how long Run waits for a cancelled worker to return
// before it reports the partition lost. The default, 0, waits until the
// partition's deadline: a worker still running then may overlap with the
// next owner. A partition is reported lost at the deadline whatever this
// says.
func WithReturnTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("WithReturnTimeout: %v is negative", d)
		}
		c.returnTimeout = d
		return nil
	}
}

// WithMaxWait sets the longest long-poll (default 30s, at most 5m, ringd's
// own bound). While the member owns partitions the client polls more often,
// at about half of what is left of the shortest lease before the margin, so
// that renewals reach the workers well before their contexts would be
// cancelled.
func WithMaxWait(d time.Duration) Option {
	return func(c *Client) error {
		if d < time.Second || d > 5*time.Minute {
			return fmt.Errorf("WithMaxWait: %v is not between 1s and 5m", d)
		}
		c.maxWait = d
		return nil
	}
}

// WithBackoff sets the reconnect backoff after a failed request to ringd:
// exponential from min to max, each wait drawn at random below the bound
// ("full jitter"), so that the applications of a restarted node do not all
// come back at once. Defaults: 100ms and 5s.
func WithBackoff(min, max time.Duration) Option {
	return func(c *Client) error {
		if min <= 0 || max < min || max > time.Hour {
			return fmt.Errorf("WithBackoff: need 0 < min <= max <= 1h, got min %v max %v", min, max)
		}
		c.minBackoff, c.maxBackoff = min, max
		return nil
	}
}

// StatusError is an answer of ringd with a status other than 2xx.
type StatusError struct {
	Status int
	// Message is the "error" of the JSON body, or the body's start.
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("ringd answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Members lists the members of the cluster as the local ringd sees them.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var m api.Members
	if err := c.getJSON(ctx, "/members", nil, &m); err != nil {
		return nil, err
	}
	return m.Members, nil
}

// Leader returns the leader the local ringd follows ("" while there is none).
func (c *Client) Leader(ctx context.Context) (Leader, error) {
	var l api.Leader
	err := c.getJSON(ctx, "/leader", nil, &l)
	return l, err
}

// Locate maps key to its partition and that partition's current owner and
// fencing token, as the local ringd knows the table.
func (c *Client) Locate(ctx context.Context, key string) (Location, error) {
	var l api.Locate
	err := c.getJSON(ctx, "/partitions/locate", url.Values{"key": {key}}, &l)
	return l, err
}

// getJSON GETs path?query and decodes a 200 answer into out.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	body, _, err := c.do(ctx, http.MethodGet, path, query)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: the answer is not the expected JSON: %v", path, err)
	}
	return nil
}

// do sends one request and returns the body of a 2xx answer; any other
// status is a *StatusError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values) ([]byte, http.Header, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if len(body) > maxResponse {
		return nil, nil, fmt.Errorf("%s %s: the answer is larger than %d bytes", method, path, maxResponse)
	}
	if resp.StatusCode/100 != 2 {
		return nil, nil, &StatusError{Status: resp.StatusCode, Message: errorMessage(body)}
	}
	return body, resp.Header, nil
}

// errorMessage is the "error" of a JSON error body, else the body's start.
func errorMessage(body []byte) string {
	var e api.Error
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := string(bytes.TrimSpace(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}

// discardHandler is a slog.Handler that drops everything (slog.DiscardHandler
// needs Go 1.24; this module supports older ones).
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }
