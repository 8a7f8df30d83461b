package restapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// limitBody refuses a request whose declared body is over MaxBodyBytes with
// a 413 before any handler runs, and caps the body of the others, so a
// chunked body that grows past the limit fails while it is read.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.opts.MaxBodyBytes {
			return tooLarge(s.opts.MaxBodyBytes)
		}
		if req.Body != nil && req.Body != http.NoBody {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, s.opts.MaxBodyBytes)
		}
		return next(c)
	}
}

func tooLarge(limit int64) error {
	return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
		"the request body is larger than "+strconv.FormatInt(limit, 10)+" bytes; this API takes small JSON bodies only")
}

// bodyError maps an error while reading a body: over the limit is a 413,
// anything else (the client hung up, a broken chunked encoding) a 400.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(mbe.Limit)
	}
	return badRequest("cannot read the request body: %s", clip(err.Error()))
}
