package daemon

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validConfig is DefaultConfig with a fixed name, so the tests do not depend
// on the machine's hostname.
func validConfig() Config {
	c := DefaultConfig()
	c.Name = "ringd-0"
	return c
}

// writeFile writes content to a new file in a test directory and returns its
// path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustResolve resolves c, failing the test when c is not usable.
func mustResolve(t testing.TB, c Config) Resolved {
	t.Helper()
	r, err := c.Resolve()
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return r
}

// check is Resolve for tests of the checks alone: its error.
func check(c Config) error {
	_, err := c.Resolve()
	return err
}

// fieldErrors splits what Resolve returned into its *FieldErrors, failing
// the test on anything else.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok && !isFieldError(err) {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []*FieldError
	for _, e := range errs {
		fe, ok := e.(*FieldError)
		if !ok {
			t.Fatalf("Resolve returned %T (%v), want *FieldError", e, e)
		}
		out = append(out, fe)
	}
	return out
}

func isFieldError(err error) bool {
	_, ok := err.(*FieldError)
	return ok
}

func TestDefaultConfigIsValid(t *testing.T) {
	if err := check(DefaultConfig()); err != nil {
		t.Fatalf("DefaultConfig().Resolve() = %v (hostname %q)", err, DefaultConfig().Name)
	}
}

func TestResolveAcceptsEdgeValues(t *testing.T) {
	key := writeFile(t, "key", base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n")
	tok := writeFile(t, "token", "  s3cret\n")
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"defaults", func(*Config) {}},
		{"name 128 chars", func(c *Config) { c.Name = strings.Repeat("a", 128) }},
		{"name all allowed chars", func(c *Config) { c.Name = "Az09._-" }},
		{"planned restarts, standbys, a zone", func(c *Config) {
			c.ShutdownMode, c.RejoinGrace, c.Standbys, c.Zone = ShutdownRestart, time.Hour, 8, strings.Repeat("z", 63)
		}},
		{"gossip port 0", func(c *Config) { c.GossipAddr = "127.0.0.1:0" }},
		{"gossip empty host", func(c *Config) { c.GossipAddr = ":7946" }},
		{"gossip ipv6", func(c *Config) { c.GossipAddr = "[::1]:7946" }},
		{"http port 0", func(c *Config) { c.HTTPAddr = "127.0.0.1:0" }},
		{"http port 65535", func(c *Config) { c.HTTPAddr = "localhost:65535" }},
		{"advertise set", func(c *Config) { c.AdvertiseAddr = "10.0.0.5:7946" }},
		{"join forms", func(c *Config) {
			c.Join = []string{"ringd-0.ringd.ns.svc", "10.0.0.1", "10.0.0.2:7946", "::1", "[::1]:7946", "seed_1:1"}
		}},
		{"partitions 1", func(c *Config) { c.Partitions = 1 }},
		{"partitions 65536", func(c *Config) { c.Partitions = 65536 }},
		{"load 1", func(c *Config) { c.Load = 1 }},
		{"load 100", func(c *Config) { c.Load = 100 }},
		{"bootstrap 1000", func(c *Config) { c.BootstrapExpect = 1000 }},
		{"negative priority", func(c *Config) { c.Priority = -5 }},
		{"log level upper case", func(c *Config) { c.LogLevel = "DEBUG" }},
		{"profile local", func(c *Config) { c.GossipProfile = "local" }},
		{"profile wan", func(c *Config) { c.GossipProfile = "wan" }},
		{"label 255 bytes", func(c *Config) { c.ClusterLabel = strings.Repeat("x", 255) }},
		{"empty label", func(c *Config) { c.ClusterLabel = "" }},
		{"drift 0", func(c *Config) { c.Drift = 0 }},
		{"drift 0.5", func(c *Config) { c.Drift = 0.5 }},
		{"safety margin 0", func(c *Config) { c.SafetyMargin = 0 }},
		{"lease exactly outlasts a failover", func(c *Config) { c.Lease = 2200 * time.Millisecond }},
		{"leader lease exactly 2 heartbeats", func(c *Config) { c.LeaderLease = 400 * time.Millisecond }},
		{"election timeout exactly 1 heartbeat", func(c *Config) { c.ElectionTimeout = 200 * time.Millisecond }},
		{"leader timeout just over 2 heartbeats", func(c *Config) { c.LeaderTimeout = 401 * time.Millisecond }},
		{"huge heartbeat saturates, no overflow", func(c *Config) {
			c.HeartbeatInterval = time.Duration(math.MaxInt64 / 4)
			c.LeaderTimeout = math.MaxInt64
			c.ElectionTimeout = math.MaxInt64
			c.LeaderLease = math.MaxInt64
			c.Lease = math.MaxInt64
		}},
		{"key and token files", func(c *Config) { c.GossipKeyFile = key; c.AdminTokenFile = tok }},
		{"data dir missing", func(c *Config) { c.DataDir = filepath.Join(t.TempDir(), "new") }},
		{"data dir exists", func(c *Config) { c.DataDir = t.TempDir() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			if err := check(c); err != nil {
				t.Fatalf("Resolve() = %v, want nil", err)
			}
		})
	}
}

func TestResolveRejectsEachBadField(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	aFile := writeFile(t, "file", "x")
	tests := []struct {
		name   string
		mutate func(*Config)
		flag   string // the flag the one error must name
		want   string // a further part of the message
	}{
		{"empty name", func(c *Config) { c.Name = "" }, "--name", "must not be empty"},
		{"long name", func(c *Config) { c.Name = strings.Repeat("a", 129) }, "--name", "at most 128"},
		{"name with slash", func(c *Config) { c.Name = "a/b" }, "--name", `"a/b"`},
		{"name with space", func(c *Config) { c.Name = "a b" }, "--name", "may only contain"},
		{"gossip no port", func(c *Config) { c.GossipAddr = "0.0.0.0" }, "--gossip-addr", "host:port"},
		{"gossip port too big", func(c *Config) { c.GossipAddr = "0.0.0.0:65536" }, "--gossip-addr", `bad port "65536"`},
		{"gossip port negative", func(c *Config) { c.GossipAddr = "0.0.0.0:-1" }, "--gossip-addr", "bad port"},
		{"gossip port name", func(c *Config) { c.GossipAddr = "0.0.0.0:http" }, "--gossip-addr", "bad port"},
		{"gossip bad host", func(c *Config) { c.GossipAddr = "a b:1" }, "--gossip-addr", "bad host"},
		{"gossip empty", func(c *Config) { c.GossipAddr = "" }, "--gossip-addr", "host:port"},
		{"http no port", func(c *Config) { c.HTTPAddr = "localhost" }, "--http-addr", "host:port"},
		{"http port too big", func(c *Config) { c.HTTPAddr = "localhost:70000" }, "--http-addr", "0-65535"},
		{"advertise no port", func(c *Config) { c.AdvertiseAddr = "10.0.0.1" }, "--advertise-addr", "host:port"},
		{"advertise port 0", func(c *Config) { c.AdvertiseAddr = "10.0.0.1:0" }, "--advertise-addr", "1-65535"},
		{"advertise no host", func(c *Config) { c.AdvertiseAddr = ":7946" }, "--advertise-addr", "empty host"},
		{"join empty entry", func(c *Config) { c.Join = []string{"a", ""} }, "--join", "entry 2"},
		{"join bad port", func(c *Config) { c.Join = []string{"a:99999"} }, "--join", "bad port"},
		{"join port 0", func(c *Config) { c.Join = []string{"a:0"} }, "--join", "bad port"},
		{"join empty host", func(c *Config) { c.Join = []string{":7946"} }, "--join", "empty host"},
		{"join bad host", func(c *Config) { c.Join = []string{"a b"} }, "--join", "bad host"},
		{"join several bad entries", func(c *Config) { c.Join = []string{"", "a b", ":1"} }, "--join", "entry 1"},
		{"partitions 0", func(c *Config) { c.Partitions = 0 }, "--partitions", "between 1 and 65536 (got 0)"},
		{"shutdown mode unknown", func(c *Config) { c.ShutdownMode = "pause" }, "--shutdown", `"drain"`},
		{"rejoin grace 0", func(c *Config) { c.RejoinGrace = 0 }, "--rejoin-grace", "more than 0"},
		{"rejoin grace too long", func(c *Config) { c.RejoinGrace = 2 * time.Hour }, "--rejoin-grace", "at most 1h"},
		{"standbys negative", func(c *Config) { c.Standbys = -1 }, "--standbys", "between 0 and 8"},
		{"standbys 9", func(c *Config) { c.Standbys = 9 }, "--standbys", "(got 9)"},
		{"zone with space", func(c *Config) { c.Zone = "eu 1" }, "--zone", "without spaces"},
		{"zone too long", func(c *Config) { c.Zone = strings.Repeat("z", 64) }, "--zone", "at most 63"},
		{"partitions too many", func(c *Config) { c.Partitions = 65537 }, "--partitions", "(got 65537)"},
		{"load below 1", func(c *Config) { c.Load = 0.5 }, "--load", "must be >= 1 (got 0.5)"},
		{"load above 100", func(c *Config) { c.Load = 100.5 }, "--load", "<= 100"},
		{"load NaN", func(c *Config) { c.Load = math.NaN() }, "--load", "finite"},
		{"load +Inf", func(c *Config) { c.Load = math.Inf(1) }, "--load", "finite"},
		{"bootstrap negative", func(c *Config) { c.BootstrapExpect = -1 }, "--bootstrap-expect", ">= 0"},
		{"bootstrap too many", func(c *Config) { c.BootstrapExpect = 1001 }, "--bootstrap-expect", "<= 1000"},
		{"voters even", func(c *Config) { c.Voters = 4 }, "--voters", "must be odd"},
		{"voters zero", func(c *Config) { c.Voters = 0 }, "--voters", "must be odd"},
		{"voters too many", func(c *Config) { c.Voters = 11 }, "--voters", "1 to 9"},
		{"dead voter timeout zero", func(c *Config) { c.DeadVoterTimeout = 0 }, "--dead-voter-timeout", "> 0"},
		{"log level", func(c *Config) { c.LogLevel = "verbose" }, "--log-level", `"verbose"`},
		{"log level empty", func(c *Config) { c.LogLevel = "" }, "--log-level", "one of"},
		{"gossip profile", func(c *Config) { c.GossipProfile = "gcp" }, "--gossip-profile", "lan, wan or local"},
		{"cluster label", func(c *Config) { c.ClusterLabel = strings.Repeat("x", 256) }, "--cluster-label", "255 bytes"},
		{"drift negative", func(c *Config) { c.Drift = -0.01 }, "--drift", "between 0 and 0.5"},
		{"drift too big", func(c *Config) { c.Drift = 0.51 }, "--drift", "between 0 and 0.5"},
		{"drift NaN", func(c *Config) { c.Drift = math.NaN() }, "--drift", "between 0 and 0.5"},
		{"heartbeat 0", func(c *Config) { c.HeartbeatInterval = 0 }, "--heartbeat-interval", "> 0"},
		{"leader timeout negative", func(c *Config) { c.LeaderTimeout = -time.Second }, "--leader-timeout", "> 0"},
		{"election timeout 0", func(c *Config) { c.ElectionTimeout = 0 }, "--election-timeout", "> 0"},
		{"leader lease 0", func(c *Config) { c.LeaderLease = 0 }, "--leader-lease", "> 0"},
		{"lease 0", func(c *Config) { c.Lease = 0 }, "--lease", "> 0"},
		{"settle 0", func(c *Config) { c.Settle = 0 }, "--settle", "> 0"},
		{"release timeout 0", func(c *Config) { c.ReleaseTimeout = 0 }, "--release-timeout", "> 0"},
		{"flap hold-down negative", func(c *Config) { c.FlapHoldDown = -time.Second }, "--flap-hold-down", "between 0 (damping off) and 1h0m0s"},
		{"flap hold-down too long", func(c *Config) { c.FlapHoldDown = 2 * time.Hour }, "--flap-hold-down", "between 0 (damping off) and 1h0m0s"},
		{"shutdown timeout 0", func(c *Config) { c.ShutdownTimeout = 0 }, "--shutdown-timeout", "> 0"},
		{"rejoin interval 0", func(c *Config) { c.RejoinInterval = 0 }, "--rejoin-interval", "> 0"},
		{"safety margin negative", func(c *Config) { c.SafetyMargin = -time.Millisecond }, "--safety-margin", ">= 0"},
		{"leader timeout exactly 2 heartbeats", func(c *Config) { c.LeaderTimeout = 400 * time.Millisecond }, "--leader-timeout", "more than twice --heartbeat-interval"},
		{"heartbeat too slow for leader timeout", func(c *Config) {
			c.HeartbeatInterval = 500 * time.Millisecond
			c.ElectionTimeout = time.Second
			c.Lease = 5 * time.Second
		}, "--leader-timeout", "twice --heartbeat-interval"},
		{"election timeout below heartbeat", func(c *Config) { c.ElectionTimeout = 199 * time.Millisecond }, "--election-timeout", "at least --heartbeat-interval"},
		{"leader lease below 2 heartbeats", func(c *Config) { c.LeaderLease = 399 * time.Millisecond }, "--leader-lease", "twice --heartbeat-interval"},
		{"lease shorter than a failover", func(c *Config) { c.Lease = 2199 * time.Millisecond }, "--lease", "outlast a leader failover"},
		{"gossip key missing", func(c *Config) { c.GossipKeyFile = missing }, "--gossip-key-file", "no such file"},
		{"gossip key is a directory", func(c *Config) { c.GossipKeyFile = dir }, "--gossip-key-file", "readable"},
		{"gossip key bad", func(c *Config) { c.GossipKeyFile = aFile }, "--gossip-key-file", "base64"},
		{"admin token missing", func(c *Config) { c.AdminTokenFile = missing }, "--admin-token-file", "no such file"},
		{"admin token empty", func(c *Config) { c.AdminTokenFile = writeFile(t, "empty", " \n\t") }, "--admin-token-file", "empty"},
		{"data dir is a file", func(c *Config) { c.DataDir = aFile }, "--data-dir", "must be a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := check(c)
			if err == nil {
				t.Fatal("Resolve() = nil error, want one")
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			fes := fieldErrors(t, err)
			if len(fes) != 1 {
				t.Fatalf("got %d errors, want exactly 1: %v", len(fes), err)
			}
			fe := fes[0]
			if fe.Flag != tt.flag {
				t.Errorf("Flag = %q, want %q (error: %v)", fe.Flag, tt.flag, fe)
			}
			msg := fe.Error()
			if !strings.HasPrefix(msg, tt.flag+" ") {
				t.Errorf("message %q does not start with %q", msg, tt.flag+" ")
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q lacks %q", msg, tt.want)
			}
			if strings.Contains(msg, "\n") || msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("message %q must be one lower-case line", msg)
			}
		})
	}
}

func TestResolveReportsEveryBadField(t *testing.T) {
	c := validConfig()
	c.Partitions = 0
	c.Load = 0.5
	c.LogLevel = "loud"
	c.HeartbeatInterval = 0 // relations with it are then not checked
	c.Lease = time.Millisecond
	var flags []string
	for _, fe := range fieldErrors(t, check(c)) {
		flags = append(flags, fe.Flag)
	}
	want := []string{"--partitions", "--load", "--log-level", "--heartbeat-interval"}
	if strings.Join(flags, " ") != strings.Join(want, " ") {
		t.Errorf("flags with errors = %v, want %v", flags, want)
	}
}

func TestLoadGossipKeys(t *testing.T) {
	for _, n := range []int{16, 24, 32} {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(i*7 + n)
		}
		p := writeFile(t, "key", "\n "+base64.StdEncoding.EncodeToString(raw)+" \n")
		keys, err := LoadGossipKeys(p)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if got := keys[0]; len(keys) != 1 || string(got) != string(raw) {
			t.Errorf("%d bytes: key = %x, want %x", n, got, raw)
		}
	}
	secret := "c2VjcmV0c2VjcmV0c2VjcmV0"
	bad := []struct {
		name, content string
		is            error
	}{
		{"15 bytes", base64.StdEncoding.EncodeToString(make([]byte, 15)), ErrInvalidGossipKey},
		{"33 bytes", base64.StdEncoding.EncodeToString(make([]byte, 33)), ErrInvalidGossipKey},
		{"empty", "", ErrInvalidGossipKey},
		{"not base64", "!!" + secret, ErrInvalidGossipKey},
		{"too large", strings.Repeat("A", maxSecretFileSize+1), ErrSecretFileTooLarge},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadGossipKeys(writeFile(t, "key", tt.content))
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks the file content", err)
			}
		})
	}
	if _, err := LoadGossipKeys(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadAdminTokens(t *testing.T) {
	got, err := LoadAdminTokens(writeFile(t, "tok", "\tabc def \r\n"))
	if err != nil || len(got) != 1 || got[0] != "abc def" {
		t.Fatalf("LoadAdminTokens = %q, %v; want [abc def]", got, err)
	}
	got, err = LoadAdminTokens(writeFile(t, "tok", "new-token\n\n  old-token  \n"))
	if err != nil || len(got) != 2 || got[0] != "new-token" || got[1] != "old-token" {
		t.Fatalf("two lines: LoadAdminTokens = %q, %v", got, err)
	}
	if _, err := LoadAdminTokens(writeFile(t, "tok", "\n\n")); !errors.Is(err, ErrEmptyAdminToken) {
		t.Errorf("blank file: err = %v, want ErrEmptyAdminToken", err)
	}
	if _, err := LoadAdminTokens(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
}

func TestShapeFingerprint(t *testing.T) {
	base := validConfig()
	fp := base.ShapeFingerprint()
	if len(fp) != 16 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Errorf("ShapeFingerprint %q is not 16 lower-case hex digits", fp)
	}
	other := base
	other.Lease, other.LeaderLease, other.Load, other.Drift, other.SafetyMargin = time.Minute, 2*time.Second, 2, 0.1, time.Second
	if got := other.ShapeFingerprint(); got != fp {
		t.Errorf("the lease settings and load changed the shape: %q != %q", got, fp)
	}
	for name, mutate := range map[string]func(*Config){
		"partitions": func(c *Config) { c.Partitions = 272 },
		"label":      func(c *Config) { c.ClusterLabel = "ringd2" },
	} {
		c := base
		mutate(&c)
		if c.ShapeFingerprint() == fp {
			t.Errorf("%s: the shape did not change", name)
		}
	}
}

func TestFingerprint(t *testing.T) {
	base := validConfig()
	fp := base.Fingerprint()
	// Pinned: members built from different versions of ringd must agree, so
	// a change here is a wire-format change.
	if want := "1bd24f7385c990bf"; fp != want {
		t.Errorf("Fingerprint of the defaults = %q, want %q", fp, want)
	}
	if len(fp) != 16 || strings.Trim(fp, "0123456789abcdef") != "" {
		t.Errorf("Fingerprint %q is not 16 lower-case hex digits", fp)
	}

	// Settings that need not be shared do not change it.
	other := base
	other.Name = "ringd-9"
	other.Priority = 3
	other.GossipAddr = "10.1.1.1:1"
	other.Join = []string{"x"}
	other.LogLevel = "debug"
	if got := other.Fingerprint(); got != fp {
		t.Errorf("per-member settings changed the fingerprint: %q != %q", got, fp)
	}

	// Each shared setting does.
	changes := map[string]func(*Config){
		"partitions":   func(c *Config) { c.Partitions = 272 },
		"load":         func(c *Config) { c.Load = 1.2500001 },
		"label":        func(c *Config) { c.ClusterLabel = "ringd2" },
		"lease":        func(c *Config) { c.Lease = time.Minute },
		"leader lease": func(c *Config) { c.LeaderLease = 2 * time.Second },
		"drift":        func(c *Config) { c.Drift = 0.1 },
		"margin":       func(c *Config) { c.SafetyMargin = time.Second },
		"label ambiguity": func(c *Config) {
			c.ClusterLabel = "ringd\"\nload=1.25"
		},
	}
	seen := map[string]string{fp: "defaults"}
	for name, mutate := range changes {
		c := base
		mutate(&c)
		got := c.Fingerprint()
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: fingerprint %q equals that of %s", name, got, prev)
		}
		seen[got] = name
	}
}

func TestEffectiveMoveBudget(t *testing.T) {
	for _, tc := range []struct{ partitions, budget, want int }{
		{271, 0, 28}, {32, 0, 4}, {5, 0, 1}, {1, 0, 1}, {271, 7, 7},
	} {
		c := validConfig()
		c.Partitions, c.MoveBudget = tc.partitions, tc.budget
		if got := c.EffectiveMoveBudget(); got != tc.want {
			t.Errorf("partitions %d, --move-budget %d: %d, want %d", tc.partitions, tc.budget, got, tc.want)
		}
	}
}
