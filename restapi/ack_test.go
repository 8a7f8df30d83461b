package restapi

import (
	"net/http"
	"slices"
	"sync"
	"testing"
)

// ackingSource records the acknowledgements a poller makes.
type ackingSource struct {
	*fakeSource
	mu   sync.Mutex
	acks []uint64
}

func (a *ackingSource) AckIndex(index uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acks = append(a.acks, index)
}

func (a *ackingSource) recorded() []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.acks)
}

func TestPollAcknowledgesSeenIndex(t *testing.T) {
	src := &ackingSource{fakeSource: newFake(sampleMine())}
	_, ts, _ := newHTTPTest(t, src, Options{})
	for _, tc := range []struct {
		query  string
		status int
		acks   []uint64
	}{
		{"", http.StatusOK, nil},                        // a plain read acknowledges nothing
		{"?index=abc", http.StatusBadRequest, nil},      // a refused poll neither
		{"?index=7&wait=0", http.StatusOK, []uint64{7}}, // a poll acknowledges what it saw
		// An index from another process of the member acknowledges nothing;
		// one from this process does.
		{"?index=8&wait=0&incarnation=1796000000000000000", http.StatusOK, []uint64{7}},
		{"?index=9&wait=0&incarnation=1796000000000000001", http.StatusOK, []uint64{7, 9}},
	} {
		resp, err := http.Get(ts.URL + "/partitions/mine" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("GET %q: status %d, want %d", tc.query, resp.StatusCode, tc.status)
		}
		if got := src.recorded(); !slices.Equal(got, tc.acks) {
			t.Fatalf("after GET %q: acks %v, want %v", tc.query, got, tc.acks)
		}
	}
}
