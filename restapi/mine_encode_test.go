package restapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// TestMineJSONMatchesEncodingJSON holds the hand encoder of GET
// /partitions/mine to the bytes echo's c.JSON wrote before it:
// encoding/json with HTML escaping and a trailing newline.
func TestMineJSONMatchesEncodingJSON(t *testing.T) {
	odd := sampleMine()
	odd.Node = `a"b\c<d>&e` + "\x01\u2028é\xff"
	odd.Leader = "ŋ"
	odd.Incarnation = ""
	odd.Partitions[0].State = "<owned>"
	empty := sampleMine()
	empty.Partitions = []api.Partition{}
	huge := benchMine()
	huge.Term, huge.Index = ^uint64(0), ^uint64(0)-1
	huge.Partitions[0].Token, huge.Partitions[0].LeaseRemainingMs = ^uint64(0), -5
	standby := sampleMine()
	standby.Standby = []api.Standby{{ID: 3, Rank: 0, Owner: "ringd-1"}, {ID: 250, Rank: 1, Owner: ""}, {ID: 9, Owner: `o"<`}}
	for name, v := range map[string]api.Mine{"sample": sampleMine(), "odd strings": odd, "no partitions": empty, "extremes": huge, "standby": standby} {
		t.Run(name, func(t *testing.T) {
			for _, held := range []int64{0, 7, 123456} {
				a := encodeMine(time.Now(), v, nil)
				got := append(append(append([]byte{}, a.head...), strconv.FormatInt(held, 10)...), a.tail...)
				v.HeldMs = held
				var want bytes.Buffer
				if err := json.NewEncoder(&want).Encode(v); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Fatalf("heldMs %d:\n got %s\nwant %s", held, got, want.Bytes())
				}
				if a.index != v.Index {
					t.Fatalf("index %d, want %d", a.index, v.Index)
				}
			}
		})
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "ringd-0", `"<&>\`, "\x00\x1f", "\u2028\u2029", "\xff\xfe", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

// countingSource counts the views read.
type countingSource struct {
	*fakeSource
	reads atomic.Int64
}

func (c *countingSource) Mine() (api.Mine, <-chan struct{}) {
	c.reads.Add(1)
	return c.fakeSource.Mine()
}

// TestWokenWatchersShareOneAnswer wakes many long-polls with one change: they
// all get the new view, and they share its encoding instead of each reading
// and encoding it again (which made a member with thousands of watchers
// answer one at a time).
func TestWokenWatchersShareOneAnswer(t *testing.T) {
	const watchers = 200
	src := &countingSource{fakeSource: newFake(sampleMine())}
	s := New(src, Options{})
	base, _ := serveReal(t, s)
	tr := &http.Transport{MaxIdleConnsPerHost: watchers}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: time.Minute}

	var polls []<-chan result
	for range watchers {
		polls = append(polls, goGet(t.Context(), c, base+"/partitions/mine?index=42&wait=1m"))
	}
	waitForLong(t, "blocked long-polls", func() bool { return s.polls.Load() == watchers })
	before := src.reads.Load()
	next := sampleMine()
	next.Index = 43
	src.set(next)
	for i, ch := range polls {
		r := await(t, ch, 30*time.Second)
		m := decodeMine(t, r)
		if r.status != http.StatusOK || m.Index != 43 || r.header.Get(api.IndexHeader) != "43" {
			t.Fatalf("watcher %d: %d, index %d, header %q", i, r.status, m.Index, r.header.Get(api.IndexHeader))
		}
		// The server cannot have held the request longer than it took.
		if m.HeldMs > r.elapsed.Milliseconds() {
			t.Fatalf("watcher %d: heldMs %d, but the request took %v", i, m.HeldMs, r.elapsed)
		}
	}
	if reads := src.reads.Load() - before; reads >= watchers {
		t.Fatalf("%d watchers read the view %d times after the change; they should share reads", watchers, reads)
	}
}
