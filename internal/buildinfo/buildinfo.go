// Package buildinfo says which build of ringd is running: the version a
// release sets with -ldflags, else the module version, and the commit and Go
// version the toolchain recorded in the binary.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Version is set by release builds:
//
//	go build -ldflags "-X github.com/ringd/ringd/internal/buildinfo.Version=v1.2.3"
//
// Left empty, Get falls back on the module version the toolchain recorded
// (a tagged module fetched with go install), else "dev".
var Version string

// Info describes this binary.
type Info struct {
	// Version is the release version ("v1.2.3"), or "dev" for a build from
	// a checkout.
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from, with "-dirty"
	// when the tree had changes; "unknown" when the build did not record it
	// (go run, go test, or a build outside a git checkout).
	Commit string `json:"commit"`
	// GoVersion is the Go toolchain that built it.
	GoVersion string `json:"goVersion"`
}

// String is the one line --version prints.
func (i Info) String() string {
	return i.Version + " (commit " + i.Commit + ", " + i.GoVersion + ")"
}

var get = sync.OnceValue(func() Info {
	info := Info{Version: Version, Commit: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		var rev string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "-dirty"
			}
			info.Commit = rev
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	return info
})

// Get returns this binary's build information.
func Get() Info { return get() }
