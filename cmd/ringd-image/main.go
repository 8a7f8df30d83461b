// Command ringd-image builds the container image of ringd (or of another
// static Linux binary of this repository, such as ringd-worker) without a
// Docker engine, and writes it as a tarball that `docker load`, `podman load`
// and `crane push` accept.
//
//	ringd-image --binary bin/image/ringd --name ringd --version v1.2.3 --out ringd-image.tar
//
// The image is built from scratch: one layer holds the binary at
// /usr/local/bin/NAME (mode 0755, owned by root), an /etc/passwd and
// /etc/group that name the user and group nonroot (65532), an empty data
// directory /var/lib/ringd owned by 65532 and a /tmp. The image runs as
// 65532:65532 with the binary as its entrypoint, and carries the OCI labels
// title, version, source and description. For ringd it also lists the ports
// of the daemon's defaults: 7946/tcp and 7946/udp (gossip) and 7070/tcp (the
// HTTP API, which also serves /metrics).
//
// The build is reproducible: the same binary and flags give the same image,
// byte for byte. Every time in the image (the config's created time, the
// history and the files' modification times) is SOURCE_DATE_EPOCH when that
// is set, and 1970-01-01T00:00:00Z otherwise.
//
// It lives in a module of its own so that the daemon's module does not depend
// on go-containerregistry. Exit status: 0 when the tarball is written, 2 for
// bad flags, 1 when it cannot build or write the image.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// The identity the image runs as, the same as distroless's nonroot.
const (
	runUID   = 65532
	runGID   = 65532
	runUser  = "nonroot"
	binDir   = "usr/local/bin"
	dataDir  = "var/lib/ringd"
	source   = "https://github.com/ringd/ringd"
	registry = "ghcr.io/ringd"
)

// Label keys from the OCI image spec's annotations.
const (
	labelTitle       = "org.opencontainers.image.title"
	labelVersion     = "org.opencontainers.image.version"
	labelSource      = "org.opencontainers.image.source"
	labelDescription = "org.opencontainers.image.description"
)

// defaultPorts are the ports each command listens on with its defaults.
// ringd: memberlist gossip on 7946 (TCP and UDP), the HTTP API on 7070 and
// the ops listener (probes and /metrics, --ops-addr, as the Helm chart sets
// it) on 9090. ringd-worker listens on nothing.
var defaultPorts = map[string][]string{
	"ringd": {"7946/tcp", "7946/udp", "7070/tcp", "9090/tcp"},
}

// descriptions are the default org.opencontainers.image.description labels.
var descriptions = map[string]string{
	"ringd":        "ringd, a partition-ownership sidecar: it shares partitions out among the members of a cluster and tells the application beside it which ones it owns.",
	"ringd-worker": "ringd-worker, an example application on ringd's client library that works on the partitions its ringd owns.",
}

// options are the inputs of one image build.
type options struct {
	binary      string
	name        string
	version     string
	out         string
	tag         string
	platform    string
	description string
	ports       []string
	// created stamps every time in the image.
	created time.Time
}

// usageError is a mistake in the flags: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main with its inputs and outputs passed in; it returns the exit
// status.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		err = writeImage(opts, stdout)
	}
	if err == nil {
		return exitOK
	}
	// One line, whatever the error holds.
	fmt.Fprintf(stderr, "ringd-image: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// listFlag collects a repeatable, comma-separated flag.
type listFlag struct {
	values *[]string
	set    bool
}

func (l *listFlag) String() string {
	if l.values == nil {
		return ""
	}
	return strings.Join(*l.values, ",")
}

func (l *listFlag) Set(s string) error {
	l.set = true
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.values = append(*l.values, v)
		}
	}
	return nil
}

// validName is what --name accepts: a file name that is also a valid
// repository path component.
var validName = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// validPort is what --port accepts: PORT/tcp or PORT/udp.
var validPort = regexp.MustCompile(`^([0-9]{1,5})/(tcp|udp)$`)

// parseFlags reads the flags and SOURCE_DATE_EPOCH. For --help it prints the
// usage to helpOut and returns flag.ErrHelp; its other errors are
// usageErrors, printed by the caller.
func parseFlags(args []string, getenv func(string) string, helpOut io.Writer) (options, error) {
	var opts options
	fs := flag.NewFlagSet("ringd-image", flag.ContinueOnError)
	// The flag package would print each error with the whole usage; run
	// prints one line instead, and the usage only for --help.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&opts.binary, "binary", "", "the static Linux binary to put in the image (required), e.g. built with CGO_ENABLED=0")
	fs.StringVar(&opts.name, "name", "ringd", "the binary's name in the image: /usr/local/bin/NAME, also the image's title and entrypoint")
	fs.StringVar(&opts.version, "version", "dev", "the version stamped in the org.opencontainers.image.version label and the default --tag")
	fs.StringVar(&opts.out, "out", "", "the tarball to write (default NAME-image.tar)")
	fs.StringVar(&opts.tag, "tag", "", "the image reference recorded in the tarball (default "+registry+"/NAME:VERSION)")
	fs.StringVar(&opts.platform, "platform", "", "OS/ARCH[/VARIANT] of the image, e.g. linux/amd64 (default: linux and the binary's architecture)")
	fs.StringVar(&opts.description, "description", "", "the org.opencontainers.image.description label (default: one for ringd and ringd-worker, none otherwise)")
	ports := &listFlag{values: &opts.ports}
	fs.Var(ports, "port", "PORT/tcp or PORT/udp to list as exposed, repeatable or comma-separated (default for ringd: 7946/tcp,7946/udp,7070/tcp; none for other names)")
	printUsage := func() {
		fs.SetOutput(helpOut)
		fmt.Fprintf(helpOut, "usage: ringd-image --binary PATH [--name ringd] [--version V] [--out FILE.tar] [--tag REF] [--platform linux/amd64]\n\n"+
			"Builds a container image from scratch around one static Linux binary and writes it as a tarball for docker load, podman load or crane.\n"+
			"Every time in the image is SOURCE_DATE_EPOCH when set, else 1970-01-01, so the same inputs give the same image.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage()
			return opts, err
		}
		return opts, usageError{firstLine(err.Error())}
	}
	if fs.NArg() > 0 {
		return opts, usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if opts.binary == "" {
		return opts, usagef("--binary is required: the static Linux binary to put in the image")
	}
	if !validName.MatchString(opts.name) {
		return opts, usagef("--name %q: want lower-case letters and digits separated by '.', '_' or '-' (it is a file name and part of the image name)", opts.name)
	}
	if opts.version == "" {
		return opts, usagef("--version must not be empty")
	}
	if opts.out == "" {
		opts.out = opts.name + "-image.tar"
	}
	if opts.tag == "" {
		opts.tag = registry + "/" + opts.name + ":" + opts.version
		if _, err := name.NewTag(opts.tag, name.StrictValidation); err != nil {
			return opts, usagef("--version %q does not make a valid image tag (%s): a tag has at most 128 letters, digits, '_', '.' and '-', or pass --tag", opts.version, opts.tag)
		}
	}
	if _, err := name.NewTag(opts.tag, name.StrictValidation); err != nil {
		return opts, usagef("--tag %q is not a valid image reference REPOSITORY:TAG: %v", opts.tag, err)
	}
	if !ports.set {
		opts.ports = slices.Clone(defaultPorts[opts.name])
	}
	for _, p := range opts.ports {
		m := validPort.FindStringSubmatch(p)
		if m == nil {
			return opts, usagef("--port %q: want PORT/tcp or PORT/udp", p)
		}
		if n, _ := strconv.Atoi(m[1]); n < 1 || n > 65535 {
			return opts, usagef("--port %q: the port must be 1 to 65535", p)
		}
	}
	if opts.description == "" {
		opts.description = descriptions[opts.name]
	}
	created, err := createdTime(getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return opts, err
	}
	opts.created = created
	return opts, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// createdTime is the time stamped in the image: SOURCE_DATE_EPOCH (seconds
// since 1970, https://reproducible-builds.org/specs/source-date-epoch/) when
// set, else the epoch itself.
func createdTime(epoch string) (time.Time, error) {
	if epoch == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || secs < 0 || secs > 253402300799 { // at most 9999-12-31
		return time.Time{}, usagef("SOURCE_DATE_EPOCH=%q: want whole seconds since 1970-01-01 UTC", epoch)
	}
	return time.Unix(secs, 0).UTC(), nil
}

// writeImage builds the image and writes the tarball, then prints what it
// wrote. The tarball goes to a temporary file beside --out, renamed once
// complete, so that a failed build never leaves a partial tarball under the
// final name; that file is created first, so an unwritable --out fails before
// the build.
func writeImage(opts options, stdout io.Writer) error {
	ref, err := name.NewTag(opts.tag, name.StrictValidation)
	if err != nil {
		return usagef("--tag %q: %v", opts.tag, err)
	}
	if fi, err := os.Stat(opts.out); err == nil && fi.IsDir() {
		return fmt.Errorf("cannot write --out %s: it is a directory", opts.out)
	}
	tmp, err := os.CreateTemp(filepath.Dir(opts.out), "."+filepath.Base(opts.out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write --out %s: %w", opts.out, unwrapPathError(err))
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	img, err := buildImage(opts)
	if err != nil {
		return err
	}
	if err := tarball.Write(ref, img, tmp); err != nil {
		return fmt.Errorf("writing %s: %w", opts.out, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", opts.out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", opts.out, err)
	}
	if err := os.Rename(tmp.Name(), opts.out); err != nil {
		return fmt.Errorf("cannot write --out %s: %w", opts.out, unwrapPathError(err))
	}
	renamed = true

	fi, err := os.Stat(opts.out)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	id, err := img.ConfigName()
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes): %s for %s\n", opts.out, fi.Size(), ref.String(), cf.Platform().String())
	// The tarball is in docker save's format, which keeps the config and
	// the layers but no manifest: the config digest is the image ID that
	// docker load and podman load show; the manifest digest is that of the
	// OCI manifest built here, which a loader or a push from the tarball
	// writes anew (with its own media types, so not necessarily this one).
	fmt.Fprintf(stdout, "  image ID (config digest): %s\n", id)
	fmt.Fprintf(stdout, "  OCI manifest digest:      %s (as built; the tarball keeps no manifest)\n", digest)
	return nil
}

// unwrapPathError drops the temporary file's name from an error about it,
// leaving the reason ("permission denied", "no such file or directory").
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// buildImage builds the image in memory.
func buildImage(opts options) (v1.Image, error) {
	bin, err := os.ReadFile(opts.binary)
	if err != nil {
		return nil, fmt.Errorf("--binary: %w", err)
	}
	arch, err := checkStaticELF(opts.binary)
	if err != nil {
		return nil, err
	}
	platform := v1.Platform{OS: "linux", Architecture: arch}
	if opts.platform != "" {
		p, err := v1.ParsePlatform(opts.platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, usagef("--platform %q: want OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64", opts.platform)
		}
		if p.OS != "linux" {
			return nil, usagef("--platform %q: the binary is a Linux ELF binary; the OS must be linux", opts.platform)
		}
		if arch != "" && p.Architecture != arch {
			return nil, fmt.Errorf("--binary %s is built for %s but --platform is %s: build it with GOARCH=%s or pass --platform linux/%s", opts.binary, arch, opts.platform, p.Architecture, arch)
		}
		platform = *p
	}
	if platform.Architecture == "" {
		return nil, usagef("cannot tell the architecture of --binary %s: pass --platform linux/ARCH", opts.binary)
	}

	layerTar, err := rootfs(opts.name, bin, opts.created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.DefaultCompression), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}

	labels := map[string]string{
		labelTitle:   opts.name,
		labelVersion: opts.version,
		labelSource:  source,
	}
	if opts.description != "" {
		labels[labelDescription] = opts.description
	}
	var exposed map[string]struct{}
	if len(opts.ports) > 0 {
		exposed = make(map[string]struct{}, len(opts.ports))
		for _, p := range opts.ports {
			exposed[p] = struct{}{}
		}
	}
	created := v1.Time{Time: opts.created}
	cfg := &v1.ConfigFile{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		Variant:      platform.Variant,
		Created:      created,
		Config: v1.Config{
			User:         strconv.Itoa(runUID) + ":" + strconv.Itoa(runGID),
			Entrypoint:   []string{"/" + binDir + "/" + opts.name},
			WorkingDir:   "/",
			ExposedPorts: exposed,
			Labels:       labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		// The wrapper hides the tarball layer's Descriptor method, whose
		// empty (non-nil) annotations would make the manifest in memory
		// differ from its JSON, which omits them; the bytes are the same.
		Layer:     struct{ v1.Layer }{layer},
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "ringd-image --name " + opts.name + " --version " + opts.version,
			Comment:   "/" + binDir + "/" + opts.name + ", /etc/passwd, /etc/group, /" + dataDir + ", /tmp",
		},
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// checkStaticELF refuses a binary that cannot run in an empty image: one that
// is no Linux ELF executable, or one that needs a dynamic loader or shared
// libraries. It returns the binary's GOARCH, or "" when it has no name for
// the machine.
func checkStaticELF(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", fmt.Errorf("--binary %s is not an ELF executable: build it for Linux (GOOS=linux CGO_ENABLED=0)", path)
		}
		return "", fmt.Errorf("--binary: %w", err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", fmt.Errorf("--binary %s is an ELF %s, not an executable", path, f.Type)
	}
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return "", fmt.Errorf("--binary %s is built for %s, not Linux: build it with GOOS=linux", path, strings.TrimPrefix(f.OSABI.String(), "ELFOSABI_"))
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		interp, _ := io.ReadAll(io.LimitReader(p.Open(), 4096))
		return "", fmt.Errorf("--binary %s is dynamically linked (it needs the loader %s, which an image from scratch lacks): build it with CGO_ENABLED=0", path, strings.TrimRight(string(interp), "\x00"))
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		return "", fmt.Errorf("--binary %s needs the shared libraries %s, which an image from scratch lacks: build it with CGO_ENABLED=0", path, strings.Join(libs, ", "))
	}
	return goarch(f), nil
}

// goarch names the ELF file's machine as GOARCH does.
func goarch(f *elf.File) string {
	is64 := f.Class == elf.ELFCLASS64
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_386:
		return "386"
	case elf.EM_PPC64:
		if f.Data == elf.ELFDATA2LSB {
			return "ppc64le"
		}
		return "ppc64"
	case elf.EM_S390:
		if is64 {
			return "s390x"
		}
	case elf.EM_RISCV:
		if is64 {
			return "riscv64"
		}
	case elf.EM_LOONGARCH:
		if is64 {
			return "loong64"
		}
	}
	return ""
}

// rootfs returns the image's one layer as an uncompressed tar: the binary,
// the user and group files, the data directory and /tmp. Its bytes depend on
// the arguments alone.
func rootfs(binName string, bin []byte, mtime time.Time) ([]byte, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		fmt.Sprintf("%s:x:%d:%d:%s:/%s:/sbin/nologin\n", runUser, runUID, runGID, runUser, dataDir)
	group := "root:x:0:\n" +
		fmt.Sprintf("%s:x:%d:\n", runUser, runGID)

	type entry struct {
		name     string
		dir      bool
		mode     int64
		uid, gid int
		data     []byte
	}
	root := func(name string, mode int64, data []byte) entry {
		return entry{name: name, dir: data == nil, mode: mode, data: data}
	}
	entries := []entry{
		root("etc/", 0o755, nil),
		root("etc/group", 0o644, []byte(group)),
		root("etc/passwd", 0o644, []byte(passwd)),
		root("tmp/", 0o1777, nil),
		root("usr/", 0o755, nil),
		root("usr/local/", 0o755, nil),
		root(binDir+"/", 0o755, nil),
		// Owned by root: the process (65532) runs the binary but cannot
		// replace it.
		{name: binDir + "/" + binName, mode: 0o755, uid: 0, gid: 0, data: bin},
		root("var/", 0o755, nil),
		root("var/lib/", 0o755, nil),
		{name: dataDir + "/", dir: true, mode: 0o755, uid: runUID, gid: runGID},
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			Uname:   "root",
			Gname:   "root",
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if e.uid == runUID {
			hdr.Uname = runUser
		}
		if e.gid == runGID {
			hdr.Gname = runUser
		}
		if e.dir {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("making the layer: %w", err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("making the layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}
	return buf.Bytes(), nil
}
