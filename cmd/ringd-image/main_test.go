package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// The binaries the tests put in images, built once by TestMain: a static one
// (CGO_ENABLED=0) and a dynamically linked one (cgo, through os/user).
var staticBin, dynamicBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ringd-image-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		var err error
		if staticBin, err = buildTestBinary(dir, "static", "0",
			"package main\n\nfunc main() { println(\"hello from the image\") }\n"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// With cgo on, os/user looks users up through the C library, so the
		// binary needs the dynamic loader and libc.
		if dynamicBin, err = buildTestBinary(dir, "dynamic", "1",
			"package main\n\nimport \"os/user\"\n\nfunc main() { u, _ := user.Current(); println(u != nil) }\n"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// buildTestBinary builds a one-file Linux program for the machine's
// architecture with the given CGO_ENABLED and returns its path.
func buildTestBinary(dir, name, cgo, src string) (string, error) {
	mod := filepath.Join(dir, name+"-src")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/"+name+"\n\ngo 1.26\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(mod, "main.go"), []byte(src), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo, "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the %s test binary (CGO_ENABLED=%s): %v\n%s", name, cgo, err, b)
	}
	return out, nil
}

// runBuilder runs the command in-process with args and SOURCE_DATE_EPOCH
// (unset when epoch is "").
func runBuilder(t *testing.T, epoch string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	env := func(k string) string {
		if k == "SOURCE_DATE_EPOCH" {
			return epoch
		}
		return ""
	}
	var out, errOut bytes.Buffer
	code = run(args, env, &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustBuild runs the builder and fails the test unless it succeeds.
func mustBuild(t *testing.T, epoch string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runBuilder(t, epoch, args...)
	if code != exitOK {
		t.Fatalf("ringd-image %s: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr %q on success", stderr)
	}
	return stdout
}

// file is one entry of the image's layer.
type file struct {
	hdr  *tar.Header
	data []byte
}

// layerFiles reads the image's only layer.
func layerFiles(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = file{hdr: hdr, data: data}
	}
	return files
}

func TestImage(t *testing.T) {
	t.Parallel()
	const epoch = "1767225600" // 2026-01-01T00:00:00Z
	created := time.Unix(1767225600, 0).UTC()
	out := filepath.Join(t.TempDir(), "ringd-image.tar")
	stdout := mustBuild(t, epoch, "--binary", staticBin, "--name", "ringd", "--version", "v1.2.3", "--out", out)

	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatalf("reading the tarball back: %v", err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("the image in the tarball does not validate: %v", err)
	}
	mf, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(out) })
	if err != nil {
		t.Fatal(err)
	}
	if len(mf) != 1 || !slices.Equal(mf[0].RepoTags, []string{"ghcr.io/ringd/ringd:v1.2.3"}) {
		t.Errorf("tarball manifest.json %+v, want one image tagged ghcr.io/ringd/ringd:v1.2.3", mf)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s (the binary's)", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if !cf.Created.Time.Equal(created) {
		t.Errorf("created %v, want SOURCE_DATE_EPOCH %v", cf.Created.Time, created)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("User %q, want 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/ringd"}) {
		t.Errorf("Entrypoint %q, want [/usr/local/bin/ringd]", c.Entrypoint)
	}
	if len(c.Cmd) != 0 {
		t.Errorf("Cmd %q, want none", c.Cmd)
	}
	if c.WorkingDir != "/" {
		t.Errorf("WorkingDir %q, want /", c.WorkingDir)
	}
	if len(c.Env) != 0 {
		t.Errorf("Env %q, want none", c.Env)
	}
	var ports []string
	for p := range c.ExposedPorts {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	if want := []string{"7070/tcp", "7946/tcp", "7946/udp", "9090/tcp"}; !slices.Equal(ports, want) {
		t.Errorf("ExposedPorts %q, want %q", ports, want)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":   "ringd",
		"org.opencontainers.image.version": "v1.2.3",
		"org.opencontainers.image.source":  "https://github.com/ringd/ringd",
	}
	for k, v := range wantLabels {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !strings.Contains(c.Labels["org.opencontainers.image.description"], "partition-ownership sidecar") {
		t.Errorf("description label %q", c.Labels["org.opencontainers.image.description"])
	}
	if len(cf.History) != 1 || !cf.History[0].Created.Time.Equal(created) {
		t.Errorf("history %+v, want one entry created at SOURCE_DATE_EPOCH", cf.History)
	}

	files := layerFiles(t, img)
	want, err := os.ReadFile(staticBin)
	if err != nil {
		t.Fatal(err)
	}
	bin, ok := files["usr/local/bin/ringd"]
	switch {
	case !ok:
		t.Errorf("no usr/local/bin/ringd in the layer; it has %v", keys(files))
	case bin.hdr.Typeflag != tar.TypeReg || bin.hdr.Mode&0o7777 != 0o755:
		t.Errorf("usr/local/bin/ringd: type %c mode %o, want a regular file with mode 755", bin.hdr.Typeflag, bin.hdr.Mode)
	case bin.hdr.Uid != 0 || bin.hdr.Gid != 0:
		t.Errorf("usr/local/bin/ringd owned by %d:%d, want 0:0 (the process must not be able to replace it)", bin.hdr.Uid, bin.hdr.Gid)
	case !bytes.Equal(bin.data, want):
		t.Errorf("usr/local/bin/ringd holds %d bytes that differ from the --binary's %d", len(bin.data), len(want))
	}
	passwd := string(files["etc/passwd"].data)
	if !strings.Contains(passwd, "\nnonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd does not name nonroot as 65532:65532:\n%s", passwd)
	}
	if group := string(files["etc/group"].data); !strings.Contains(group, "\nnonroot:x:65532:") {
		t.Errorf("/etc/group does not name nonroot as 65532:\n%s", group)
	}
	for _, name := range []string{"etc/passwd", "etc/group"} {
		if h := files[name].hdr; h == nil || h.Uid != 0 || h.Mode&0o7777 != 0o644 {
			t.Errorf("%s: %+v, want mode 644 owned by root", name, h)
		}
	}
	if d, ok := files["var/lib/ringd/"]; !ok || d.hdr.Typeflag != tar.TypeDir || d.hdr.Uid != 65532 || d.hdr.Gid != 65532 || d.hdr.Mode&0o200 == 0 {
		t.Errorf("var/lib/ringd/: %+v, want a directory that 65532:65532 owns and can write", d.hdr)
	}
	if d, ok := files["tmp/"]; !ok || d.hdr.Mode&0o7777 != 0o1777 {
		t.Errorf("tmp/: %+v, want a directory with mode 1777", d.hdr)
	}
	for name, f := range files {
		if !f.hdr.ModTime.Equal(created) {
			t.Errorf("%s modified at %v, want SOURCE_DATE_EPOCH %v", name, f.hdr.ModTime, created)
		}
		if f.hdr.Uid != 0 && f.hdr.Uid != 65532 {
			t.Errorf("%s owned by uid %d", name, f.hdr.Uid)
		}
	}

	// The image as built, before the docker-save tarball drops the manifest,
	// has OCI media types throughout, and the same config as the tarball.
	opts, err := parseFlags([]string{"--binary", staticBin, "--version", "v1.2.3"}, func(string) string { return epoch }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := buildImage(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(mem); err != nil {
		t.Errorf("the built image does not validate: %v", err)
	}
	m, err := mem.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("media types: manifest %s, config %s, layers %+v; want OCI ones", m.MediaType, m.Config.MediaType, m.Layers)
	}
	memID, _ := mem.ConfigName()
	tarID, _ := img.ConfigName()
	if memID != tarID {
		t.Errorf("config digest %s in the tarball, %s as built", tarID, memID)
	}
	digest, _ := mem.Digest()
	for _, line := range []string{out, "ghcr.io/ringd/ringd:v1.2.3", "linux/" + runtime.GOARCH, tarID.String(), digest.String()} {
		if !strings.Contains(stdout, line) {
			t.Errorf("output lacks %q:\n%s", line, stdout)
		}
	}
}

func TestWorkerImage(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "w.tar")
	mustBuild(t, "", "--binary", staticBin, "--name", "ringd-worker", "--version", "v0.1.0", "--out", out)
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/ringd-worker"}) {
		t.Errorf("Entrypoint %q", cf.Config.Entrypoint)
	}
	if len(cf.Config.ExposedPorts) != 0 {
		t.Errorf("ExposedPorts %v, want none for ringd-worker", cf.Config.ExposedPorts)
	}
	if got := cf.Config.Labels["org.opencontainers.image.title"]; got != "ringd-worker" {
		t.Errorf("title label %q", got)
	}
	if !cf.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("created %v without SOURCE_DATE_EPOCH, want the epoch", cf.Created.Time)
	}
	mf, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(out) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mf[0].RepoTags, []string{"ghcr.io/ringd/ringd-worker:v0.1.0"}) {
		t.Errorf("RepoTags %q", mf[0].RepoTags)
	}
	if _, ok := layerFiles(t, img)["usr/local/bin/ringd-worker"]; !ok {
		t.Error("no usr/local/bin/ringd-worker in the layer")
	}
}

func TestFlagsOverride(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "x.tar")
	mustBuild(t, "", "--binary", staticBin, "--name", "ringd", "--tag", "registry.example:5000/team/ringd:test",
		"--port", "8080/tcp", "--port", "9000/udp,9001/tcp", "--platform", "linux/"+runtime.GOARCH, "--description", "mine", "--out", out)
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for p := range cf.Config.ExposedPorts {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	if want := []string{"8080/tcp", "9000/udp", "9001/tcp"}; !slices.Equal(ports, want) {
		t.Errorf("ExposedPorts %q, want %q", ports, want)
	}
	if got := cf.Config.Labels["org.opencontainers.image.description"]; got != "mine" {
		t.Errorf("description %q", got)
	}
	mf, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(out) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mf[0].RepoTags, []string{"registry.example:5000/team/ringd:test"}) {
		t.Errorf("RepoTags %q", mf[0].RepoTags)
	}
}

// digestLines is what the builder prints about the image: the two digests.
func digestLines(stdout string) string {
	var keep []string
	for line := range strings.Lines(stdout) {
		if strings.Contains(line, "digest") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

func TestReproducible(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar"), filepath.Join(dir, "c.tar")
	args := []string{"--binary", staticBin, "--version", "v1.0.0"}
	outA := mustBuild(t, "1700000000", append(args, "--out", a)...)
	outB := mustBuild(t, "1700000000", append(args, "--out", b)...)
	outC := mustBuild(t, "1700000001", append(args, "--out", c)...)

	if da, db := digestLines(outA), digestLines(outB); da == "" || da != db {
		t.Errorf("two builds of the same inputs printed different digests:\n%s\n%s", outA, outB)
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if len(ba) == 0 || !bytes.Equal(ba, bb) {
		t.Errorf("two builds of the same inputs wrote different tarballs (%d and %d bytes)", len(ba), len(bb))
	}
	digest := func(p string) v1.Hash {
		img, err := tarball.ImageFromPath(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if digest(a) != digest(b) {
		t.Errorf("the tarballs' images differ: %s and %s", digest(a), digest(b))
	}
	// SOURCE_DATE_EPOCH is what makes the image change over time.
	if digestLines(outC) == digestLines(outA) || digest(c) == digest(a) {
		t.Errorf("a build with another SOURCE_DATE_EPOCH gave the same image:\n%s\n%s", outA, outC)
	}
}

func TestDynamicBinaryRefused(t *testing.T) {
	t.Parallel()
	// Make sure the test binary is what it should be, or this test proves
	// nothing.
	f, err := elf.Open(dynamicBin)
	if err != nil {
		t.Fatal(err)
	}
	hasInterp := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	f.Close()
	if !hasInterp {
		t.Fatalf("%s was built with cgo but has no PT_INTERP: the test cannot check dynamic binaries", dynamicBin)
	}

	dir := t.TempDir()
	code, stdout, stderr := runBuilder(t, "", "--binary", dynamicBin, "--out", filepath.Join(dir, "x.tar"))
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, "dynamically linked") || !strings.Contains(stderr, "CGO_ENABLED=0") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one line saying it is dynamically linked and to build with CGO_ENABLED=0", stderr)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a refused build left %v in the output directory", left)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	out := filepath.Join(dir, "out.tar")
	tests := []struct {
		name string
		args []string
		env  string
		code int
		want string
	}{
		{"no --binary", []string{"--out", out}, "", exitUsage, "--binary is required"},
		{"unknown flag", []string{"--binray", staticBin}, "", exitUsage, "flag provided but not defined"},
		{"argument", []string{"--binary", staticBin, "extra"}, "", exitUsage, "unexpected arguments: extra"},
		{"bad name", []string{"--binary", staticBin, "--name", "bin/ringd"}, "", exitUsage, "--name"},
		{"bad port", []string{"--binary", staticBin, "--port", "7946"}, "", exitUsage, "PORT/tcp"},
		{"port range", []string{"--binary", staticBin, "--port", "70000/tcp"}, "", exitUsage, "1 to 65535"},
		{"bad version tag", []string{"--binary", staticBin, "--version", "v1+meta"}, "", exitUsage, "--version"},
		{"bad tag", []string{"--binary", staticBin, "--tag", "UPPER/case:1"}, "", exitUsage, "--tag"},
		{"bad epoch", []string{"--binary", staticBin, "--out", out}, "yesterday", exitUsage, "SOURCE_DATE_EPOCH"},
		{"bad platform", []string{"--binary", staticBin, "--platform", "amd64", "--out", out}, "", exitUsage, "--platform"},
		{"windows platform", []string{"--binary", staticBin, "--platform", "windows/" + runtime.GOARCH, "--out", out}, "", exitUsage, "linux"},
		{"missing binary", []string{"--binary", filepath.Join(dir, "nope"), "--out", out}, "", exitFailure, "no such file"},
		{"not ELF", []string{"--binary", text, "--out", out}, "", exitFailure, "not an ELF executable"},
		{"wrong architecture", []string{"--binary", staticBin, "--platform", "linux/" + other, "--out", out}, "", exitFailure, "built for " + runtime.GOARCH},
		{"out in a missing directory", []string{"--binary", staticBin, "--out", filepath.Join(dir, "no", "such", "dir", "x.tar")}, "", exitFailure, "cannot write --out"},
		{"out is a directory", []string{"--binary", staticBin, "--out", dir}, "", exitFailure, "is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runBuilder(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			if !strings.HasPrefix(stderr, "ringd-image: ") || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want one line with %q", stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed builds left %s behind (%v)", out, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "script.sh" {
			t.Errorf("failed builds left %s in the directory", e.Name())
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := runBuilder(t, "", "--help")
	if code != exitOK || !strings.Contains(stdout, "usage: ringd-image --binary PATH") || !strings.Contains(stdout, "-platform") || stderr != "" {
		t.Errorf("--help: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
