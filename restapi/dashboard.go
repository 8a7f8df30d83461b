package restapi

import (
	"embed"
	"io/fs"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"
)

// dashboardFiles is the dashboard: one page, its script and its style sheet,
// written by hand (no build step) and embedded in the binary.
//
//go:embed dashboard/index.html dashboard/app.js dashboard/style.css
var dashboardFiles embed.FS

// dashboardCSP lets the dashboard load only its own files and talk only to
// this API. It keeps a member name that reached the page from gossip from
// ever running as script.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// getDashboard serves GET /dashboard.
//
//	@Summary		Live dashboard
//	@Description	A page for people: the members around the ring with the leader marked, the partition map coloured by owner (releasing partitions striped, unassigned grey), this member's partitions and lease, and recent changes. It updates live through long-polls on GET /partitions and GET /partitions/mine?ack=false, so watching never acknowledges a release on the application's behalf.
//	@Tags			docs
//	@Produce		html
//	@Success		200	{string}	string	"the page"
//	@Router			/dashboard [get]
func (s *Server) getDashboard(c echo.Context) error {
	return s.serveDashboard(c, "index.html")
}

// getDashboardSlash serves GET /dashboard/.
//
//	@Summary		Redirect to the dashboard
//	@Tags			docs
//	@Success		301	"to /dashboard"
//	@Router			/dashboard/ [get]
func (s *Server) getDashboardSlash(c echo.Context) error {
	return c.Redirect(http.StatusMovedPermanently, "/dashboard")
}

// getDashboardAsset serves the dashboard's script and style sheet.
//
//	@Summary		Dashboard script and style sheet
//	@Description	app.js and style.css of the dashboard page.
//	@Tags			docs
//	@Produce		plain
//	@Param			file	path		string	true	"app.js or style.css"
//	@Success		200		{string}	string		"the file"
//	@Failure		404		{object}	api.Error	"no such file"
//	@Router			/dashboard/{file} [get]
func (s *Server) getDashboardAsset(c echo.Context) error {
	name := c.Param("file")
	if name == "" || name == "index.html" {
		// One address for the page.
		return c.Redirect(http.StatusMovedPermanently, "/dashboard")
	}
	return s.serveDashboard(c, name)
}

func (s *Server) serveDashboard(c echo.Context, name string) error {
	if !fs.ValidPath(name) {
		return noDashboardFile(name)
	}
	b, err := fs.ReadFile(dashboardFiles, "dashboard/"+name)
	if err != nil {
		return noDashboardFile(name)
	}
	c.Response().Header().Set(echo.HeaderContentSecurityPolicy, dashboardCSP)
	// Not cached: the page and its script must always match.
	return serveBytes(c, b, path.Ext(name), false)
}

func noDashboardFile(name string) error {
	return echo.NewHTTPError(http.StatusNotFound, "no dashboard file "+quote(name)+"; the dashboard is at /dashboard")
}
