package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringd/ringd/daemon"
)

// envPrefix starts the environment variable of every setting: --gossip-addr
// is RINGD_GOSSIP_ADDR.
const envPrefix = "RINGD_"

// Names of the flags that are not a daemon.Config field.
const (
	configFlag  = "config"
	versionFlag = "version"
)

// errVersion is what parseConfig returns for --version; --help gives
// flag.ErrHelp.
var errVersion = errors.New("version requested")

// setting is one daemon.Config field as a flag, an environment variable and a
// config file key.
type setting struct {
	name  string // flag name without dashes; also the config file key
	usage string // one sentence for --help
	// defText replaces the printed default when the default is not a fixed
	// value (the hostname).
	defText string
	// bind returns a flag.Value that reads and writes the field in c.
	bind func(c *daemon.Config) value
}

// value is a flag.Value that also names its type for --help.
type value interface {
	flag.Value
	typeName() string
}

// settings lists every daemon.Config field in the order --help shows them.
// TestEveryConfigFieldHasAFlag fails when a Config field is missing here.
var settings = []setting{
	{name: "name", defText: "the hostname",
		usage: "Member name, unique and stable in the cluster (the pod name in a StatefulSet): letters, digits, '.', '_' and '-'.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.Name) }},
	{name: "gossip-addr",
		usage: "host:port memberlist binds to, for gossip and peer messages.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.GossipAddr) }},
	{name: "advertise-addr",
		usage: "host:port other members use to reach this one, when it differs from --gossip-addr (NAT, 0.0.0.0 binds).",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.AdvertiseAddr) }},
	{name: "http-addr",
		usage: "host:port of the app-facing REST API and the admin routes. On a non-loopback address the admin routes refuse every request unless --admin-token-file is set.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.HTTPAddr) }},
	{name: "http-advertise-addr",
		usage: "host:port of this member's API that other members are told (e.g. $(POD_IP):7070). Default: --http-addr, with an unspecified host (0.0.0.0) replaced by the gossip advertise host; none when --http-addr is loopback and the members are not all on this host.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.HTTPAdvertiseAddr) }},
	{name: "ops-addr", defText: "none",
		usage: "host:port of a second listener that serves only GET /healthz, /readyz and /metrics, for the kubelet's probes and Prometheus (e.g. $(POD_IP):9090), while the API stays on --http-addr.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.OpsAddr) }},
	{name: "join",
		usage: "Comma-separated seed addresses (host or host:port); DNS names are resolved again on every attempt. Repeating the flag adds seeds.",
		bind:  func(c *daemon.Config) value { return &listValue{p: &c.Join} }},
	{name: "partitions",
		usage: "Partition count P: partitions 0..P-1 are shared out. Every member of a cluster must use the same value.",
		bind:  func(c *daemon.Config) value { return (*intValue)(&c.Partitions) }},
	{name: "load",
		usage: "Bounded-load factor, >= 1: no member owns more than ceil(load*P/members) partitions. Same on every member.",
		bind:  func(c *daemon.Config) value { return (*floatValue)(&c.Load) }},
	{name: "priority",
		usage: "Election priority: the live member with the highest priority (then the lowest name) leads.",
		bind:  func(c *daemon.Config) value { return (*intValue)(&c.Priority) }},
	{name: "bootstrap-expect",
		usage: "Members to wait for before the first configuration is formed; 0 bootstraps alone when --join is empty and otherwise waits to join.",
		bind:  func(c *daemon.Config) value { return (*intValue)(&c.BootstrapExpect) }},
	{name: "gossip-key-file",
		usage: "File holding the base64 AES key (16, 24 or 32 bytes) that encrypts gossip and peer messages.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.GossipKeyFile) }},
	{name: "admin-token-file",
		usage: "File holding the bearer token the admin endpoints require.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.AdminTokenFile) }},
	{name: "data-dir",
		usage: "Directory that keeps the term and vote across restarts.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.DataDir) }},
	{name: "cluster-label",
		usage: "Label that keeps other clusters' gossip out (at most 255 bytes). Same on every member.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.ClusterLabel) }},
	{name: "log-level",
		usage: "Log level: trace, debug, info, warn or error.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.LogLevel) }},
	{name: "log-json",
		usage: "Log JSON lines instead of text.",
		bind:  func(c *daemon.Config) value { return (*boolValue)(&c.LogJSON) }},
	{name: "preempt",
		usage: "Let a higher-ranked member take over from a sitting leader once it has been up for --settle.",
		bind:  func(c *daemon.Config) value { return (*boolValue)(&c.Preempt) }},
	{name: "heartbeat-interval",
		usage: "How often the leader heartbeats every member; each acknowledgement renews the member's lease.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.HeartbeatInterval) }},
	{name: "leader-timeout",
		usage: "How long a follower waits without a heartbeat before it campaigns; more than twice --heartbeat-interval.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.LeaderTimeout) }},
	{name: "election-timeout",
		usage: "Bound on each election phase; at least --heartbeat-interval.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.ElectionTimeout) }},
	{name: "leader-lease",
		usage: "How long a leader may act after a majority acknowledged it; at least twice --heartbeat-interval. Same on every member.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.LeaderLease) }},
	{name: "lease",
		usage: "How long a member holds its partitions after a granted renewal; it must outlast a failover: at least --leader-timeout + 2*--election-timeout + 2*--heartbeat-interval. Same on every member.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.Lease) }},
	{name: "drift",
		usage: "Assumed bound on the clock rate difference between members (0.05 = 5%), 0 to 0.5.",
		bind:  func(c *daemon.Config) value { return (*floatValue)(&c.Drift) }},
	{name: "safety-margin",
		usage: "Added to the drift-scaled lease before a silent member's partitions are given away.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.SafetyMargin) }},
	{name: "settle",
		usage: "How long membership changes are batched into one table change, and how long a new member waits for partitions.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.Settle) }},
	{name: "release-timeout",
		usage: "How long to wait for the app to acknowledge a release before letting the partition go anyway.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.ReleaseTimeout) }},
	{name: "shutdown-timeout",
		usage: "Bound on a graceful shutdown (drain, leave, stop HTTP) after the first SIGINT or SIGTERM.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.ShutdownTimeout) }},
	{name: "voters",
		usage: "How many members vote in elections (odd, 1 to 9); the leader keeps that many among the live members, the rest do not vote.",
		bind:  func(c *daemon.Config) value { return (*intValue)(&c.Voters) }},
	{name: "dead-voter-timeout",
		usage: "How long a voter may be dead before the leader replaces it with a live member.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.DeadVoterTimeout) }},
	{name: "dead-member-timeout",
		usage: "How long a dead member stays listed before it is forgotten.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.DeadMemberTimeout) }},
	{name: "rejoin-interval",
		usage: "How often an isolated member tries its seeds again.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.RejoinInterval) }},
	{name: "gossip-profile",
		usage: "memberlist timing defaults: lan, or local for loopback and tests (faster failure detection).",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.GossipProfile) }},
}

// lookupSetting returns the setting with the given flag name.
func lookupSetting(name string) (setting, bool) {
	i := slices.IndexFunc(settings, func(s setting) bool { return s.name == name })
	if i < 0 {
		return setting{}, false
	}
	return settings[i], true
}

// envName is the environment variable of a flag: RINGD_<FLAG>, upper case,
// '-' replaced by '_'.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig builds the configuration from the command line args (without
// the program name), the environment (env returns "" for an unset variable)
// and the config file named by --config or RINGD_CONFIG. The command line
// wins over the environment, which wins over the file, which wins over
// daemon.DefaultConfig. The result has passed Validate.
//
// It returns flag.ErrHelp for --help and errVersion for --version. Any other
// error is a one-line reason that names the flag, environment variable or
// config file key at fault.
func parseConfig(args []string, env func(string) string) (daemon.Config, error) {
	// First the command line alone: its syntax errors, --help, --version
	// and --config come before the file and the environment are read.
	probe := daemon.DefaultConfig()
	meta, err := parseArgs(args, &probe)
	if err != nil {
		return daemon.Config{}, err
	}
	if meta.version {
		return daemon.Config{}, errVersion
	}

	cfg := daemon.DefaultConfig()
	// source names where a flag's value came from, when not the command
	// line, so a Validate error can say so.
	source := map[string]string{}
	path := meta.configPath
	if path == "" {
		path = env(envName(configFlag))
	}
	if path != "" {
		if err := applyFile(path, &cfg, source); err != nil {
			return daemon.Config{}, err
		}
	}
	if err := applyEnv(env, &cfg, source); err != nil {
		return daemon.Config{}, err
	}
	// The command line last, so it wins. It parsed once already, so it
	// cannot fail now.
	if _, err := parseArgs(args, &cfg); err != nil {
		return daemon.Config{}, err
	}
	for _, name := range meta.set {
		delete(source, name)
	}
	if err := cfg.Validate(); err != nil {
		return daemon.Config{}, explain(err, source)
	}
	return cfg, nil
}

// cliResult is what the command line says besides Config fields.
type cliResult struct {
	configPath string
	version    bool
	set        []string // names of the Config flags given
}

// parseArgs applies the command line to cfg. Errors name the flag with two
// dashes whichever form was used. It returns flag.ErrHelp for -h, -help and
// --help.
func parseArgs(args []string, cfg *daemon.Config) (cliResult, error) {
	var res cliResult
	fs := flag.NewFlagSet("ringd", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, in one line
	fs.Usage = func() {}
	// The flag package words its errors itself; the first failed Set keeps
	// ours here.
	var setErr error
	for _, s := range settings {
		fs.Var(cliValue{value: s.bind(cfg), name: s.name, failed: &setErr}, s.name, s.usage)
	}
	fs.Var(cliValue{value: (*stringValue)(&res.configPath), name: configFlag, failed: &setErr}, configFlag, "")
	fs.Var(cliValue{value: (*boolValue)(&res.version), name: versionFlag, failed: &setErr}, versionFlag, "")

	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return res, flag.ErrHelp
	case setErr != nil:
		return res, setErr
	case err != nil:
		return res, rewordFlagError(err)
	}
	if rest := fs.Args(); len(rest) > 0 {
		if rest[0] == "true" || rest[0] == "false" {
			return res, fmt.Errorf("unexpected argument %q: give a boolean flag its value as --flag=%s", rest[0], rest[0])
		}
		return res, fmt.Errorf("unexpected argument %q: ringd takes only flags", rest[0])
	}
	fs.Visit(func(f *flag.Flag) {
		if _, ok := lookupSetting(f.Name); ok {
			res.set = append(res.set, f.Name)
		}
	})
	return res, nil
}

// rewordFlagError turns the flag package's own errors into ringd's wording,
// with the flag spelled with two dashes.
func rewordFlagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return fmt.Errorf("unknown flag --%s (see ringd --help)", strings.TrimLeft(name, "-"))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Errorf("flag --%s needs a value", strings.TrimLeft(name, "-"))
	}
	return err
}

// cliValue wraps a value for the command line: a failed Set records an error
// in ringd's wording.
type cliValue struct {
	value
	name   string
	failed *error
}

func (v cliValue) Set(s string) error {
	err := v.value.Set(s)
	if err != nil && *v.failed == nil {
		*v.failed = fmt.Errorf("invalid value %q for --%s: %w", s, v.name, err)
	}
	return err
}

// IsBoolFlag lets the flag package accept --preempt without a value.
func (v cliValue) IsBoolFlag() bool {
	_, ok := v.value.(*boolValue)
	return ok
}

// applyEnv applies every RINGD_<FLAG> variable that is set and not empty.
func applyEnv(env func(string) string, cfg *daemon.Config, source map[string]string) error {
	for _, s := range settings {
		key := envName(s.name)
		raw := env(key)
		if raw == "" {
			continue
		}
		if err := s.bind(cfg).Set(raw); err != nil {
			return fmt.Errorf("invalid value %q for %s: %w", raw, key, err)
		}
		source[s.name] = key
	}
	return nil
}

// applyFile applies a JSON config file: one object whose keys are flag names
// without dashes and whose values are strings, numbers or booleans (for
// "join" also an array of strings). Keys apply in sorted order, so the first
// error reported is always the same.
func applyFile(path string, cfg *daemon.Config, source map[string]string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("config file %s: "+format, append([]any{path}, args...)...)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return fail("%w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return fail("must hold one JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("must hold one JSON object, found more after it")
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		s, ok := lookupSetting(key)
		if !ok {
			if key == configFlag || key == versionFlag {
				return fail("key %q can only be given on the command line", key)
			}
			return fail("unknown key %q", key)
		}
		raw, err := fileValue(obj[key], s)
		if err != nil {
			return fail("invalid value for key %q: %v", key, err)
		}
		if err := s.bind(cfg).Set(raw); err != nil {
			return fail("invalid value %q for key %q: %w", raw, key, err)
		}
		source[key] = fmt.Sprintf("config file %s", path)
	}
	return nil
}

// fileValue turns one JSON value into the text a flag takes.
func fileValue(raw json.RawMessage, s setting) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any:
		if s.name != "join" {
			break
		}
		items := make([]string, 0, len(v))
		for _, item := range v {
			str, ok := item.(string)
			if !ok {
				return "", errors.New("must be a string or an array of strings")
			}
			items = append(items, str)
		}
		return strings.Join(items, ","), nil
	}
	return "", errors.New("must be a string, a number or a boolean")
}

// explain rewrites Validate's errors as one line, adding where a value came
// from when it was not the command line. The result still wraps err.
func explain(err error, source map[string]string) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if _, single := err.(*daemon.FieldError); !single {
			errs = j.Unwrap()
		}
	}
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		msg := e.Error()
		var fe *daemon.FieldError
		if errors.As(e, &fe) {
			if src := source[strings.TrimPrefix(fe.Flag, "--")]; src != "" {
				msg += " (set by " + src + ")"
			}
		}
		parts = append(parts, msg)
	}
	return &lineError{msg: strings.Join(parts, "; "), err: err}
}

// lineError is an error with a one-line message that wraps another error.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

// printUsage writes the --help text.
func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(`Usage: ringd [flags]

ringd is a partition-ownership sidecar. It runs beside each instance of an
application, finds the other ringd members by gossip, elects one leader, and
tells the local application over a local REST API which of the partitions
0..P-1 it owns right now, each with a fencing token. Every flag can also be set
as the environment variable shown, or as a key (the flag name without dashes)
of the JSON object in a --config file. The command line wins over the
environment, which wins over the config file, which wins over the defaults.

Flags:
`)
	defaults := daemon.DefaultConfig()
	for _, s := range settings {
		v := s.bind(&defaults)
		def := s.defText
		if def == "" {
			def = v.String()
		}
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(&b, "  --%s %s\n      %s\n      default: %s; env: %s\n",
			s.name, v.typeName(), s.usage, def, envName(s.name))
	}
	fmt.Fprintf(&b, "  --%s file\n      %s\n      default: none; env: %s\n", configFlag,
		`JSON config file: one object whose keys are flag names without dashes, e.g. {"partitions": 64, "join": "a:7946,b:7946", "lease": "3s"}. Unknown keys are an error.`,
		envName(configFlag))
	fmt.Fprintf(&b, "  --%s\n      Print the version and exit.\n", versionFlag)
	fmt.Fprintf(&b, "  --help\n      Print this help and exit.\n")
	io.WriteString(w, b.String())
}

// The flag.Value types. Set returns only the reason ("must be an integer");
// the caller adds the value and where it came from.

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) typeName() string   { return "string" }

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
	if errors.Is(err, strconv.ErrRange) {
		return errors.New("out of range")
	}
	if err != nil {
		return errors.New("must be an integer")
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) typeName() string { return "int" }

type floatValue float64

func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return errors.New("must be a number")
	}
	*v = floatValue(f)
	return nil
}
func (v *floatValue) typeName() string { return "number" }

type boolValue bool

func (v *boolValue) String() string { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return errors.New("must be true or false")
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) typeName() string { return "bool" }

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("must be a duration such as 500ms, 3s or 1m")
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) typeName() string { return "duration" }

// listValue is a comma-separated list. The first Set on a value replaces the
// list (a lower layer's value), later ones on the same value append, so
// "--join a --join b,c" gives [a b c]. Entries are trimmed; empty ones are
// kept for Validate to report.
type listValue struct {
	p   *[]string
	set bool
}

func (v *listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v *listValue) Set(s string) error {
	var items []string
	if strings.TrimSpace(s) != "" {
		for _, item := range strings.Split(s, ",") {
			items = append(items, strings.TrimSpace(item))
		}
	}
	if v.set {
		*v.p = append(*v.p, items...)
	} else {
		*v.p = items
	}
	v.set = true
	return nil
}

func (v *listValue) typeName() string { return "list" }
