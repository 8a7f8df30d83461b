package restapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// bearerChallenge is the WWW-Authenticate of a 401 (RFC 6750).
const bearerChallenge = `Bearer realm="ringd admin"`

// requireAdmin guards the /admin/* endpoints with the admin tokens
// (Options.AdminToken and AdminTokens, then SetAdminTokens). Without a token it lets through
// only requests that came in on a loopback listener (the default
// 127.0.0.1): on an address the network reaches, drain and leader transfer
// would be open to every pod. The token is looked up per request, so a
// reloaded one takes effect at once.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		want := s.adminDigests.Load()
		if want == nil {
			if !onLoopback(c.Request()) {
				return echo.NewHTTPError(http.StatusForbidden,
					"the admin routes are disabled: ringd listens on a non-loopback address and has no --admin-token-file")
			}
			return next(c)
		}
		got, ok := bearerToken(c.Request().Header.Values(echo.HeaderAuthorization))
		if !ok {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, bearerChallenge)
			return echo.NewHTTPError(http.StatusUnauthorized,
				`this endpoint needs the admin token: send "Authorization: Bearer <token>" with the token from ringd's --admin-token-file`)
		}
		// Compare digests, so the comparison takes the same time whatever
		// the length of the token sent (ConstantTimeCompare returns at once
		// on a length mismatch).
		sum := sha256.Sum256([]byte(got))
		match := 0
		for _, w := range *want {
			match |= subtle.ConstantTimeCompare(sum[:], w[:])
		}
		if match != 1 {
			return echo.NewHTTPError(http.StatusForbidden, "the admin token is wrong")
		}
		return next(c)
	}
}

// SetAdminTokens replaces the accepted admin tokens (empty strings are
// skipped; none at all: loopback only), for a reload of
// --admin-token-file; requests from then on need one of them.
func (s *Server) SetAdminTokens(tokens []string) {
	var sums [][32]byte
	for _, t := range tokens {
		if t != "" {
			sums = append(sums, sha256.Sum256([]byte(t)))
		}
	}
	if len(sums) == 0 {
		s.adminDigests.Store(nil)
		return
	}
	s.adminDigests.Store(&sums)
}

// onLoopback reports whether r came in on a loopback listener.
func onLoopback(r *http.Request) bool {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// bearerToken extracts the token of "Authorization: Bearer <token>". The
// scheme is case-insensitive (RFC 9110 section 11.1); the header must be
// given once and the token must not be empty.
func bearerToken(vals []string) (string, bool) {
	if len(vals) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return "", false
	}
	return token, true
}
