package restapi

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/docs/openapi"
)

func TestSwaggerUI(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFullFake(4, "a"), Options{})
	c := newClient(t)
	for _, tc := range []struct {
		path, contentType, contains string
		status                      int
	}{
		{"/swagger/index.html", "text/html", "ringd-swagger.js", http.StatusOK},
		{"/swagger/", "text/html", "swagger-ui-bundle.js", http.StatusOK},
		{"/swagger/ringd-swagger.js", "text/javascript", `url: "doc.json"`, http.StatusOK},
		{"/swagger/swagger-ui-bundle.js", "text/javascript", "SwaggerUIBundle", http.StatusOK},
		{"/swagger/swagger-ui.css", "text/css", ".swagger-ui", http.StatusOK},
		{"/swagger/favicon-32x32.png", "image/png", "PNG", http.StatusOK},
		{"/swagger/doc.json", "application/json", `"swagger": "2.0"`, http.StatusOK},
		{"/swagger/doc.yaml", "application/yaml", "swagger: \"2.0\"", http.StatusOK},
		// Upstream's start-up script loads the Petstore from the internet.
		{"/swagger/swagger-initializer.js", "application/json", "no Swagger UI file", http.StatusNotFound},
		{"/swagger/nope.js", "application/json", "no Swagger UI file", http.StatusNotFound},
		{"/swagger/../server.go", "application/json", "", http.StatusNotFound},
		{"/swagger/%2e%2e/server.go", "application/json", "", http.StatusNotFound},
		{"/swagger/a/b.js", "application/json", "", http.StatusNotFound},
		{"/swagger/README", "application/json", "", http.StatusNotFound},
	} {
		r := get(t, c, ts.URL+tc.path)
		if r.status != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, r.status, tc.status)
			continue
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.contentType)
		}
		if !bytes.Contains(r.body, []byte(tc.contains)) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		if tc.status != http.StatusOK {
			decodeError(t, r)
		}
	}
	r := get(t, c, ts.URL+"/swagger/doc.json")
	if !bytes.Equal(r.body, openapi.JSON) {
		t.Fatal("/swagger/doc.json is not the committed docs/openapi/swagger.json")
	}
}

func TestSwaggerPagesLoadNothingFromElsewhere(t *testing.T) {
	for _, name := range []string{"swaggerui/index.html", "swaggerui/ringd-swagger.js"} {
		b, err := fs.ReadFile(swaggerPages, name)
		if err != nil {
			t.Fatal(err)
		}
		if m := externalURL(b); m != "" {
			t.Errorf("%s refers to %s", name, m)
		}
	}
}

// externalURL returns the first absolute URL in b other than XML namespaces.
func externalURL(b []byte) string {
	for _, m := range regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"' )]*`).FindAll(b, -1) {
		if !bytes.HasPrefix(m, []byte("http://www.w3.org/")) {
			return string(m)
		}
	}
	return ""
}

// TestSpecCoversEveryRoute checks the committed document against the routes a
// full Source gets, both ways: every route is documented and every documented
// path is served.
func TestSpecCoversEveryRoute(t *testing.T) {
	s := New(newFullFake(4, "a"), Options{MetricsHandler: http.NotFoundHandler()})
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	served := map[string]bool{}
	for _, r := range s.e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		path := param.ReplaceAllString(r.Path, "{$1}")
		path = strings.Replace(path, "*", "{file}", 1)
		served[r.Method+" "+path] = true
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("%s is served but not in docs/openapi/swagger.json: add swag annotations and regenerate", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("%s is documented but not served", k)
		}
	}
}

func TestDashboardFiles(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFullFake(4, "a"), Options{})
	c := newClient(t)
	for _, tc := range []struct {
		path, contentType, contains string
		status                      int
	}{
		{"/dashboard", "text/html", `src="dashboard/app.js"`, http.StatusOK},
		{"/dashboard/app.js", "text/javascript", "ack=false", http.StatusOK},
		{"/dashboard/style.css", "text/css", ".cell", http.StatusOK},
		{"/dashboard/index.html", "text/html", `src="dashboard/app.js"`, http.StatusOK}, // redirected
		{"/dashboard/nope.js", "application/json", "no dashboard file", http.StatusNotFound},
		{"/dashboard/..", "application/json", "", http.StatusNotFound},
		{"/dashboard/", "text/html", `src="dashboard/app.js"`, http.StatusOK}, // redirected
	} {
		r := get(t, c, ts.URL+tc.path)
		if r.status != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, r.status, tc.status)
			continue
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.contentType)
		}
		if !bytes.Contains(r.body, []byte(tc.contains)) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		if tc.status == http.StatusOK && !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: no CSP", tc.path)
		}
	}
	for _, name := range []string{"dashboard/index.html", "dashboard/app.js", "dashboard/style.css"} {
		b, err := fs.ReadFile(dashboardFiles, name)
		if err != nil {
			t.Fatal(err)
		}
		if m := externalURL(b); m != "" {
			t.Errorf("%s refers to %s: the dashboard must load nothing from elsewhere", name, m)
		}
	}
}

// TestRedirects: the addresses people type lead to the pages.
func TestRedirects(t *testing.T) {
	_, ts, _ := newHTTPTest(t, newFullFake(8, "ringd-0"), Options{})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{
		"/swagger":              "/swagger/index.html",
		"/dashboard/":           "/dashboard",
		"/dashboard/index.html": "/dashboard",
	} {
		r := get(t, c, ts.URL+path)
		if r.status != http.StatusMovedPermanently || r.header.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want 301 to %q", path, r.status, r.header.Get("Location"), want)
		}
	}
}

// TestSpecTypesMatchTheGoTypes walks every JSON type of the API and checks
// the OpenAPI document says what a generated client needs: 64-bit integers
// (tokens, terms and indexes do not fit in 32 bits) and which fields are
// always present.
func TestSpecTypesMatchTheGoTypes(t *testing.T) {
	var doc struct {
		Definitions map[string]struct {
			Required   []string                  `json:"required"`
			Properties map[string]map[string]any `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{api.Partition{}, api.Mine{}, api.Member{}, api.Cluster{}, api.Error{}, api.Health{},
		api.Entry{}, api.Table{}, api.Locate{}, api.Leader{}, api.Members{}, api.Version{}, api.Ready{},
		api.TransferRequest{}, api.Result{}, api.Change{}, api.Changes{}} {
		typ := reflect.TypeOf(v)
		name := "api." + typ.Name()
		def, ok := doc.Definitions[name]
		if !ok {
			t.Errorf("%s is not in the document", name)
			continue
		}
		for _, f := range reflect.VisibleFields(typ) {
			tag, ok := f.Tag.Lookup("json")
			if !ok || f.Anonymous {
				continue
			}
			field, opts, _ := strings.Cut(tag, ",")
			prop := def.Properties[field]
			if prop == nil {
				t.Errorf("%s.%s is not in the document", name, field)
				continue
			}
			if k := f.Type.Kind(); (k == reflect.Uint64 || k == reflect.Int64) && prop["format"] != "int64" {
				t.Errorf("%s.%s is a 64-bit integer, documented with format %v", name, field, prop["format"])
			}
			if required := !strings.Contains(opts, "omitempty"); required != slices.Contains(def.Required, field) {
				t.Errorf("%s.%s: always present %v, but required in the document %v", name, field, required, !required)
			}
		}
	}
}
