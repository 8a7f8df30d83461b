package clientlib_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// An application that imports clientlib builds nothing of the daemon: from a
// module outside this repository, `go list -deps` of a program importing it
// shows only the standard library and clientlib's own packages.
func TestImportIsLight(t *testing.T) {
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
		"go.mod": "module example.com/app\n\ngo 1.23\n\nrequire github.com/ringd/ringd/clientlib v0.0.0\n\nreplace github.com/ringd/ringd/clientlib => " + here + "\n",
		"main.go": `package main

import (
	"context"

	"github.com/ringd/ringd/clientlib"
)

func main() {
	c, _ := clientlib.New("127.0.0.1:8080")
	_ = c.Run(context.Background(), clientlib.WorkerFunc(func(ctx context.Context, p clientlib.Partition) error { return nil }))
}
`,
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
}
