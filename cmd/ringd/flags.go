package main

import (
	"bytes"
	"encoding/json"
	"errors"
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

// What parseConfig returns for --help and --version.
var (
	errHelp    = errors.New("help requested")
	errVersion = errors.New("version requested")
)

// setting is one daemon.Config field as a flag, an environment variable and a
// config file key.
type setting struct {
	name  string // flag name without dashes; also the config file key
	usage string // one sentence for --help
	// defText replaces the printed default when the default is not a fixed
	// value (the hostname).
	defText string
	// bind returns a value that reads and writes the field in c.
	bind func(c *daemon.Config) value
}

// value reads and writes one setting as text.
type value interface {
	String() string
	// Set parses s into the setting. Its error is only the reason ("must be
	// an integer"); the caller adds the value and where it came from.
	Set(s string) error
	typeName() string // for --help
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
		usage: "Bounded-load factor, >= 1: no member owns more than ceil(load*P/members) partitions. The leader's is in force; change it by a rolling update.",
		bind:  func(c *daemon.Config) value { return (*floatValue)(&c.Load) }},
	{name: "priority",
		usage: "Election priority: the live member with the highest priority (then the lowest name) leads.",
		bind:  func(c *daemon.Config) value { return (*intValue)(&c.Priority) }},
	{name: "weight",
		usage: "This member's share of the partitions relative to the others, from 0.01 to 100: with weights 1 and 2 the second gets about twice as many, within the load bound ceil(load*P*weight/total weight).",
		bind:  func(c *daemon.Config) value { return (*floatValue)(&c.Weight) }},
	{name: "zone", defText: "none",
		usage: "This member's failure domain (a Kubernetes zone, a rack): with members in two zones or more, each partition's standbys are in other zones than its owner's.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.Zone) }},
	{name: "standbys",
		usage: "Standby owners the leader lists for each partition, 0 to 8: the members next in line, which take over on a failover and whose apps may warm caches (GET /partitions/mine lists them). The leader's is in force.",
		bind:  func(c *daemon.Config) value { return (*intValue)(&c.Standbys) }},
	{name: "bootstrap-expect",
		usage: "Members to wait for before the first configuration is formed; 0 bootstraps alone when --join is empty and otherwise waits to join.",
		bind:  func(c *daemon.Config) value { return (*intValue)(&c.BootstrapExpect) }},
	{name: "gossip-key-file",
		usage: "File holding the base64 AES key (16, 24 or 32 bytes) that encrypts gossip and peer messages.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.GossipKeyFile) }},
	{name: "admin-token-file",
		usage: "File holding the bearer token the admin endpoints require; read again on SIGHUP and whenever it changes.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.AdminTokenFile) }},
	{name: "tls-cert-file",
		usage: "PEM certificate chain that makes --http-addr serve HTTPS (with --tls-key-file); read again on SIGHUP and whenever it changes.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.TLSCertFile) }},
	{name: "tls-key-file",
		usage: "PEM private key of --tls-cert-file.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.TLSKeyFile) }},
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
		usage: "How long a leader may act after a majority acknowledged it, and how far ahead its own partitions' lease runs; at least twice --heartbeat-interval. May differ while a rolling update changes it (docs/operations.md).",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.LeaderLease) }},
	{name: "lease",
		usage: "How long a member holds its partitions after a granted renewal; it must outlast a failover: at least --leader-timeout + 2*--election-timeout + 2*--heartbeat-interval. The leader's is in force; change it by a rolling update.",
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
	{name: "flap-hold-down",
		usage: "How long a member back from an outage within its process (dead in gossip, or silent to the leader for a lease) waits before it gets partitions again, doubling per further flap up to 16x; 0 turns flap damping off. A restart only waits --settle.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.FlapHoldDown) }},
	{name: "move-budget",
		usage: "Most partitions a rebalance (joins, weights, the load bound) may have in a handoff at once; 0: a tenth of --partitions, at least one. Drains, leaves and failovers are never held back.",
		bind:  func(c *daemon.Config) value { return (*intValue)(&c.MoveBudget) }},
	{name: "move-cooldown",
		usage: "How long after a partition got an owner a rebalance may move it again; 0: at once. Drains, leaves and failovers are never held back.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.MoveCooldown) }},
	{name: "release-timeout",
		usage: "How long to wait for the app to acknowledge a release before letting the partition go anyway.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.ReleaseTimeout) }},
	{name: "app-liveness-timeout", defText: "0 (off)",
		usage: "Drain this member once its application has not polled GET /partitions/mine for this long (a long-poll counts until its wait ends); it takes partitions again at the next poll. 0: off.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.AppLivenessTimeout) }},
	{name: "shutdown-timeout",
		usage: "Bound on a graceful shutdown (drain, leave, stop HTTP) after the first SIGINT or SIGTERM.",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.ShutdownTimeout) }},
	{name: "shutdown",
		usage: "What SIGTERM does with this member's partitions: drain (move them to other members) or restart (release them and have the leader keep them, owned by nobody, for --rejoin-grace, for this member's next process under the same name, as in a StatefulSet).",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.ShutdownMode) }},
	{name: "rejoin-grace",
		usage: "With --shutdown=restart: how long the leader keeps the partitions for this member to come back under the same name before it gives them to others (at most 1h).",
		bind:  func(c *daemon.Config) value { return (*durationValue)(&c.RejoinGrace) }},
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
		usage: "memberlist timing defaults: lan; wan for hundreds of members or slow links (a fifth of the gossip cost, slower failure detection); or local for loopback and tests (faster failure detection).",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.GossipProfile) }},
	{name: "timing-profile",
		usage: "Timings for every timing flag not set otherwise: default, or fast (failover within a second on a quick LAN; see docs/operations.md). Change it by a rolling update.",
		bind:  func(c *daemon.Config) value { return (*stringValue)(&c.TimingProfile) }},
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

// parseConfig resolves the configuration from the command line args
// (without the program name), the environment (env returns "" for an unset
// variable) and the config file named by --config or RINGD_CONFIG. The
// command line wins over the environment, which wins over the file, which
// wins over daemon.DefaultConfig. The result has passed daemon's checks, and
// the files it names are read (daemon.Config.Resolve).
//
// It returns errHelp for --help and errVersion for --version. Any other error
// is a one-line reason that names the flag, environment variable or config
// file key at fault.
func parseConfig(args []string, env func(string) string) (daemon.Resolved, error) {
	cfg := daemon.DefaultConfig()
	// The command line first: its errors, --help, --version and --config
	// come before the file and the environment are read.
	cl, err := parseCommandLine(args, &cfg)
	if err != nil {
		return daemon.Resolved{}, err
	}
	if cl.version {
		return daemon.Resolved{}, errVersion
	}

	lower := lowerLayers{cfg: &cfg, given: cl.given, source: map[string]string{}}
	path := cl.configPath
	if path == "" {
		path = env(envName(configFlag))
	}
	if path != "" {
		if err := lower.applyFile(path); err != nil {
			return daemon.Resolved{}, err
		}
	}
	if err := lower.applyEnv(env); err != nil {
		return daemon.Resolved{}, err
	}
	if err := lower.applyTimingProfile(); err != nil {
		return daemon.Resolved{}, err
	}
	r, err := cfg.Resolve()
	if err != nil {
		return daemon.Resolved{}, explain(err, lower.source)
	}
	return r, nil
}

// commandLine is what the command line says besides Config fields.
type commandLine struct {
	configPath string
	version    bool
	given      map[string]bool // the Config flags it set
}

// parseCommandLine applies the command line to cfg in one pass: -name,
// --name, --name=value and, except for a boolean flag, --name value, up to
// "--" or the first argument that is not a flag. Errors name the flag with two
// dashes whichever form was used. It returns errHelp for -h, -help and
// --help.
func parseCommandLine(args []string, cfg *daemon.Config) (commandLine, error) {
	cl := commandLine{given: map[string]bool{}}
	values := map[string]value{
		configFlag:  (*stringValue)(&cl.configPath),
		versionFlag: (*boolValue)(&cl.version),
	}
	for _, s := range settings {
		values[s.name] = s.bind(cfg) // bound once, so a repeated --join appends
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return cl, unexpectedArgument(args[i+1:])
		}
		if len(arg) < 2 || arg[0] != '-' {
			return cl, unexpectedArgument(args[i:])
		}
		name, raw, hasValue := strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
		switch {
		case name == "" || name[0] == '-':
			return cl, fmt.Errorf("bad flag syntax %q: give a flag as --name or --name=value", arg)
		case name == "help" || name == "h":
			return cl, errHelp
		}
		v, ok := values[name]
		if !ok {
			return cl, fmt.Errorf("unknown flag --%s (see ringd --help)", name)
		}
		if !hasValue {
			_, isBool := v.(*boolValue)
			switch {
			case isBool:
				raw = "true"
			case i+1 < len(args):
				i++
				raw = args[i]
			default:
				return cl, fmt.Errorf("flag --%s needs a value", name)
			}
		}
		if err := v.Set(raw); err != nil {
			return cl, fmt.Errorf("invalid value %q for --%s: %w", raw, name, err)
		}
		if name != configFlag && name != versionFlag {
			cl.given[name] = true
		}
	}
	return cl, nil
}

// unexpectedArgument is the error for the arguments left after the flags,
// nil when there are none.
func unexpectedArgument(rest []string) error {
	switch {
	case len(rest) == 0:
		return nil
	case rest[0] == "true" || rest[0] == "false":
		return fmt.Errorf("unexpected argument %q: give a boolean flag its value as --flag=%s", rest[0], rest[0])
	}
	return fmt.Errorf("unexpected argument %q: ringd takes only flags", rest[0])
}

// lowerLayers applies the config file and then the environment to what the
// command line left alone.
type lowerLayers struct {
	cfg   *daemon.Config
	given map[string]bool // flags the command line set
	// source names where a flag's value came from, when not the command
	// line, so a Resolve error can say so.
	source map[string]string
}

// set applies raw, from the source named from, to the setting s. A flag the
// command line gave keeps its value, but raw must still parse: a typo in a
// file is reported even while a flag covers it.
func (l lowerLayers) set(s setting, raw, from string) error {
	if l.given[s.name] {
		var ignored daemon.Config
		return s.bind(&ignored).Set(raw)
	}
	if err := s.bind(l.cfg).Set(raw); err != nil {
		return err
	}
	l.source[s.name] = from
	return nil
}

// applyTimingProfile gives every timing of the chosen profile that no
// layer set the profile's value. An unknown profile is left to Resolve.
func (l lowerLayers) applyTimingProfile() error {
	profile, ok := daemon.TimingProfiles[l.cfg.TimingProfile]
	if !ok {
		return nil
	}
	for name, raw := range profile {
		s, ok := lookupSetting(name)
		if !ok {
			return fmt.Errorf("timing profile %q names an unknown flag --%s", l.cfg.TimingProfile, name)
		}
		if l.given[name] || l.source[name] != "" {
			continue
		}
		if err := l.set(s, raw, "--timing-profile "+l.cfg.TimingProfile); err != nil {
			return err
		}
	}
	return nil
}

// applyEnv applies every RINGD_<FLAG> variable that is set and not empty.
func (l lowerLayers) applyEnv(env func(string) string) error {
	for _, s := range settings {
		key := envName(s.name)
		raw := env(key)
		if raw == "" {
			continue
		}
		if err := l.set(s, raw, key); err != nil {
			return fmt.Errorf("invalid value %q for %s: %w", raw, key, err)
		}
	}
	return nil
}

// applyFile applies a JSON config file: one object whose keys are flag names
// without dashes and whose values are strings, numbers or booleans (for
// "join" also an array of strings). Keys apply in sorted order, so the first
// error reported is always the same.
func (l lowerLayers) applyFile(path string) error {
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
		if err := l.set(s, raw, "config file "+path); err != nil {
			return fail("invalid value %q for key %q: %w", raw, key, err)
		}
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

// explain rewrites Resolve's errors as one line, adding where a value came
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

// flagDoc is one setting as --help and docs/operations.md describe it.
type flagDoc struct {
	name, typeName, usage, def, env string
}

// flagDocs describes every setting, in the order of settings.
func flagDocs() []flagDoc {
	defaults := daemon.DefaultConfig()
	out := make([]flagDoc, 0, len(settings))
	for _, s := range settings {
		v := s.bind(&defaults)
		def := s.defText
		if def == "" {
			def = v.String()
		}
		if def == "" {
			def = "none"
		}
		out = append(out, flagDoc{name: s.name, typeName: v.typeName(), usage: s.usage, def: def, env: envName(s.name)})
	}
	return out
}

// flagsTable is the flag reference of docs/operations.md ("Flags"), a
// Markdown table made from the same settings as --help
// (TestOperationsDocListsEveryFlag keeps the two in step).
func flagsTable() string {
	var b strings.Builder
	b.WriteString("| flag | default | environment | what |\n|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for _, f := range flagDocs() {
		fmt.Fprintf(&b, "| `--%s` %s | %s | `%s` | %s |\n", f.name, f.typeName, cell(f.def), f.env, cell(f.usage))
	}
	return b.String()
}

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
	for _, f := range flagDocs() {
		fmt.Fprintf(&b, "  --%s %s\n      %s\n      default: %s; env: %s\n", f.name, f.typeName, f.usage, f.def, f.env)
	}
	fmt.Fprintf(&b, "  --%s file\n      %s\n      default: none; env: %s\n", configFlag,
		`JSON config file: one object whose keys are flag names without dashes, e.g. {"partitions": 64, "join": "a:7946,b:7946", "lease": "3s"}. Unknown keys are an error.`,
		envName(configFlag))
	fmt.Fprintf(&b, "  --%s\n      Print the version and exit.\n", versionFlag)
	fmt.Fprintf(&b, "  --help\n      Print this help and exit.\n")
	io.WriteString(w, b.String())
}

// The value types.

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
// kept for Resolve to report.
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
