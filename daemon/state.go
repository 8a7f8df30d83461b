package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ringd/ringd/election"
)

// stateFile keeps the election's hard state in --data-dir.
const stateFile = "election.json"

// loadHardState reads the persisted term and vote; a missing file is a fresh
// start.
func loadHardState(dir string) (election.HardState, error) {
	var hs election.HardState
	if dir == "" {
		return hs, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return hs, nil
	}
	if err != nil {
		return hs, fmt.Errorf("reading --data-dir state: %w", err)
	}
	if err := json.Unmarshal(b, &hs); err != nil {
		return hs, fmt.Errorf("--data-dir state %s is corrupt: %v", filepath.Join(dir, stateFile), err)
	}
	return hs, nil
}

// saveHardState writes the state durably (temp file, fsync, rename) before
// any message that depends on it is sent.
func saveHardState(dir string, hs election.HardState) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating --data-dir: %w", err)
	}
	b, _ := json.Marshal(hs)
	tmp := filepath.Join(dir, stateFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
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
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}
