package restapi

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
	swaggerfiles "github.com/swaggo/files/v2"

	"github.com/ringd/ringd/docs/openapi"
)

// swaggerPages are ringd's own Swagger UI page and its start-up script. They
// take the place of the upstream index.html and swagger-initializer.js, which
// load the Petstore example from the internet.
//
//go:embed swaggerui
var swaggerPages embed.FS

// contentTypes are the types of the files served from embedded copies, set
// here rather than looked up in the system's MIME tables so every machine
// serves the same.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".png":  "image/png",
	".map":  "application/json",
	".json": "application/json; charset=utf-8",
	".yaml": "application/yaml; charset=utf-8",
}

// getSwaggerBare serves GET /swagger.
//
//	@Summary		Redirect to the Swagger UI
//	@Tags			docs
//	@Success		301	"to /swagger/index.html"
//	@Router			/swagger [get]
func (s *Server) getSwaggerBare(c echo.Context) error {
	return c.Redirect(http.StatusMovedPermanently, "/swagger/index.html")
}

// getSwagger serves GET /swagger/*: the Swagger UI (from the swagger-ui
// copy embedded in github.com/swaggo/files/v2) and the OpenAPI document.
//
//	@Summary		Swagger UI and the OpenAPI document
//	@Description	/swagger/index.html is the Swagger UI for this API; /swagger/doc.json and /swagger/doc.yaml are the OpenAPI 2.0 document it shows (the files committed under docs/openapi). Everything is served from the binary; nothing is loaded from elsewhere.
//	@Tags			docs
//	@Produce		html
//	@Produce		json
//	@Param			file	path		string	true	"index.html, doc.json, doc.yaml or a Swagger UI asset"
//	@Success		200		{string}	string	"the file"
//	@Failure		404		{object}	api.Error	"no such file"
//	@Router			/swagger/{file} [get]
func (s *Server) getSwagger(c echo.Context) error {
	name := c.Param("*")
	switch name {
	case "", "index.html":
		return s.serveEmbedded(c, swaggerPages, "swaggerui/index.html", false)
	case "ringd-swagger.js":
		return s.serveEmbedded(c, swaggerPages, "swaggerui/ringd-swagger.js", false)
	case "doc.json":
		noStore(c)
		return c.Blob(http.StatusOK, contentTypes[".json"], openapi.JSON)
	case "doc.yaml":
		noStore(c)
		return c.Blob(http.StatusOK, contentTypes[".yaml"], openapi.YAML)
	case "swagger-initializer.js":
		// Upstream's start-up script, which points at the Petstore.
		return noSwaggerFile(name)
	}
	if !fs.ValidPath(name) || strings.Contains(name, "/") || contentTypes[path.Ext(name)] == "" {
		return noSwaggerFile(name)
	}
	return s.serveEmbedded(c, swaggerfiles.FS, name, true)
}

func noSwaggerFile(name string) error {
	return echo.NewHTTPError(http.StatusNotFound,
		"no Swagger UI file "+quote(name)+"; the UI is at /swagger/index.html and the document at /swagger/doc.json")
}

// serveEmbedded sends one file of fsys. Assets that never change within a
// build may be cached for an hour; pages are revalidated every time.
func (s *Server) serveEmbedded(c echo.Context, fsys fs.FS, name string, asset bool) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return noSwaggerFile(path.Base(name))
	}
	return serveBytes(c, b, path.Ext(name), asset)
}

// serveBytes sends an embedded file with its content type and caching.
func serveBytes(c echo.Context, b []byte, ext string, asset bool) error {
	h := c.Response().Header()
	if asset {
		h.Set(echo.HeaderCacheControl, "public, max-age=3600")
	} else {
		h.Set(echo.HeaderCacheControl, "no-cache")
	}
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	return c.Blob(http.StatusOK, contentTypes[ext], b)
}
