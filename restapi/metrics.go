package restapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// Label values that stand for many raw values, so a client cannot grow the
// number of series: any path that is no route, any method this API does not
// know, and a long-poll whose client left before an answer (nginx's 499,
// "client closed request").
const (
	unmatchedRoute = "unmatched"
	otherMethod    = "other"
	codeClientGone = "499"
)

// knownMethods are the methods that keep their own label value.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// httpMetrics counts requests by route (echo's pattern, e.g.
// /partitions/:id, never the raw path), method and status, and times them.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// routes are the registered patterns; anything else is unmatchedRoute.
	routes map[string]bool
	// series holds the series looked up so far (counter, observer); the
	// label values are bounded (routes, known methods, status codes).
	series sync.Map
}

// newHTTPMetrics registers the HTTP series with reg; nil reg -> none. A
// series already registered (a second Server on one registry) is shared; any
// other registration error is logged and the server runs without them.
func newHTTPMetrics(reg prometheus.Registerer, e *echo.Echo, log hclog.Logger) *httpMetrics {
	m := &httpMetrics{routes: map[string]bool{}}
	if reg == nil {
		return m
	}
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound {
			m.routes[r.Path] = true
		}
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ringd_http_requests_total",
		Help: "HTTP requests to the app-facing API by route pattern, method and status code (499: the client left a long-poll before the answer).",
	}, []string{"route", "method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ringd_http_request_duration_seconds",
		Help: "Time to answer HTTP requests to the app-facing API, by route pattern and method. Long-polls (requests with ?index=) are left out: they last as long as nothing changes.",
		// From a fast local read (~100µs) to a slow action (10s).
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
	}, []string{"route", "method"})
	var err error
	if m.requests, err = register(reg, requests); err != nil {
		log.Error("cannot register the HTTP request counter; serving without HTTP metrics", "error", err)
		return &httpMetrics{}
	}
	if m.duration, err = register(reg, duration); err != nil {
		log.Error("cannot register the HTTP latency histogram; serving without HTTP metrics", "error", err)
		return &httpMetrics{}
	}
	return m
}

// register registers c, or returns the equal collector registered before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(C); ok {
			return old, nil
		}
	}
	return c, err
}

// middleware observes every request after it was answered.
func (m *httpMetrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	if m.requests == nil {
		return next
	}
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if parked(c) {
			// Counted by the parking when it answers (parking.finish).
			return err
		}
		if err != nil {
			// Render it now so the status below is the one sent.
			c.Error(err)
			err = nil
		}
		req, resp := c.Request(), c.Response()
		route := c.Path()
		if !m.routes[route] {
			route = unmatchedRoute
		}
		method := req.Method
		if !knownMethods[method] {
			method = otherMethod
		}
		code := resp.Status
		if !resp.Committed && req.Context().Err() != nil {
			code = clientGoneStatus
		}
		m.counter(route, method, code).Inc()
		if !isLongPoll(req) {
			m.observer(route, method).Observe(time.Since(start).Seconds())
		}
		return err
	}
}

// clientGoneStatus stands for codeClientGone in a seriesKey;
// histogramSeries, no status code, marks the latency histogram's series.
const (
	clientGoneStatus = 499
	histogramSeries  = -1
)

// seriesKey names one series of the request counter (code
// histogramSeries for the latency histogram).
type seriesKey struct {
	route, method string
	code          int
}

// counter is the request counter's series for route, method and code,
// looked up once: finding a series by its label values hashes them, a good
// part of a plain read's cost at tens of thousands of requests a second.
func (m *httpMetrics) counter(route, method string, code int) prometheus.Counter {
	k := seriesKey{route, method, code}
	if c, ok := m.series.Load(k); ok {
		return c.(prometheus.Counter)
	}
	label := strconv.Itoa(code)
	if code == clientGoneStatus {
		label = codeClientGone
	}
	c := m.requests.WithLabelValues(route, method, label)
	m.series.Store(k, c)
	return c
}

// observer is the latency histogram's series for route and method, looked
// up once.
func (m *httpMetrics) observer(route, method string) prometheus.Observer {
	k := seriesKey{route: route, method: method, code: histogramSeries}
	if o, ok := m.series.Load(k); ok {
		return o.(prometheus.Observer)
	}
	o := m.duration.WithLabelValues(route, method)
	m.series.Store(k, o)
	return o
}

// parkedDone counts a parked GET /partitions/mine long-poll that ended:
// answered (200) or left by its client (status 0).
func (m *httpMetrics) parkedDone(status int) {
	if m.requests == nil {
		return
	}
	if status == 0 {
		status = clientGoneStatus
	}
	m.counter(mineRoute, http.MethodGet, status).Inc()
}

// isLongPoll tells a watch that may block (it has ?index=) from a plain read.
func isLongPoll(req *http.Request) bool {
	if req.URL.RawQuery == "" {
		return false
	}
	vals, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return false
	}
	_, ok := vals["index"]
	return ok
}

// registerPollGauge exports how many long-polls wait right now: each holds a
// connection and its memory, so an operator (and figure f of the benchmarks)
// can see the watchers a member carries. nil reg -> none.
func (s *Server) registerPollGauge(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ringd_http_long_polls",
		Help: "Long-polls (GET /partitions/mine and GET /partitions with ?index=) waiting for a change right now.",
	}, func() float64 { return float64(s.polls.Load()) })
	if _, err := register(reg, g); err != nil {
		s.log.Error("cannot register the long-poll gauge; serving without it", "error", err)
	}
}
