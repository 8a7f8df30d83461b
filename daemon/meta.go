package daemon

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Gossip names. Every process gossips under its member name plus its
// incarnation ("web-0@kx3q1z8b"): memberlist refuses a known name from a new
// address until the old entry is dead and reclaimable (most of a minute with
// the LAN profile, since the news travels by push-pull), so a rescheduled pod
// coming back under its old name from a new IP was locked out. With the
// incarnation in the gossip name, the new process is simply a new node and
// the old one dies on its own; the daemon maps both to the member name, the
// newest live incarnation winning. Member names cannot contain '@'.
const gossipNameSep = "@"

// gossipName is the memberlist node name of member name's process inc.
func gossipName(name string, inc uint64) string {
	return name + gossipNameSep + strconv.FormatUint(inc, 36)
}

// memberName is the member name of a memberlist node name (a name without
// an incarnation, from an older ringd, is taken as it is).
func memberName(gossip string) string {
	name, _, _ := strings.Cut(gossip, gossipNameSep)
	return name
}

// nodeMeta is what every member gossips about itself in memberlist's node
// metadata (at most 512 bytes). Short JSON keys keep it small.
type nodeMeta struct {
	// Version is the peer protocol version.
	Version int `json:"v"`
	// Incarnation identifies this process: a member restarted under the
	// same name gets a new one, so grants do not pass to it.
	Incarnation uint64 `json:"i"`
	// Identity is the member's voter identity (core.Options.Identity).
	Identity uint64 `json:"id"`
	Priority int    `json:"p"`
	HTTPAddr string `json:"h"`
	Draining bool   `json:"d,omitempty"`
	// Leaving: draining before a shutdown for good (core.SetLeaving).
	Leaving bool `json:"l,omitempty"`
	// HasTable: the member belongs to a cluster (core.MemberInfo.HasTable).
	HasTable bool `json:"t,omitempty"`
	// Partitions and Shape must match across the cluster; a member with
	// other values is refused at join. Fingerprint is for members of the
	// version before Shape, which refuse a member whose Fingerprint differs
	// from theirs (Config.Fingerprint); a member without Shape is one of
	// them, and is refused unless its Fingerprint matches ours.
	Partitions  int    `json:"n"`
	Fingerprint string `json:"f"`
	Shape       string `json:"s,omitempty"`
	// LeaseMs, LeaderLeaseMs and Load are this member's --lease,
	// --leader-lease and --load, shown in /cluster so that an operator can
	// follow a rolling change of them (the leader's are in force).
	LeaseMs       int64   `json:"ls,omitempty"`
	LeaderLeaseMs int64   `json:"ll,omitempty"`
	Load          float64 `json:"ld,omitempty"`
	// Weight is this member's --weight (absent from an older ringd: 1).
	Weight float64 `json:"w,omitempty"`
	// Zone is this member's --zone.
	Zone string `json:"z,omitempty"`
	// RejoinGraceMs, set while the member stops for a planned restart
	// (--shutdown restart), asks the leader to keep its partitions for it
	// that long.
	RejoinGraceMs int64 `json:"rg,omitempty"`
}

// metaLimit is memberlist's MetaMaxSize.
const metaLimit = 512

func (m nodeMeta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > metaLimit {
		return nil, fmt.Errorf("node metadata is %d bytes, over memberlist's limit of %d (shorten --http-addr)", len(b), metaLimit)
	}
	return b, nil
}

func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) == 0 {
		return m, fmt.Errorf("no metadata (not a ringd member?)")
	}
	if len(b) > metaLimit {
		return m, fmt.Errorf("metadata of %d bytes is over %d", len(b), metaLimit)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("unreadable metadata: %v", err)
	}
	return m, nil
}
