package procluster

import (
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// The watcher must catch a proven double owner, and must not cry wolf over a
// clean handoff seen through non-atomic polls (check the checker).
func TestWatcherFindsOnlyProvenDoubles(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	mine := func(id int, token uint64) api.Mine {
		return api.Mine{Partitions: []api.Partition{{ID: id, Token: token, State: "owned"}}}
	}
	type obs struct {
		member     string
		token      uint64
		sent, recv int
	}
	for _, tc := range []struct {
		name string
		obs  []obs
		want int
	}{
		{"double owner", []obs{
			{"a", 5, 0, 1}, {"b", 6, 2, 3}, {"a", 5, 10, 11}, {"b", 6, 12, 13},
		}, 1},
		{"handoff seen through racing polls", []obs{
			// a is polled just before it lets go, b just after it got p: one
			// round lists p twice, but nothing proves an overlap.
			{"a", 5, 0, 1}, {"a", 5, 10, 11}, {"b", 6, 12, 13}, {"b", 6, 20, 21},
		}, 0},
		{"double owner shorter than two polls", []obs{
			// b lists p in one answer only, while a held it for certain.
			{"a", 5, 0, 1}, {"b", 6, 20, 21}, {"a", 5, 40, 41},
		}, 1},
		{"one answer racing the end of a's grant", []obs{
			{"a", 5, 0, 1}, {"a", 5, 40, 41}, {"b", 6, 39, 42},
		}, 0},
		{"token went down", []obs{
			{"a", 9, 0, 1}, {"a", 9, 10, 11}, {"b", 3, 20, 21}, {"b", 3, 30, 31},
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := NewProof(8)
			for _, o := range tc.obs {
				w.Record(o.member, mine(7, o.token).Partitions, at(o.sent), at(o.recv))
			}
			if got := w.Violations(); len(got) != tc.want {
				t.Fatalf("violations %q, want %d", got, tc.want)
			}
		})
	}
}
