package election

import "slices"

// Peers returns the names in config and in alive other than self, each
// once, sorted: whom a leader keeps informed. Members without a vote are
// among them, as they need the leader's heartbeats (and tables) as much as
// voters do.
func Peers(self string, config, alive []string) []string {
	out := make([]string, 0, len(config)+len(alive))
	for _, n := range slices.Concat(config, alive) {
		if n != self {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
