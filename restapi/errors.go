package restapi

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
)

// maxQuoted bounds how much of a client's input is echoed back in a message:
// enough to recognise it, not enough to turn an error into an amplifier.
const maxQuoted = 64

// errInternal is what a client sees for a bug in ringd; the details go to the log
// only.
var errInternal = echo.NewHTTPError(http.StatusInternalServerError,
	"internal error in ringd; this is a bug, the details are in ringd's log")

// badRequest is the error handlers return for a bad parameter. The message must
// tell the person what to send instead.
func badRequest(format string, args ...any) error {
	return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf(format, args...))
}

// quote renders client input for an error message, shortened to maxQuoted bytes.
func quote(v string) string {
	if len(v) > maxQuoted {
		return strconv.Quote(v[:maxQuoted]) + "..."
	}
	return strconv.Quote(v)
}

// handleError is echo's HTTPErrorHandler: every error becomes a JSON api.Error
// with a message a person can act on. It replaces echo's default, which answers
// {"message": "Not Found"}.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		// Too late for an error response; the client got a partial one.
		s.log.Debug("error after the response was sent", "path", c.Request().URL.Path, "error", err)
		return
	}
	code, msg := s.describe(err, c)
	// An error is about this moment: a cache must not serve it later.
	noStore(c)
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(code)
	} else {
		werr = c.JSON(code, api.Error{Error: msg})
	}
	if werr != nil {
		s.log.Debug("cannot send error response", "path", c.Request().URL.Path, "error", werr)
	}
}

// describe maps an error to a status and a message.
func (s *Server) describe(err error, c echo.Context) (int, string) {
	req := c.Request()
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		s.log.Error("handler failed; this is a bug", "method", req.Method, "path", req.URL.Path, "error", err)
		return http.StatusInternalServerError, errInternal.Message.(string)
	}
	// A handler's own message wins; echo's router errors carry only the status
	// text, and get a message that says what to do instead.
	if m, ok := he.Message.(string); ok && m != http.StatusText(he.Code) {
		if he.Code >= 500 {
			s.log.Error("request failed", "method", req.Method, "path", req.URL.Path, "status", he.Code, "error", err)
		}
		return he.Code, m
	}
	switch he.Code {
	case http.StatusNotFound:
		return he.Code, fmt.Sprintf("no endpoint %s %s; this API has: %s", req.Method, quote(req.URL.Path), s.endpoints)
	case http.StatusMethodNotAllowed:
		// echo's router has already set the Allow header (RFC 9110 requires it).
		allow := c.Response().Header().Get(echo.HeaderAllow)
		return he.Code, fmt.Sprintf("method %s is not allowed on %s; allowed: %s", req.Method, quote(req.URL.Path), allow)
	}
	if he.Code >= 500 {
		s.log.Error("request failed", "method", req.Method, "path", req.URL.Path, "status", he.Code, "error", err)
	}
	return he.Code, http.StatusText(he.Code)
}

// recoverPanics is the last resort: a panic in a handler becomes a logged 500
// instead of a dropped connection. Handlers must not rely on it; anything a
// client sends is checked and answered with a 4xx before it could panic.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler {
				// net/http's way to abort a response on purpose; let it through.
				panic(r)
			}
			req := c.Request()
			s.log.Error("handler panicked; this is a bug", "method", req.Method, "path", req.URL.Path,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errInternal
		}()
		return next(c)
	}
}
