package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/daemon"
)

// envOf returns an env function over m, as os.Getenv would over the process
// environment.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// configFile writes content to a file in a test directory and returns its
// path.
func configFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ringd.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseConfigNoInputGivesDefaults(t *testing.T) {
	r, err := parseConfig(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Config(), daemon.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("parseConfig() = %+v, want the defaults %+v", got, want)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		file  string // config file content; its path is passed as --config
		check func(t *testing.T, c daemon.Config)
	}{
		{
			name: "flags",
			args: []string{
				"--name", "ringd-1", "--partitions", "64", "--load=1.5", "-priority", "-3",
				"--join", "a:1, b:2", "--join=c", "--preempt=false", "--log-json",
				"--lease", "5s", "--drift", "0.1", "--gossip-profile", "local",
				"--safety-margin", "0s", "--http-addr", "127.0.0.1:0",
			},
			check: func(t *testing.T, c daemon.Config) {
				want := daemon.DefaultConfig()
				want.Name = "ringd-1"
				want.Partitions = 64
				want.Load = 1.5
				want.Priority = -3
				want.Join = []string{"a:1", "b:2", "c"}
				want.Preempt = false
				want.LogJSON = true
				want.Lease = 5 * time.Second
				want.Drift = 0.1
				want.GossipProfile = "local"
				want.SafetyMargin = 0
				want.HTTPAddr = "127.0.0.1:0"
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got  %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "environment",
			env: map[string]string{
				"RINGD_PARTITIONS": "64", "RINGD_GOSSIP_ADDR": "10.0.0.1:7000",
				"RINGD_PREEMPT": "false", "RINGD_JOIN": "a, b", "RINGD_HEARTBEAT_INTERVAL": "100ms",
				"RINGD_LOG_JSON": "1", "RINGD_BOOTSTRAP_EXPECT": "3",
			},
			check: func(t *testing.T, c daemon.Config) {
				if c.Partitions != 64 || c.GossipAddr != "10.0.0.1:7000" || c.Preempt ||
					!slices.Equal(c.Join, []string{"a", "b"}) || c.HeartbeatInterval != 100*time.Millisecond ||
					!c.LogJSON || c.BootstrapExpect != 3 {
					t.Errorf("environment not applied: %+v", c)
				}
			},
		},
		{
			name: "empty environment values are unset",
			env:  map[string]string{"RINGD_PARTITIONS": "", "RINGD_NAME": ""},
			check: func(t *testing.T, c daemon.Config) {
				if c.Partitions != 271 || c.Name != daemon.DefaultConfig().Name {
					t.Errorf("empty variables changed the config: %+v", c)
				}
			},
		},
		{
			name: "config file",
			file: `{"partitions": 64, "join": ["a:7946", "b"], "lease": "5s", "preempt": false,
			        "load": 2, "log-json": true, "drift": 0.1, "priority": -2, "cluster-label": "blue"}`,
			check: func(t *testing.T, c daemon.Config) {
				if c.Partitions != 64 || !slices.Equal(c.Join, []string{"a:7946", "b"}) || c.Lease != 5*time.Second ||
					c.Preempt || c.Load != 2 || !c.LogJSON || c.Drift != 0.1 || c.Priority != -2 || c.ClusterLabel != "blue" {
					t.Errorf("config file not applied: %+v", c)
				}
			},
		},
		{
			name: "config file join as a string, numbers as strings",
			file: `{"join": "a:7946,b:7946", "partitions": "64"}`,
			check: func(t *testing.T, c daemon.Config) {
				if !slices.Equal(c.Join, []string{"a:7946", "b:7946"}) || c.Partitions != 64 {
					t.Errorf("got join %q, partitions %d", c.Join, c.Partitions)
				}
			},
		},
		{
			name: "empty config file object",
			file: " {} \n",
			check: func(t *testing.T, c daemon.Config) {
				if !reflect.DeepEqual(c, daemon.DefaultConfig()) {
					t.Errorf("got %+v, want defaults", c)
				}
			},
		},
		{
			name: "flag beats environment beats file",
			args: []string{"--partitions", "30"},
			env:  map[string]string{"RINGD_PARTITIONS": "20", "RINGD_LOAD": "3"},
			file: `{"partitions": 10, "load": 2, "priority": 5}`,
			check: func(t *testing.T, c daemon.Config) {
				if c.Partitions != 30 || c.Load != 3 || c.Priority != 5 {
					t.Errorf("partitions %d (want 30 from flag), load %v (want 3 from env), priority %d (want 5 from file)",
						c.Partitions, c.Load, c.Priority)
				}
			},
		},
		{
			name: "lists replace, not merge, across layers",
			args: []string{"--join=x"},
			env:  map[string]string{"RINGD_JOIN": "c"},
			file: `{"join": ["a", "b"]}`,
			check: func(t *testing.T, c daemon.Config) {
				if !slices.Equal(c.Join, []string{"x"}) {
					t.Errorf("join = %q, want [x]", c.Join)
				}
			},
		},
		{
			name: "empty --join clears the file's seeds",
			args: []string{"--join="},
			file: `{"join": ["a", "b"]}`,
			check: func(t *testing.T, c daemon.Config) {
				if len(c.Join) != 0 {
					t.Errorf("join = %q, want none", c.Join)
				}
			},
		},
		{
			name: "a flag fixes a bad environment value before Resolve",
			args: []string{"--load", "2"},
			env:  map[string]string{"RINGD_LOAD": "0.5"},
			check: func(t *testing.T, c daemon.Config) {
				if c.Load != 2 {
					t.Errorf("load = %v, want 2", c.Load)
				}
			},
		},
		{
			name: "--config beats RINGD_CONFIG",
			env:  map[string]string{"RINGD_CONFIG": "/nonexistent/ringd.json"},
			file: `{"partitions": 7}`,
			check: func(t *testing.T, c daemon.Config) {
				if c.Partitions != 7 {
					t.Errorf("partitions = %d, want 7", c.Partitions)
				}
			},
		},
		{
			name: "-- ends the flags",
			args: []string{"-partitions=5", "--"},
			check: func(t *testing.T, c daemon.Config) {
				if c.Partitions != 5 {
					t.Errorf("partitions = %d, want 5", c.Partitions)
				}
			},
		},
		{
			name: "a flag's value may start with a dash",
			args: []string{"--priority", "-4"},
			check: func(t *testing.T, c daemon.Config) {
				if c.Priority != -4 {
					t.Errorf("priority = %d, want -4", c.Priority)
				}
			},
		},
		{
			name: "--version=false runs normally",
			args: []string{"--version=false"},
			check: func(t *testing.T, c daemon.Config) {
				if c.Partitions != 271 {
					t.Errorf("partitions = %d", c.Partitions)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", configFile(t, tt.file)}, args...)
			}
			r, err := parseConfig(args, envOf(tt.env))
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			tt.check(t, r.Config())
		})
	}
}

func TestParseConfigFromRINGDCONFIG(t *testing.T) {
	p := configFile(t, `{"partitions": 9}`)
	r, err := parseConfig(nil, envOf(map[string]string{"RINGD_CONFIG": p}))
	if err != nil || r.Config().Partitions != 9 {
		t.Fatalf("got partitions %d, err %v; want 9 from the file in RINGD_CONFIG", r.Config().Partitions, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string // config file content, passed as --config; "{file}" in want is its path
		want string // the whole message, or a part of it when part is set
		part bool
		is   error // the error must wrap this, when set
	}{
		{name: "unknown flag", args: []string{"--bogus"}, want: "unknown flag --bogus (see ringd --help)"},
		{name: "unknown flag one dash", args: []string{"-bogus=1"}, want: "unknown flag --bogus (see ringd --help)"},
		{name: "bad int", args: []string{"--partitions", "x"},
			want: `invalid value "x" for --partitions: must be an integer`},
		{name: "int out of range", args: []string{"--priority", "99999999999999999999"},
			want: `invalid value "99999999999999999999" for --priority: out of range`},
		{name: "bad float", args: []string{"--load=abc"}, want: `invalid value "abc" for --load: must be a number`},
		{name: "bad bool", args: []string{"--preempt=maybe"}, want: `invalid value "maybe" for --preempt: must be true or false`},
		{name: "bad duration", args: []string{"--lease", "3"},
			want: `invalid value "3" for --lease: must be a duration such as 500ms, 3s or 1m`},
		{name: "first bad value wins", args: []string{"--lease", "3", "--partitions", "x"},
			want: `invalid value "3" for --lease`, part: true},
		{name: "missing value", args: []string{"--partitions"}, want: "flag --partitions needs a value"},
		{name: "three dashes", args: []string{"---partitions=5"},
			want: `bad flag syntax "---partitions=5": give a flag as --name or --name=value`},
		{name: "no name", args: []string{"--=5"}, want: `bad flag syntax "--=5": give a flag as --name or --name=value`},
		{name: "a lone dash", args: []string{"-"}, want: `unexpected argument "-": ringd takes only flags`},
		{name: "argument after --", args: []string{"--", "--partitions=5"},
			want: `unexpected argument "--partitions=5": ringd takes only flags`},
		{name: "flags stop at the first argument", args: []string{"extra", "--bogus"},
			want: `unexpected argument "extra": ringd takes only flags`},
		{name: "positional argument", args: []string{"--partitions", "5", "extra"},
			want: `unexpected argument "extra": ringd takes only flags`},
		{name: "bool with a separate value", args: []string{"--preempt", "false"},
			want: `unexpected argument "false": give a boolean flag its value as --flag=false`},
		{name: "validate failure", args: []string{"--load", "0.5"}, want: "--load must be >= 1 (got 0.5)",
			is: daemon.ErrInvalidConfig},
		{name: "several validate failures on one line", args: []string{"--load", "0.5", "--partitions", "0"},
			want: "--partitions must be between 1 and 65536 (got 0); --load must be >= 1 (got 0.5)",
			is:   daemon.ErrInvalidConfig},
		{name: "bad environment value", env: map[string]string{"RINGD_PARTITIONS": "abc"},
			want: `invalid value "abc" for RINGD_PARTITIONS: must be an integer`},
		{name: "bad environment bool", env: map[string]string{"RINGD_LOG_JSON": "yes please"},
			want: `invalid value "yes please" for RINGD_LOG_JSON: must be true or false`},
		{name: "environment fails Resolve", env: map[string]string{"RINGD_LOAD": "0.5"},
			want: "--load must be >= 1 (got 0.5) (set by RINGD_LOAD)", is: daemon.ErrInvalidConfig},
		{name: "relation names the source of the flag it names",
			env:  map[string]string{"RINGD_HEARTBEAT_INTERVAL": "900ms"},
			want: "--leader-timeout must be more than twice --heartbeat-interval", part: true},
		{name: "missing config file", args: []string{"--config", "/nonexistent/x.json"},
			want: "config file /nonexistent/x.json: no such file or directory", is: os.ErrNotExist},
		{name: "missing config file from RINGD_CONFIG", env: map[string]string{"RINGD_CONFIG": "/nonexistent/y.json"},
			want: "config file /nonexistent/y.json: no such file or directory"},
		{name: "config file not JSON", file: "partitions = 3", want: "config file {file}: must hold one JSON object"},
		{name: "config file is an array", file: `[{"partitions": 3}]`, want: "config file {file}: must hold one JSON object"},
		{name: "config file is null", file: `null`, want: "config file {file}: must hold one JSON object"},
		{name: "config file trailing data", file: `{"partitions": 3} {}`,
			want: "config file {file}: must hold one JSON object, found more after it"},
		{name: "config file unknown key", file: `{"partitions": 3, "partitionz": 4}`,
			want: `config file {file}: unknown key "partitionz"`},
		{name: "config file key with dashes", file: `{"--partitions": 3}`,
			want: `config file {file}: unknown key "--partitions"`},
		{name: "config file nested config", file: `{"config": "other.json"}`,
			want: `config file {file}: key "config" can only be given on the command line`},
		{name: "config file object value", file: `{"lease": {"s": 3}}`,
			want: `config file {file}: invalid value for key "lease": must be a string, a number or a boolean`},
		{name: "config file null value", file: `{"lease": null}`,
			want: `config file {file}: invalid value for key "lease": must be a string, a number or a boolean`},
		{name: "config file array for a scalar", file: `{"partitions": [1]}`,
			want: `config file {file}: invalid value for key "partitions": must be a string, a number or a boolean`},
		{name: "config file join array of numbers", file: `{"join": ["a", 1]}`,
			want: `config file {file}: invalid value for key "join": must be a string or an array of strings`},
		{name: "config file bad value", file: `{"lease": 3}`,
			want: `config file {file}: invalid value "3" for key "lease": must be a duration such as 500ms, 3s or 1m`},
		{name: "config file fractional int", file: `{"partitions": 2.5}`,
			want: `config file {file}: invalid value "2.5" for key "partitions": must be an integer`},
		{name: "config file fails Resolve", file: `{"load": 0.5}`,
			want: "--load must be >= 1 (got 0.5) (set by config file {file})", is: daemon.ErrInvalidConfig},
		{name: "a file value the command line overrides must still parse", args: []string{"--partitions", "5"},
			file: `{"partitions": "x"}`, want: `config file {file}: invalid value "x" for key "partitions": must be an integer`},
		{name: "an environment value the command line overrides must still parse", args: []string{"--partitions", "5"},
			env: map[string]string{"RINGD_PARTITIONS": "x"}, want: `invalid value "x" for RINGD_PARTITIONS: must be an integer`},
		{name: "config file errors come before environment errors", file: `{"bad": 1}`,
			env: map[string]string{"RINGD_PARTITIONS": "abc"}, want: `unknown key "bad"`, part: true},
		{name: "command line errors come first", args: []string{"--bogus"}, file: `{"bad": 1}`,
			env: map[string]string{"RINGD_PARTITIONS": "abc"}, want: "unknown flag --bogus", part: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			want := tt.want
			if tt.file != "" {
				p := configFile(t, tt.file)
				args = append([]string{"--config", p}, args...)
				want = strings.ReplaceAll(want, "{file}", p)
			}
			_, err := parseConfig(args, envOf(tt.env))
			if err == nil {
				t.Fatalf("parseConfig succeeded, want error %q", want)
			}
			msg := err.Error()
			if tt.part {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			} else if msg != want {
				t.Errorf("error = %q\nwant    %q", msg, want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q spans several lines", msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if errors.Is(err, errHelp) || errors.Is(err, errVersion) {
				t.Errorf("error %v looks like --help or --version", err)
			}
		})
	}
}

func TestParseConfigHelpAndVersion(t *testing.T) {
	// Neither reads the environment or the config file, so a broken one
	// does not stop them.
	badEnv := envOf(map[string]string{"RINGD_PARTITIONS": "abc", "RINGD_CONFIG": "/nonexistent"})
	for _, tt := range []struct {
		args []string
		want error
	}{
		{[]string{"--help"}, errHelp},
		{[]string{"-h"}, errHelp},
		{[]string{"-help"}, errHelp},
		{[]string{"--partitions", "5", "--help"}, errHelp},
		{[]string{"--version"}, errVersion},
		{[]string{"--version", "--partitions", "0"}, errVersion},
	} {
		if _, err := parseConfig(tt.args, badEnv); !errors.Is(err, tt.want) {
			t.Errorf("parseConfig(%q) error = %v, want %v", tt.args, err, tt.want)
		}
	}
}

// TestEveryConfigFieldHasAFlag sets every flag to a value other than its
// default and checks that every field of daemon.Config changed: a field added
// to Config without a flag fails here.
func TestEveryConfigFieldHasAFlag(t *testing.T) {
	nonDefault := map[string]string{
		"name": "other-name", "gossip-addr": "127.0.0.1:1", "advertise-addr": "10.0.0.1:2",
		"http-addr": "127.0.0.1:3", "join": "a,b", "partitions": "64", "load": "2",
		"priority": "4", "weight": "2.5", "move-budget": "7", "move-cooldown": "5s", "bootstrap-expect": "3", "gossip-key-file": "/k", "admin-token-file": "/t", "tls-cert-file": "/c", "tls-key-file": "/kk", "app-liveness-timeout": "30s",
		"data-dir": "/d", "cluster-label": "blue", "log-level": "debug", "log-json": "true",
		"preempt": "false", "heartbeat-interval": "100ms", "leader-timeout": "2s",
		"election-timeout": "300ms", "leader-lease": "900ms", "lease": "4s", "drift": "0.1",
		"safety-margin": "1s", "settle": "3s", "flap-hold-down": "1m", "release-timeout": "11s", "shutdown-timeout": "31s",
		"rejoin-interval": "6s", "gossip-profile": "local", "dead-member-timeout": "2m",
		"voters": "3", "dead-voter-timeout": "20s", "http-advertise-addr": "10.0.0.1:7070",
		"ops-addr": "127.0.0.1:9090", "timing-profile": "fast",
		"zone": "eu-1a", "standbys": "2", "shutdown": "restart", "rejoin-grace": "2m",
	}
	c := daemon.DefaultConfig()
	for _, s := range settings {
		raw, ok := nonDefault[s.name]
		if !ok {
			t.Errorf("flag --%s has no test value", s.name)
			continue
		}
		if err := s.bind(&c).Set(raw); err != nil {
			t.Errorf("--%s %q: %v", s.name, raw, err)
		}
	}
	def := reflect.ValueOf(daemon.DefaultConfig())
	got := reflect.ValueOf(c)
	for i := 0; i < def.NumField(); i++ {
		if reflect.DeepEqual(def.Field(i).Interface(), got.Field(i).Interface()) {
			t.Errorf("Config.%s is not set by any flag", def.Type().Field(i).Name)
		}
	}
	if len(nonDefault) != len(settings) {
		t.Errorf("%d test values for %d flags", len(nonDefault), len(settings))
	}
}

func TestEnvName(t *testing.T) {
	for flagName, want := range map[string]string{
		"partitions": "RINGD_PARTITIONS", "gossip-key-file": "RINGD_GOSSIP_KEY_FILE", "config": "RINGD_CONFIG",
	} {
		if got := envName(flagName); got != want {
			t.Errorf("envName(%q) = %q, want %q", flagName, got, want)
		}
	}
}

func TestUsageListsEveryFlag(t *testing.T) {
	var b strings.Builder
	printUsage(&b)
	text := b.String()
	// The block of each flag: from its "  --name" line to the next flag.
	blocks := map[string]string{}
	for _, block := range strings.Split(text, "\n  --")[1:] {
		name, _, _ := strings.Cut(block, " ")
		name, _, _ = strings.Cut(name, "\n")
		blocks[name] = block
	}
	def := daemon.DefaultConfig()
	for _, s := range settings {
		block, ok := blocks[s.name]
		if !ok {
			t.Errorf("--help does not list --%s", s.name)
			continue
		}
		wantDef := s.bind(&def).String()
		if s.defText != "" {
			wantDef = s.defText
		}
		if wantDef == "" {
			wantDef = "none"
		}
		for _, want := range []string{"default: " + wantDef + ";", "env: " + envName(s.name)} {
			if !strings.Contains(block, want) {
				t.Errorf("--%s help %q lacks %q", s.name, block, want)
			}
		}
	}
	for _, meta := range []string{"config", "version", "help"} {
		if _, ok := blocks[meta]; !ok {
			t.Errorf("--help does not list --%s", meta)
		}
	}
	if !strings.Contains(blocks["partitions"], "default: 271; env: RINGD_PARTITIONS") {
		t.Errorf("--partitions block = %q", blocks["partitions"])
	}
}

// A gossip key file that holds no key fails parseConfig with the field
// error, saying where the flag came from; realMain exits with the usage
// status and one line.
func TestParseConfigBadGossipKey(t *testing.T) {
	key := filepath.Join(t.TempDir(), "gossip.key")
	if err := os.WriteFile(key, []byte("not base64 at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"RINGD_GOSSIP_KEY_FILE": key})
	_, err := parseConfig(nil, env)
	want := "--gossip-key-file must name a readable file holding base64 keys of 16, 24 or 32 bytes, one per line: " +
		key + " line 1: not valid base64: gossip key must be base64 of 16, 24 or 32 bytes (set by RINGD_GOSSIP_KEY_FILE)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
	if !errors.Is(err, daemon.ErrInvalidGossipKey) || !errors.Is(err, daemon.ErrInvalidConfig) {
		t.Errorf("error %v does not wrap ErrInvalidGossipKey and ErrInvalidConfig", err)
	}

	var stdout, stderr strings.Builder
	if code := realMain(nil, env, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit status %d, want %d", code, exitUsage)
	}
	if got := stderr.String(); got != "ringd: "+want+"\n" || stdout.Len() != 0 {
		t.Errorf("stderr %q, stdout %q; want one line with the error", got, stdout.String())
	}
}

// TestTimingProfile: --timing-profile fast sets every timing of the profile
// that no flag, variable or file set, and names itself when one of its
// values is refused.
func TestTimingProfile(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	r, err := parseConfig([]string{"--timing-profile", "fast", "--lease", "900ms"},
		env(map[string]string{"RINGD_LEADER_TIMEOUT": "400ms"}))
	if err != nil {
		t.Fatal(err)
	}
	c := r.Config()
	if c.HeartbeatInterval != 50*time.Millisecond || c.LeaderLease != 500*time.Millisecond || c.SafetyMargin != 50*time.Millisecond {
		t.Errorf("fast profile not applied: heartbeat %v, leader lease %v, margin %v", c.HeartbeatInterval, c.LeaderLease, c.SafetyMargin)
	}
	if c.Lease != 900*time.Millisecond || c.LeaderTimeout != 400*time.Millisecond {
		t.Errorf("the profile overrode what was set: lease %v (flag 900ms), leader timeout %v (env 400ms)", c.Lease, c.LeaderTimeout)
	}
	r, err = parseConfig(nil, env(map[string]string{"RINGD_TIMING_PROFILE": "fast"}))
	if err != nil || r.Config().Lease != 700*time.Millisecond {
		t.Errorf("RINGD_TIMING_PROFILE=fast: lease %v, err %v", r.Config().Lease, err)
	}
	_, err = parseConfig([]string{"--timing-profile", "quick"}, env(nil))
	if err == nil || !strings.Contains(err.Error(), "--timing-profile") {
		t.Errorf("unknown profile: err %v, want one naming --timing-profile", err)
	}
	// The fast lease must still outlast a failover with the default
	// timeouts the profile leaves alone: a longer leader timeout is refused,
	// naming the profile as the lease's source.
	_, err = parseConfig([]string{"--timing-profile", "fast", "--leader-timeout", "2s"}, env(nil))
	if err == nil || !strings.Contains(err.Error(), "timing-profile") {
		t.Errorf("fast profile with a 2s leader timeout: err %v, want a refusal naming the profile", err)
	}
}

var rewriteDocs = flag.Bool("rewrite-docs", false, "rewrite the flag table in docs/operations.md from the settings")

// The flag reference in docs/operations.md is made from the same settings as
// --help; run `go test ./cmd/ringd -run TestOperationsDocListsEveryFlag
// -rewrite-docs` after changing a flag.
func TestOperationsDocListsEveryFlag(t *testing.T) {
	const (
		path  = "../../docs/operations.md"
		begin = "<!-- flags:begin: made by `go test ./cmd/ringd -run TestOperationsDocListsEveryFlag -rewrite-docs` -->\n"
		end   = "<!-- flags:end -->\n"
	)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no flag table between %q and %q", path, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	want := flagsTable()
	if got := doc[i+len(begin) : j]; got != want {
		if *rewriteDocs {
			if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("the flag table in %s differs from the flags; rerun with -rewrite-docs", path)
	}
}
