package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/secret"
	"github.com/ringd/ringd/restapi"
)

// keyringFile keeps, in --data-dir, the gossip keys as the admin API last
// left them, so that a member restarted after a rotation still speaks the
// cluster's key whatever its --gossip-key-file says.
const keyringFile = "keyring.json"

// savedKeyring is keyringFile's content (keys in standard base64).
type savedKeyring struct {
	Version int      `json:"version"`
	Primary string   `json:"primary"`
	Keys    []string `json:"keys"`
}

const keyringVersion = 1

// Errors of key operations.
var (
	errNoEncryption  = errors.New("gossip encryption is off: it can only be turned on by starting every member with --gossip-key-file")
	errKeyUnknown    = errors.New("that key is not installed on this member")
	errNotKept       = errors.New("the key change is in effect on this member but could not be saved in --data-dir; update --gossip-key-file before it restarts")
	errRemovePrimary = errors.New("that key is the primary one, which encrypts what this member sends: use another key first")
)

// newKeyring builds memberlist's keyring: the keyring saved in --data-dir
// when there is one (a rotation done through the admin API outlives a
// restart, and a removed key stays removed whatever the key file still
// says), else the key file's. nil without any key: encryption off.
func (d *Daemon) newKeyring(fileKeys [][]byte) (*memberlist.Keyring, error) {
	keys := fileKeys
	if saved, ok, err := loadKeyring(d.cfg.DataDir); err != nil {
		return nil, err
	} else if ok {
		path := filepath.Join(d.cfg.DataDir, keyringFile)
		if !sameKeys(saved, fileKeys) {
			d.log.Warn("--gossip-key-file differs from the keyring kept in --data-dir (changed through the admin API); using the kept one: remove it to start from the file",
				"kept", path, "primary", keyFingerprint(saved[0]))
		}
		keys = saved
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return memberlist.NewKeyring(keys, keys[0])
}

// sameKeys reports whether a and b hold the same keys with the same first.
func sameKeys(a, b [][]byte) bool {
	if len(a) != len(b) || len(a) == 0 || !bytes.Equal(a[0], b[0]) {
		return len(a) == 0 && len(b) == 0
	}
	for _, k := range a {
		if !slices.ContainsFunc(b, func(o []byte) bool { return bytes.Equal(o, k) }) {
			return false
		}
	}
	return true
}

// loadKeyring reads the saved keys, the primary first.
func loadKeyring(dir string) ([][]byte, bool, error) {
	if dir == "" {
		return nil, false, nil
	}
	path := filepath.Join(dir, keyringFile)
	raw, err := secret.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the saved gossip keys: %w", err)
	}
	var s savedKeyring
	if err := json.Unmarshal(raw, &s); err != nil || s.Version != keyringVersion {
		return nil, false, fmt.Errorf("the saved gossip keys %s are unreadable (format version %d, this ringd reads %d); move the file away to start from --gossip-key-file", path, s.Version, keyringVersion)
	}
	primary, err := secret.GossipKey(s.Primary)
	if err != nil {
		return nil, false, fmt.Errorf("%s: primary: %w", path, err)
	}
	keys := [][]byte{primary}
	for _, k := range s.Keys {
		key, err := secret.GossipKey(k)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		if !bytes.Equal(key, primary) {
			keys = append(keys, key)
		}
	}
	return keys, true, nil
}

// saveKeyring writes the keyring to the data dir, readable by ringd's user
// only, durably (as the state file).
func saveKeyring(dir string, kr *memberlist.Keyring) error {
	s := savedKeyring{Version: keyringVersion, Primary: base64.StdEncoding.EncodeToString(kr.GetPrimaryKey())}
	for _, k := range kr.GetKeys() {
		s.Keys = append(s.Keys, base64.StdEncoding.EncodeToString(k))
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return writeDurably(dir, keyringFile, b, 0o600)
}

// keyFingerprint names a key without revealing it: the first 8 bytes of
// its SHA-256, in hex.
func keyFingerprint(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// keys lists the installed keys by fingerprint.
func (d *Daemon) keys() (api.Keys, error) {
	if d.keyring == nil {
		return api.Keys{}, errNoEncryption
	}
	// memberlist's RemoveKey shifts the slice GetKeys hands out in place:
	// read it only while no change runs.
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	primary := d.keyring.GetPrimaryKey()
	out := api.Keys{Node: d.cfg.Name, Primary: keyFingerprint(primary), Keys: []api.Key{}}
	for _, k := range d.keyring.GetKeys() {
		out.Keys = append(out.Keys, api.Key{Fingerprint: keyFingerprint(k), Primary: bytes.Equal(k, primary)})
	}
	return out, nil
}

// keyOp installs, uses or removes a key on this member and keeps the
// result in --data-dir. A rotation is: install the new key on every member,
// use it on every member, remove the old one from every member; each step
// on all members before the next, so that every member can always decrypt
// what every other sends.
func (d *Daemon) keyOp(ctx context.Context, op string, key []byte) error {
	if d.keyring == nil {
		return errNoEncryption
	}
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	installed := slices.ContainsFunc(d.keyring.GetKeys(), func(k []byte) bool { return bytes.Equal(k, key) })
	var err error
	switch op {
	case "install":
		err = d.keyring.AddKey(key)
	case "use":
		if !installed {
			return errKeyUnknown
		}
		err = d.keyring.UseKey(key)
	case "remove":
		switch {
		case !installed:
			return nil // already gone: a step run again after a partial failure succeeds
		case bytes.Equal(d.keyring.GetPrimaryKey(), key):
			return errRemovePrimary
		}
		err = d.keyring.RemoveKey(key)
	default:
		return fmt.Errorf("unknown key operation %q", op)
	}
	if err != nil {
		return err
	}
	fp := keyFingerprint(key)
	d.log.Info("gossip key changed", "op", op, "key", fp, "by", restapi.Requester(ctx))
	d.adminDone(ctx, op+" gossip key "+fp, "")
	if d.cfg.DataDir == "" {
		d.log.Warn("without --data-dir the key change is not kept: update --gossip-key-file to match before this member restarts", "op", op, "key", fp)
		return nil
	}
	if err := saveKeyring(d.cfg.DataDir, d.keyring); err != nil {
		d.log.Error("the key change is in effect but could not be saved in --data-dir; update --gossip-key-file before this member restarts", "error", err)
		return fmt.Errorf("%w: %v", errNotKept, err)
	}
	return nil
}

// setKeyring makes the keyring hold exactly keys, the first primary: a
// change of --gossip-key-file read at run time. Kubernetes updates a
// mounted Secret in place, so a rotation can also go through the file:
// "old, new" on every member, then "new, old", then "new", waiting for
// every member to read each (ringctl keys list --all shows it).
func (d *Daemon) setKeyring(keys [][]byte) error {
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	for _, k := range keys {
		if err := d.keyring.AddKey(k); err != nil {
			return err
		}
	}
	if err := d.keyring.UseKey(keys[0]); err != nil {
		return err
	}
	// The keys to drop first, then drop them: RemoveKey shifts the slice
	// GetKeys returned, so removing while ranging over it skips keys.
	var drop [][]byte
	for _, k := range d.keyring.GetKeys() {
		if !slices.ContainsFunc(keys, func(o []byte) bool { return bytes.Equal(o, k) }) {
			drop = append(drop, bytes.Clone(k))
		}
	}
	for _, k := range drop {
		if err := d.keyring.RemoveKey(k); err != nil {
			return err
		}
	}
	var fps []string
	for _, k := range keys {
		fps = append(fps, keyFingerprint(k))
	}
	d.log.Info("gossip keys set from --gossip-key-file", "primary", fps[0], "keys", fps)
	d.changes.add(time.Now(), api.ChangeAdmin, "%s: gossip keys set from the key file, primary %s", d.cfg.Name, fps[0])
	if d.cfg.DataDir != "" {
		if err := saveKeyring(d.cfg.DataDir, d.keyring); err != nil {
			d.log.Error("the keys from --gossip-key-file are in effect but could not be saved in --data-dir", "error", err)
		}
	}
	return nil
}
