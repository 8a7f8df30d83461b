package daemon

import (
	"encoding/json"
	"fmt"
)

// nodeMeta is what every member gossips about itself in memberlist's node
// metadata (at most 512 bytes). Short JSON keys keep it small.
type nodeMeta struct {
	// Version is the peer protocol version.
	Version int `json:"v"`
	// Incarnation identifies this process: a member restarted under the
	// same name gets a new one, so grants do not pass to it.
	Incarnation uint64 `json:"i"`
	Priority    int    `json:"p"`
	HTTPAddr    string `json:"h"`
	Draining    bool   `json:"d,omitempty"`
	// Partitions and Fingerprint must match across the cluster; a member
	// with other values is refused at join.
	Partitions  int    `json:"n"`
	Fingerprint string `json:"f"`
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
