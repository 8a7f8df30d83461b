package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/clientlib/api"
)

// Source is what the API reads. The daemon implements it.
type Source interface {
	// Mine returns this member's view as of now, and a channel that is closed as
	// soon as the view's Index changes (for long-polls).
	Mine() (api.Mine, <-chan struct{})
	// Cluster returns the members in ring order, the leader, term and table version.
	Cluster() api.Cluster
}

// Acknowledger is implemented by a Source whose app acknowledges releases by
// polling: a GET /partitions/mine?index=N says the app has seen (and acted
// on) every view up to index N, so releases announced at or before N are
// complete. See "Why at most one owner" in docs/architecture.md.
type Acknowledger interface {
	AckIndex(index uint64)
}

// AppWatcher hears of the application's polls of GET /partitions/mine
// (not those with ?observer=true): until is when the poll's wait ends, the
// request's arrival for a plain read.
type AppWatcher interface {
	AppPolled(until time.Time)
}

// Options tunes a Server. The zero value is usable.
type Options struct {
	// Logger gets one debug line per request and error lines for bugs.
	// nil -> hclog.NewNullLogger().
	Logger hclog.Logger
	// MaxWait caps ?wait= on long-polls (larger values are clamped, not refused,
	// so a client asking for "1h" still works). <= 0 -> DefaultMaxWait.
	MaxWait time.Duration
	// DefaultWait is the wait of a long-poll that gives ?index= but no ?wait=.
	// <= 0 -> DefaultWait; clamped at MaxWait.
	DefaultWait time.Duration
	// AdminToken protects the /admin/* endpoints: when it is not empty they
	// need "Authorization: Bearer <AdminToken>" (401 without or malformed,
	// 403 with another token). Without any token they answer only requests
	// that came in over loopback. It is used as given (no trimming): the
	// caller reads it from --admin-token-file and strips the line end.
	AdminToken string
	// AdminTokens are more tokens accepted as AdminToken is (a rotation:
	// old and new together). SetAdminTokens replaces both.
	AdminTokens []string
	// Registerer gets the HTTP metrics (ringd_http_requests_total and
	// ringd_http_request_duration_seconds). nil -> no HTTP metrics.
	Registerer prometheus.Registerer
	// MetricsHandler serves GET /metrics as given (usually promhttp over the
	// daemon's registry). nil -> no /metrics route.
	MetricsHandler http.Handler
	// ActionTimeout bounds how long an action (release, drain, undrain,
	// leader transfer) may take before the client gets a 504.
	// <= 0 -> DefaultActionTimeout.
	ActionTimeout time.Duration
	// MaxBodyBytes caps request bodies; a larger one gets a 413.
	// <= 0 -> DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Defaults for Options.
const (
	DefaultMaxWait       = 5 * time.Minute
	DefaultDefaultWait   = 30 * time.Second
	DefaultActionTimeout = 10 * time.Second
	DefaultMaxBodyBytes  = 64 << 10
)

// Timeouts of the http.Server. The read side is short because a request here is a
// few hundred bytes of headers and no body: a client that cannot send that in 10s
// is broken or hostile and must not hold a connection. The write side must outlast
// the longest long-poll, so it is MaxWait plus writeSlack.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	writeSlack        = 30 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Server is the app-facing HTTP API. Create it with New.
type Server struct {
	src Source
	// cs and act are src as a ClusterSource and as Actions, nil when it is
	// not one.
	cs       ClusterSource
	act      Actions
	keyring  Keyring
	recovery Recovery
	opts     Options
	log      hclog.Logger
	// adminDigests are the SHA-256 of the admin tokens, nil without any
	// (SetAdminTokens).
	adminDigests atomic.Pointer[[][32]byte]
	e            *echo.Echo
	srv          *http.Server
	// ops serves the probes and metrics on a second listener (ServeOps).
	ops *http.Server

	// endpoints is the human-readable route list put into 404 messages.
	endpoints string

	// quit is closed by Shutdown; long-polls select on it so they answer at
	// once instead of holding Shutdown for up to MaxWait.
	quit     chan struct{}
	quitOnce sync.Once

	// polls counts long-polls blocked right now; tests use it to see that a
	// blocked handler is really gone.
	polls atomic.Int64

	// lastMine is the newest encoded GET /partitions/mine answer, shared by
	// the requests that may send it (see mineAnswer).
	lastMine atomic.Pointer[mineAnswer]
	// lastTemplate is the encoding of the newest view of a DeadlineSource,
	// without its times (see mineTemplate).
	lastTemplate atomic.Pointer[mineTemplate]

	// metrics are the HTTP series (the parking counts parked polls).
	metrics *httpMetrics

	// parking holds the GET /partitions/mine long-polls taken off net/http
	// while they wait (see parking.go).
	parking *parking
}

// New builds a Server that reads from src. It does not listen; see Serve.
func New(src Source, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.DefaultWait <= 0 {
		opts.DefaultWait = DefaultDefaultWait
	}
	if opts.DefaultWait > opts.MaxWait {
		opts.DefaultWait = opts.MaxWait
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = DefaultActionTimeout
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}

	s := &Server{
		src:  src,
		opts: opts,
		log:  opts.Logger,
		quit: make(chan struct{}),
	}
	s.parking = newParking(s)
	s.SetAdminTokens(append([]string{opts.AdminToken}, opts.AdminTokens...))

	e := echo.New()
	// We serve through our own http.Server (Serve), so echo's banner and port line
	// would never print; hide them anyway in case someone calls e.Start.
	e.HideBanner = true
	e.HidePort = true
	// echo logs a few internal warnings (e.g. "response already committed")
	// through its own logger; send them to ours.
	stdOpts := &hclog.StandardLoggerOptions{InferLevels: true}
	e.Logger.SetOutput(s.log.StandardWriter(stdOpts))
	e.StdLogger = s.log.StandardLogger(stdOpts)
	e.HTTPErrorHandler = s.handleError
	e.JSONSerializer = jsonSerializer{}
	s.e = e
	s.routes()
	s.endpoints = listEndpoints(e)

	// Order matters: metrics and logging are outermost so they see the final
	// status (logRequests renders errors), recovery is inside them so a panic
	// still produces a logged and counted 500, and the body limit applies to
	// every handler. Registered after the routes because the metrics need the
	// route list; echo applies e.Use to routes added earlier too.
	s.metrics = newHTTPMetrics(opts.Registerer, e, s.log)
	e.Use(s.metrics.middleware, s.logRequests, s.recoverPanics, s.limitBody)
	s.registerPollGauge(opts.Registerer)

	s.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      opts.MaxWait + writeSlack,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          s.log.StandardLogger(stdOpts),
	}
	s.ops = &http.Server{
		Handler:           opsOnly(e),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          s.log.StandardLogger(stdOpts),
	}
	return s
}

// OpsPaths are the only routes the ops listener serves.
var OpsPaths = []string{"/healthz", "/readyz", "/metrics"}

// opsOnly passes GET and HEAD of OpsPaths to next and answers everything
// else with a 404 that says what this listener is for: it faces the pod
// network (the kubelet, Prometheus), where the application API and the
// admin routes must not be reachable.
func opsOnly(next http.Handler) http.Handler {
	msg, _ := json.Marshal(api.Error{Error: "this is ringd's ops listener: it serves only GET " + strings.Join(OpsPaths, ", ") +
		"; the API is on --http-addr"})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && slices.Contains(OpsPaths, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(append(msg, '\n'))
	})
}

// ServeOps serves the probes and metrics (OpsPaths) on ln until Shutdown,
// like Serve.
func (s *Server) ServeOps(ln net.Listener) error {
	err := s.ops.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// routes registers every endpoint. What the Source can do decides which:
// GET /partitions/mine, /cluster, /members, /leader, /healthz, /version and the Swagger
// UI need only a Source; the table, lookups, readiness, the change log and
// the dashboard need a ClusterSource; release and the admin actions need
// Actions. 404 messages and 405 Allow headers pick the routes up by
// themselves.
//
// echo's router tries static segments before parameters, so
// /partitions/mine and /partitions/locate are never taken for /partitions/{id}.
func (s *Server) routes() {
	e := s.e
	e.GET(mineRoute, s.getMine)
	e.GET("/cluster", s.getCluster)
	e.GET("/members", s.getMembers)
	e.GET("/leader", s.getLeader)
	// Probes and monitors may ask with HEAD.
	e.GET("/healthz", s.getHealthz)
	e.HEAD("/healthz", headOf(s.getHealthz))
	e.GET("/version", s.getVersion)
	e.HEAD("/version", headOf(s.getVersion))

	if cs, ok := s.src.(ClusterSource); ok {
		s.cs = cs
		e.GET("/partitions", s.getTable)
		e.GET("/partitions/locate", s.getLocate)
		e.GET("/partitions/:id", s.getPartition)
		e.GET("/readyz", s.getReadyz)
		e.HEAD("/readyz", headOf(s.getReadyz))
		e.GET("/changes", s.getChanges)
		// The dashboard draws the table, so it needs it too.
		e.GET("/dashboard", s.getDashboard)
		e.GET("/dashboard/:file", s.getDashboardAsset)
		e.GET("/dashboard/", s.getDashboardSlash)
	}
	if act, ok := s.src.(Actions); ok {
		s.act = act
		e.POST("/partitions/:id/release", s.postRelease)
		// Per route rather than an echo Group: a Group's middleware also
		// claims every unknown /admin/... path, which should stay a plain 404.
		e.POST("/admin/drain", s.postDrain, s.requireAdmin)
		e.POST("/admin/undrain", s.postUndrain, s.requireAdmin)
		e.POST("/admin/leader/transfer", s.postTransfer, s.requireAdmin)
		e.POST("/admin/freeze", s.postFreeze, s.requireAdmin)
		e.POST("/admin/unfreeze", s.postUnfreeze, s.requireAdmin)
		e.POST("/admin/pin", s.postPin, s.requireAdmin)
		e.POST("/admin/unpin", s.postUnpin, s.requireAdmin)
		e.POST("/admin/exclude", s.postExclude, s.requireAdmin)
		e.POST("/admin/include", s.postInclude, s.requireAdmin)
	}
	if rc, ok := s.src.(Recovery); ok {
		s.recovery = rc
		e.POST("/admin/recover", s.postRecover, s.requireAdmin)
	}
	if kr, ok := s.src.(Keyring); ok {
		s.keyring = kr
		e.GET("/admin/keys", s.getKeys, s.requireAdmin)
		e.POST("/admin/keys/install", s.postKeyInstall, s.requireAdmin)
		e.POST("/admin/keys/use", s.postKeyUse, s.requireAdmin)
		e.POST("/admin/keys/remove", s.postKeyRemove, s.requireAdmin)
	}
	if s.opts.MetricsHandler != nil {
		e.GET("/metrics", s.getMetrics)
	}
	e.GET("/swagger/*", s.getSwagger)
	// The addresses people type lead to the pages.
	e.GET("/swagger", s.getSwaggerBare)
}

// headOf answers HEAD with the status and headers h gives GET, without
// the body.
func headOf(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Writer = bodyless{c.Response().Writer}
		return h(c)
	}
}

// bodyless drops what is written to it.
type bodyless struct{ http.ResponseWriter }

func (bodyless) Write(p []byte) (int, error) { return len(p), nil }

// listEndpoints renders the registered routes as "GET /a, GET /b" for error
// messages, so a person who mistyped a path sees what exists.
func listEndpoints(e *echo.Echo) string {
	var out []string
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		out = append(out, r.Method+" "+r.Path)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Handler returns the API as an http.Handler (for tests, or to mount it in
// another server). It does not apply the http.Server timeouts; Serve does.
func (s *Server) Handler() http.Handler { return s.e }

// Serve serves on ln until Shutdown; it returns nil after Shutdown and the
// listener's error otherwise. ln is closed when Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	// Connections of answered parked polls come back through the listener.
	hb := newHandBackListener(ln)
	s.parking.mu.Lock()
	s.parking.back = hb
	s.parking.mu.Unlock()
	err := s.srv.Serve(hb)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, makes in-flight long-polls return at once (with the
// current view), and waits for handlers to finish until ctx is done. If ctx ends
// first it cuts the remaining connections and returns ctx's error. Calling it
// again is harmless.
func (s *Server) Shutdown(ctx context.Context) error {
	// Release the long-polls first: http.Server.Shutdown waits for active
	// requests and does not cancel their contexts.
	s.quitOnce.Do(func() { close(s.quit) })
	// The parked polls are answered (Connection: close) before the
	// servers go: http.Server does not know those connections.
	select {
	case <-s.parking.drained():
	case <-ctx.Done():
	}
	// The probes stop with the API: a member that no longer serves its app
	// must not look alive.
	if err := s.ops.Shutdown(ctx); err != nil {
		_ = s.ops.Close()
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		// Whatever is still running is stuck; do not leave its connections open.
		_ = s.srv.Close()
		return fmt.Errorf("restapi: shutdown: %w", err)
	}
	return nil
}
