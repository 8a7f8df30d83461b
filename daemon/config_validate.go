package daemon

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/internal/secret"
	"github.com/ringd/ringd/rebalance"
)

// Sentinel errors of the configuration. Callers test for them with errors.Is.
var (
	// ErrInvalidConfig is wrapped by every error Resolve returns.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrInvalidGossipKey means a gossip key file does not hold the base64
	// encoding of a 16, 24 or 32 byte AES key.
	ErrInvalidGossipKey = secret.ErrInvalidKey
	// ErrEmptyAdminToken means an admin token file holds nothing but
	// white space.
	ErrEmptyAdminToken = secret.ErrEmptyToken
	// ErrSecretFileTooLarge means a key or token file is larger than
	// secret.MaxFileSize; such a file is certainly not a key or a token.
	ErrSecretFileTooLarge = secret.ErrTooLarge
)

// Bounds that Resolve enforces. They are the limits of what ringd supports,
// not recommendations.
const (
	maxNameLength      = 128
	maxPartitions      = 65536
	maxLoad            = 100
	maxBootstrapExpect = 1000
	// maxVoters: more voters only slow elections down.
	maxVoters = 9
	// maxClusterLabelLen is memberlist's limit on the label it prepends to
	// every packet.
	maxClusterLabelLen = 255
	maxDrift           = 0.5
	// maxFlapHoldDown: doubled up to 16x, an hour already keeps a flaky
	// member out for most of a day.
	maxFlapHoldDown   = time.Hour
	maxSecretFileSize = secret.MaxFileSize
	// maxZoneLen keeps the zone well within memberlist's 512-byte metadata.
	maxZoneLen = 63
)

// FieldError is one bad setting found by Resolve. Its message names the
// command line flag and the bound it breaks, e.g. "--load must be >= 1 (got
// 0.5)". It wraps ErrInvalidConfig and, when set, the underlying cause.
type FieldError struct {
	// Flag is the command line flag of the bad field, with its dashes
	// ("--load").
	Flag string
	// Msg says what is wrong, without the flag ("must be >= 1 (got 0.5)").
	Msg string
	// Err is the underlying cause (a file error, ErrInvalidGossipKey), or nil.
	Err error
}

func (e *FieldError) Error() string {
	if e.Err != nil {
		return e.Flag + " " + e.Msg + ": " + e.Err.Error()
	}
	return e.Flag + " " + e.Msg
}

// Unwrap lets errors.Is find ErrInvalidConfig and the cause.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidConfig, e.Err}
	}
	return []error{ErrInvalidConfig}
}

// Resolve checks every field of c and reads the gossip key and admin token
// files it names, once: the result is all Start needs. On failure it returns
// one *FieldError per bad field (an unreadable or malformed file included),
// joined with errors.Join. Relations between fields (heartbeat against
// timeouts and leases) are checked only when the fields involved are valid
// on their own.
func (c Config) Resolve() (Resolved, error) {
	r := Resolved{cfg: c, resolved: true}
	r.cfg.Join = slices.Clone(c.Join) // the caller keeps no handle on r
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, &FieldError{Flag: flag, Msg: fmt.Sprintf(format, args...)})
	}
	badCause := func(flag, msg string, cause error) {
		errs = append(errs, &FieldError{Flag: flag, Msg: msg, Err: cause})
	}

	// Identity and addresses.
	switch {
	case c.Name == "":
		bad("--name", "must not be empty (the default is the hostname)")
	case len(c.Name) > maxNameLength:
		bad("--name", "must be at most %d characters (got %d)", maxNameLength, len(c.Name))
	case !validName(c.Name):
		bad("--name", "may only contain letters, digits, '.', '_' and '-' (got %q)", c.Name)
	}
	if err := checkHostPort(c.GossipAddr, 0, false); err != nil {
		bad("--gossip-addr", "must be host:port with a port 0-65535 (got %q): %v", c.GossipAddr, err)
	}
	if c.AdvertiseAddr != "" {
		if err := checkHostPort(c.AdvertiseAddr, 1, true); err != nil {
			bad("--advertise-addr", "must be empty or host:port with a port 1-65535 (got %q): %v", c.AdvertiseAddr, err)
		}
	}
	// Port 0 (any free port) only makes sense in tests, but it is harmless.
	if err := checkHostPort(c.HTTPAddr, 0, false); err != nil {
		bad("--http-addr", "must be host:port with a port 0-65535 (got %q): %v", c.HTTPAddr, err)
	}
	if c.HTTPAdvertiseAddr != "" {
		if err := checkHostPort(c.HTTPAdvertiseAddr, 1, true); err != nil {
			bad("--http-advertise-addr", "must be empty or host:port with a port 1-65535 (got %q): %v", c.HTTPAdvertiseAddr, err)
		}
	}
	if c.OpsAddr != "" {
		if err := checkHostPort(c.OpsAddr, 0, false); err != nil {
			bad("--ops-addr", "must be empty or host:port with a port 0-65535 (got %q): %v", c.OpsAddr, err)
		}
	}
	for i, seed := range c.Join {
		if err := checkSeed(seed); err != nil {
			bad("--join", "entry %d must be host or host:port with a port 1-65535 (got %q): %v", i+1, seed, err)
			break // one error per field
		}
	}

	// Cluster shape.
	if c.Partitions < 1 || c.Partitions > maxPartitions {
		bad("--partitions", "must be between 1 and %d (got %d)", maxPartitions, c.Partitions)
	}
	if !(c.Weight >= rebalance.MinWeight && c.Weight <= rebalance.MaxWeight) {
		bad("--weight", "must be a number from %v to %v (got %v)", rebalance.MinWeight, rebalance.MaxWeight, c.Weight)
	}
	switch {
	case math.IsNaN(c.Load) || math.IsInf(c.Load, 0):
		bad("--load", "must be a finite number (got %v)", c.Load)
	case c.Load < 1:
		bad("--load", "must be >= 1 (got %v)", c.Load)
	case c.Load > maxLoad:
		bad("--load", "must be <= %d (got %v)", maxLoad, c.Load)
	}
	switch {
	case c.BootstrapExpect < 0:
		bad("--bootstrap-expect", "must be >= 0 (got %d)", c.BootstrapExpect)
	case c.BootstrapExpect > maxBootstrapExpect:
		bad("--bootstrap-expect", "must be <= %d (got %d)", maxBootstrapExpect, c.BootstrapExpect)
	}
	if c.Voters < 1 || c.Voters > maxVoters || c.Voters%2 == 0 {
		bad("--voters", "must be odd, 1 to %d (got %d): an even count survives no more failures than one fewer", maxVoters, c.Voters)
	}

	// Secrets and storage.
	if c.GossipKeyFile != "" {
		var err error
		if r.gossipKeys, err = LoadGossipKeys(c.GossipKeyFile); err != nil {
			badCause("--gossip-key-file", "must name a readable file holding base64 keys of 16, 24 or 32 bytes, one per line", err)
		}
	}
	if c.AdminTokenFile != "" {
		var err error
		if r.adminTokens, err = LoadAdminTokens(c.AdminTokenFile); err != nil {
			badCause("--admin-token-file", "must name a readable file holding a token", err)
		}
	}
	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		bad("--tls-cert-file", "and --tls-key-file go together: give both or neither")
	case c.TLSCertFile != "":
		var err error
		if r.tlsCert, err = LoadTLSCert(c.TLSCertFile, c.TLSKeyFile); err != nil {
			badCause("--tls-cert-file", "and --tls-key-file must name a PEM certificate chain and its private key", err)
		}
	}
	if c.DataDir != "" {
		// A missing directory is fine (Run creates it); a file in its place
		// is not.
		if fi, err := os.Stat(c.DataDir); err == nil && !fi.IsDir() {
			bad("--data-dir", "must be a directory (got the file %q)", c.DataDir)
		}
	}
	if len(c.ClusterLabel) > maxClusterLabelLen {
		bad("--cluster-label", "must be at most %d bytes (got %d)", maxClusterLabelLen, len(c.ClusterLabel))
	}

	// Logging and gossip profile.
	switch strings.ToLower(c.LogLevel) {
	case "trace", "debug", "info", "warn", "error":
	default:
		bad("--log-level", "must be one of trace, debug, info, warn, error (got %q)", c.LogLevel)
	}
	if c.GossipProfile != "lan" && c.GossipProfile != "local" && c.GossipProfile != "wan" {
		bad("--gossip-profile", "must be lan, wan or local (got %q)", c.GossipProfile)
	}
	if _, ok := TimingProfiles[c.TimingProfile]; !ok {
		bad("--timing-profile", "must be default or fast (got %q)", c.TimingProfile)
	}

	// Timing.
	if math.IsNaN(c.Drift) || c.Drift < 0 || c.Drift > maxDrift {
		bad("--drift", "must be between 0 and %v (got %v)", maxDrift, c.Drift)
	}
	positive := []struct {
		flag string
		d    time.Duration
	}{
		{"--heartbeat-interval", c.HeartbeatInterval},
		{"--leader-timeout", c.LeaderTimeout},
		{"--election-timeout", c.ElectionTimeout},
		{"--leader-lease", c.LeaderLease},
		{"--lease", c.Lease},
		{"--settle", c.Settle},
		{"--release-timeout", c.ReleaseTimeout},
		{"--shutdown-timeout", c.ShutdownTimeout},
		{"--rejoin-interval", c.RejoinInterval},
		{"--dead-voter-timeout", c.DeadVoterTimeout},
		{"--dead-member-timeout", c.DeadMemberTimeout},
	}
	okDur := make(map[string]bool, len(positive))
	for _, p := range positive {
		if p.d <= 0 {
			bad(p.flag, "must be > 0 (got %v)", p.d)
			continue
		}
		okDur[p.flag] = true
	}
	if c.MoveBudget < 0 {
		bad("--move-budget", "must be >= 0 (0: a tenth of --partitions) (got %d)", c.MoveBudget)
	}
	if c.ShutdownMode != ShutdownDrain && c.ShutdownMode != ShutdownRestart {
		bad("--shutdown", "must be %q (move the partitions to other members) or %q (keep them for this member's restart) (got %q)",
			ShutdownDrain, ShutdownRestart, c.ShutdownMode)
	}
	if c.RejoinGrace <= 0 || c.RejoinGrace > core.MaxRejoinGrace {
		bad("--rejoin-grace", "must be more than 0 and at most %v (got %v)", core.MaxRejoinGrace, c.RejoinGrace)
	}
	if c.Standbys < 0 || c.Standbys > rebalance.MaxStandbys {
		bad("--standbys", "must be between 0 and %d (got %d)", rebalance.MaxStandbys, c.Standbys)
	}
	if len(c.Zone) > maxZoneLen || strings.ContainsFunc(c.Zone, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		bad("--zone", "must be at most %d printable ASCII characters without spaces (got %q)", maxZoneLen, c.Zone)
	}
	if c.MoveCooldown < 0 || c.MoveCooldown > time.Hour {
		bad("--move-cooldown", "must be between 0 (off) and 1h (got %v)", c.MoveCooldown)
	}
	if c.FlapHoldDown < 0 || c.FlapHoldDown > maxFlapHoldDown {
		bad("--flap-hold-down", "must be between 0 (damping off) and %v (got %v)", maxFlapHoldDown, c.FlapHoldDown)
	}
	if t := c.AppLivenessTimeout; t != 0 && (t < time.Second || t > time.Hour) {
		bad("--app-liveness-timeout", "must be 0 (off) or between 1s and 1h (got %v)", t)
	}
	if c.SafetyMargin < 0 {
		bad("--safety-margin", "must be >= 0 (got %v)", c.SafetyMargin)
	}
	if hb := c.HeartbeatInterval; okDur["--heartbeat-interval"] {
		// A follower must be able to miss one heartbeat without campaigning.
		if okDur["--leader-timeout"] && c.LeaderTimeout <= times(2, hb) {
			bad("--leader-timeout", "must be more than twice --heartbeat-interval (got %v, heartbeat interval %v)", c.LeaderTimeout, hb)
		}
		if okDur["--election-timeout"] && c.ElectionTimeout < hb {
			bad("--election-timeout", "must be at least --heartbeat-interval (got %v, heartbeat interval %v)", c.ElectionTimeout, hb)
		}
		if okDur["--leader-lease"] && c.LeaderLease < times(2, hb) {
			bad("--leader-lease", "must be at least twice --heartbeat-interval (got %v, heartbeat interval %v)", c.LeaderLease, hb)
		}
		// A member's lease must outlast a leader failover (noticing the
		// silence, probing, voting, the first renewal round trips);
		// otherwise every leader change makes every member drop its
		// partitions and the app sees needless moves.
		if okDur["--lease"] && okDur["--leader-timeout"] && okDur["--election-timeout"] {
			if need := c.LeaderTimeout + times(2, c.ElectionTimeout) + times(2, hb); c.Lease < need {
				bad("--lease", "must outlast a leader failover: at least --leader-timeout + 2*--election-timeout + 2*--heartbeat-interval = %v (got %v)", need, c.Lease)
			}
		}
	}
	if len(errs) > 0 {
		return Resolved{}, errors.Join(errs...)
	}
	return r, nil
}

// ShapeFingerprint is a short, stable hex hash of what every member of one
// cluster must share: the partition count and the cluster label. It goes into
// memberlist node metadata so that a member of another shape is refused at
// join. The timing settings and the load factor are not in it: they may
// differ between members while a rolling update changes them (the leader's
// rule; docs/operations.md, "Changing a cluster-wide setting").
func (c Config) ShapeFingerprint() string {
	canon := fmt.Sprintf("ringd-shape-v1\npartitions=%d\nlabel=%q\n", c.Partitions, c.ClusterLabel)
	sum := sha256.Sum256([]byte(canon))
	return hex.EncodeToString(sum[:8])
}

// Fingerprint is the fingerprint ringd gossiped before ShapeFingerprint, still
// gossiped for members of that older version, which refuse a member whose
// value differs from theirs: a short, stable hex hash of the partition count,
// the load factor, the cluster label, and the lease timings (lease, leader
// lease, drift, safety margin). A member without a shape fingerprint is of
// that version, and is refused when its value differs from ours, because it
// counts every lease with its own settings. The value depends only on those
// settings, never on the process or the Go version.
func (c Config) Fingerprint() string {
	// Version tag first, so a future change of the hashed fields cannot
	// collide with an old fingerprint. %q keeps the label unambiguous.
	canon := fmt.Sprintf("ringd-fingerprint-v2\npartitions=%d\nload=%s\nlabel=%q\nlease=%d\nleaderLease=%d\ndrift=%s\nmargin=%d\n",
		c.Partitions, strconv.FormatFloat(c.Load, 'g', -1, 64), c.ClusterLabel,
		c.Lease, c.LeaderLease, strconv.FormatFloat(c.Drift, 'g', -1, 64), c.SafetyMargin)
	sum := sha256.Sum256([]byte(canon))
	return hex.EncodeToString(sum[:8])
}

// LoadGossipKeys reads a gossip key file: one or more keys, each the
// standard base64 encoding of a 16, 24 or 32 byte AES key, one per line,
// the first the primary. Errors never contain the key material.
func LoadGossipKeys(path string) ([][]byte, error) { return secret.GossipKeysFile(path) }

// LoadTLSCert reads a PEM certificate chain and its key.
func LoadTLSCert(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &cert, nil
}

// LoadAdminTokens reads the admin bearer tokens: one per line, surrounding
// white space removed, at least one. Every one is accepted, so a token is
// rotated by adding the new one, updating the clients, removing the old.
func LoadAdminTokens(path string) ([]string, error) { return secret.Tokens(path) }

// times returns n*d for a positive d, saturating instead of overflowing.
func times(n int64, d time.Duration) time.Duration {
	if d > math.MaxInt64/time.Duration(n) {
		return math.MaxInt64
	}
	return time.Duration(n) * d
}

// validName reports whether s only has letters, digits, '.', '_' and '-'.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// checkHostPort checks a host:port address with a port in minPort..65535.
// An empty host (":7070", all interfaces) is allowed unless needHost.
func checkHostPort(addr string, minPort int, needHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("not host:port")
	}
	if host == "" {
		if needHost {
			return errors.New("empty host")
		}
	} else if !validHost(host) {
		return fmt.Errorf("bad host %q", host)
	}
	return checkPort(port, minPort)
}

// checkSeed checks a --join entry: host, [ipv6] or an IPv6 literal, or any of
// them with a port.
func checkSeed(seed string) error {
	if seed == "" {
		return errors.New("empty entry")
	}
	if ip := net.ParseIP(seed); ip != nil {
		return nil // bare IPv4 or IPv6
	}
	if !strings.Contains(seed, ":") {
		if !validHost(seed) {
			return errors.New("bad host")
		}
		return nil
	}
	return checkHostPort(seed, 1, true)
}

// checkPort checks a decimal port number in minPort..65535.
func checkPort(port string, minPort int) error {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || int(n) < minPort {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// validHost reports whether h is an IP literal or looks like a DNS name
// (letters, digits, '.', '-', '_'; at most 253 bytes). It does not resolve.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	return validName(h)
}
