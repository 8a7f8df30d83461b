package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigFile: no config file makes ringd panic; each one either
// resolves or is refused with an error a person can read (realMain prints
// it on one line).
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{
		`{"name": "ringd-0", "partitions": 271, "join": ["ringd-1:7946", "ringd-2:7946"], "bootstrap-expect": 3}`,
		`{"lease": "3s", "leader-lease": "1s", "drift": 0.05, "log-json": true, "voters": 5}`,
		`{"timing-profile": "fast", "gossip-profile": "local", "priority": 2}`,
		`{"partitions": 1e99}`,
		`{"config": "again.json"}`,
		`[]`,
		`{"name": "a"} {"name": "b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "ringd.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := parseConfig([]string{"--config", path}, func(string) string { return "" })
		if err != nil && (err.Error() == "" || errors.Is(err, errHelp) || errors.Is(err, errVersion)) {
			t.Fatalf("config file %q: unhelpful error %v", b, err)
		}
	})
}
