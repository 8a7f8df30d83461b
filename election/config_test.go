package election

import (
	"slices"
	"testing"
)

func TestPeers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		config, alive []string
		want          []string
	}{
		{"nobody else", []string{"a"}, []string{"a"}, []string{}},
		{"voters and live members once each, sorted, without self",
			[]string{"d", "a", "b"}, []string{"c", "b", "a", "e"}, []string{"b", "c", "d", "e"}},
		{"a dead voter still counts", []string{"a", "z"}, nil, []string{"z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Peers("a", tc.config, tc.alive); !slices.Equal(got, tc.want) {
				t.Errorf("Peers = %v, want %v", got, tc.want)
			}
		})
	}
}
