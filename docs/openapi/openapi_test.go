package openapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// generateLine returns the arguments of the go:generate line of openapi.go,
// so the check below runs exactly what `go generate` runs.
func generateLine(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("openapi.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "//go:generate "); ok {
			return strings.Fields(line)
		}
	}
	t.Fatal("openapi.go has no go:generate line")
	return nil
}

// TestGeneratedDocsUpToDate regenerates the OpenAPI document into a temporary
// directory and fails when it differs from the committed swagger.json and
// swagger.yaml: an annotation or an api type changed without `go generate
// ./docs/openapi/` (make swagger).
func TestGeneratedDocsUpToDate(t *testing.T) {
	args := generateLine(t)
	out := t.TempDir()
	i := slices.Index(args, "--output")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("the go:generate line %q has no --output", args)
	}
	args[i+1] = out
	cmd := exec.Command(args[0], args[1:]...)
	// go generate runs in the package's directory; so does this test.
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, output)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"swagger.json", "swagger.yaml"}; !slices.Equal(names, want) {
		t.Errorf("swag wrote %q, want %q", names, want)
	}
	for _, name := range []string{"swagger.json", "swagger.yaml"} {
		fresh, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("docs/openapi/%s is out of date: run `make swagger` (go generate ./docs/openapi/) and commit the result; first difference:\n%s",
				name, firstDiff(committed, fresh))
		}
	}
}

// firstDiff shows the first line where two files differ.
func firstDiff(committed, fresh []byte) string {
	a := strings.Split(string(committed), "\n")
	b := strings.Split(string(fresh), "\n")
	for i := 0; i < max(len(a), len(b)); i++ {
		var la, lb string
		if i < len(a) {
			la = a[i]
		}
		if i < len(b) {
			lb = b[i]
		}
		if la != lb {
			return "line " + strconv.Itoa(i+1) + ":\n  committed:   " + la + "\n  regenerated: " + lb
		}
	}
	return "(none found line by line)"
}

// TestEmbeddedDocument checks that what the server serves is a Swagger 2.0
// document with paths.
func TestEmbeddedDocument(t *testing.T) {
	var doc struct {
		Swagger string                     `json:"swagger"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(JSON, &doc); err != nil {
		t.Fatalf("swagger.json: %v", err)
	}
	if doc.Swagger != "2.0" || len(doc.Paths) == 0 {
		t.Fatalf("swagger.json: version %q with %d paths", doc.Swagger, len(doc.Paths))
	}
	if !bytes.Contains(YAML, []byte("swagger: \"2.0\"")) {
		t.Fatal("swagger.yaml is not the YAML form of the document")
	}
}
