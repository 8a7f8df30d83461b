package daemon

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ringd/ringd/daemon/core"
)

// stateFile keeps what a member must not forget across restarts (see
// core.Durable) in --data-dir.
const stateFile = "state.json"

// loadState reads the kept state. found is false for a fresh start: no data
// dir, or no state file in it. The state found decides
// the mode, not the flag: an emptied --data-dir (a rescheduled pod's
// emptyDir) is a start without state.
func loadState(dir string) (st core.Durable, found bool, err error) {
	if dir == "" {
		return st, false, nil
	}
	path := filepath.Join(dir, stateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("reading --data-dir state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("--data-dir state %s is corrupt: %v", path, err)
	}
	if st.Version != core.DurableVersion {
		return st, false, fmt.Errorf("--data-dir state %s has format version %d; this ringd reads version %d", path, st.Version, core.DurableVersion)
	}
	if st.Identity == 0 {
		return st, false, fmt.Errorf("--data-dir state %s has no voter identity", path)
	}
	return st, true, nil
}

// newIdentity returns a random voter identity (never 0).
func newIdentity() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
		if id := binary.BigEndian.Uint64(b[:]) >> 1; id != 0 {
			return id
		}
	}
}

// saveState writes the state durably before anything that depends on it is
// sent.
func saveState(dir string, st core.Durable) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return writeDurably(dir, stateFile, b, 0o644)
}

// writeDurably replaces dir/name with b so that a crash leaves the old or
// the new content, never a mix: a temporary file, fsync, rename, then
// fsync of the directory so that the rename itself survives a power loss.
func writeDurably(dir, name string, b []byte, perm os.FileMode) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating --data-dir: %w", err)
	}
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
