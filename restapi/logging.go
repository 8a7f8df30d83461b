package restapi

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/labstack/echo/v4"
)

// quietPaths are logged at trace, not debug: probes and scrapers hit them
// every few seconds, and the dashboard's assets are many, and they would
// drown the lines that matter. Keys are route patterns.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/swagger/*": true, "/dashboard/:file": true}

// logRequests logs one line per request when it ends (method, path, status,
// duration). One line per request, not per wake-up, so a long-poll that waits
// five minutes costs one line like any other request.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			// Render the error now, so the line below has the real status;
			// echo then has nothing left to handle.
			c.Error(err)
		}
		if parked(c) {
			// Logged by the parking when it answers (parking.finish).
			return nil
		}
		level := hclog.Debug
		if quietPaths[c.Path()] {
			level = hclog.Trace
		}
		req, resp := c.Request(), c.Response()
		status := resp.Status
		if !resp.Committed && req.Context().Err() != nil {
			// A long-poll whose client went away: nothing was sent.
			status = 0
		}
		s.logRequest(level, req.Method, req.URL.Path, status, time.Since(start))
		return nil
	}
}

// logRequest writes the one line of a request that ended; status 0 is a
// client that left before its answer.
func (s *Server) logRequest(level hclog.Level, method, path string, status int, took time.Duration) {
	if s.log.GetLevel() > level {
		// Not logged: skip building the line, which costs more
		// allocations than the rest of a plain read.
		return
	}
	args := []any{"method", method, "path", path, "status", status, "duration", took}
	if status == 0 {
		args = append(args, "client", "gone")
	}
	s.log.Log(level, "request", args...)
}
