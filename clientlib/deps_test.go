package clientlib_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The worker of the repository's README, from a module outside this
// repository: it builds, and `go list -deps` shows that it builds nothing
// but the standard library and clientlib's own packages (none of the
// daemon's memberlist, echo, Prometheus, chromedp, swag).
func TestReadmeWorkerBuildsAndImportIsLight(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.23\n\nrequire github.com/ringd/ringd/clientlib v0.0.0\n\nreplace github.com/ringd/ringd/clientlib => " + here + "\n",
		"main.go": readmeWorker(t),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg != "example.com/app" && !strings.HasPrefix(pkg, "github.com/ringd/ringd/clientlib") {
			t.Errorf("importing clientlib builds %s", pkg)
		}
	}
	if !strings.Contains(string(out), "github.com/ringd/ringd/clientlib/api") {
		t.Errorf("go list shows no clientlib packages; is the test module wrong?\n%s", out)
	}
	build := exec.Command(goTool, "build", "-o", os.DevNull, ".")
	build.Dir, build.Env = app, cmd.Env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README's worker does not build: %v\n%s", err, out)
	}
}

// readmeWorker is the Go program under "## From a Go application" in the
// repository's README.
func readmeWorker(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## From a Go application")
	if !ok {
		t.Fatal(`README.md has no "## From a Go application" section`)
	}
	_, code, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal("that section has no ```go block")
	}
	code, _, ok = strings.Cut(code, "```")
	if !ok || !strings.Contains(code, "clientlib.New(") {
		t.Fatal("the README's go block is not a worker")
	}
	return code
}
