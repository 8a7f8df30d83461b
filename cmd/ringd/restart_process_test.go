package main

import (
	"bufio"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
)

// metricValue reads one unlabelled series from a member's GET /metrics.
func metricValue(ctx context.Context, t *testing.T, m *procluster.Member, name string) float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.Addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s has no series %s", m.Name, name)
	return 0
}

// owned lists the partitions a member's view shows, sorted.
func owned(mine api.Mine) []int {
	var out []int
	for _, p := range mine.Partitions {
		out = append(out, p.ID)
	}
	slices.Sort(out)
	return out
}

// TestProcessPlannedRestartAndStandbys runs four real members in two zones
// with one standby per partition and --shutdown=restart:
//   - every partition lists a standby in the other zone, and each member's
//     /partitions/mine shows what it stands by for;
//   - SIGTERM on a member keeps its partitions for it, owned by nobody and
//     listed as kept, while nothing else moves; restarted under its name, it
//     gets exactly them back;
//   - SIGKILL on another member hands its partitions to their standbys.
//
// The watcher and the application leases of startProcsOpts check that no
// partition ever has two owners.
func TestProcessPlannedRestartAndStandbys(t *testing.T) {
	zones := []string{"a", "a", "b", "b"}
	c, ctx := startProcsOpts(t, procluster.Options{Members: 4, MemberArgs: func(i int) []string {
		return []string{"--standbys", "1", "--zone", zones[i], "--shutdown", "restart", "--rejoin-grace", "1m"}
	}})
	zoneOf := map[string]string{"ringd-0": "a", "ringd-1": "a", "ringd-2": "b", "ringd-3": "b"}
	before := settled(ctx, t, c, c.Names())
	var table api.Table
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := c.Member("ringd-0").GetJSON(ctx, "/partitions", &table); err != nil {
			t.Fatal(err)
		}
		ok := len(table.Partitions) == procPartitions
		for _, e := range table.Partitions {
			ok = ok && e.Owner != "" && len(e.Standbys) == 1 && zoneOf[e.Standbys[0]] != zoneOf[e.Owner]
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no standby in the other zone for every partition: %+v", table.Partitions)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mine, err := c.Member("ringd-2").Mine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range mine.Standby {
		if e := table.Partitions[sb.ID]; !slices.Contains(e.Standbys, "ringd-2") || sb.Rank != slices.Index(e.Standbys, "ringd-2") {
			t.Fatalf("ringd-2 shows it stands by for %+v, the table lists %v", sb, e.Standbys)
		}
	}
	if len(mine.Standby) == 0 {
		t.Fatal("ringd-2 stands by for nothing")
	}

	// A planned restart of ringd-1.
	restarting := c.Member("ringd-1")
	kept := owned(before["ringd-1"])
	terminate(ctx, t, restarting)
	if err := c.Member("ringd-0").GetJSON(ctx, "/partitions", &table); err != nil {
		t.Fatal(err)
	}
	for _, p := range kept {
		if e := table.Partitions[p]; e.Owner != "" || e.ReservedFor != "ringd-1" {
			t.Fatalf("partition %d of the restarting member: %+v, want no owner and kept for ringd-1", p, e)
		}
	}
	if n := metricValue(ctx, t, c.Member("ringd-0"), "ringd_partitions_reserved"); int(n) != len(kept) {
		t.Fatalf("ringd_partitions_reserved is %v, want %d", n, len(kept))
	}
	cl, err := c.Member("ringd-0").Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cl.Members {
		if m.Name == "ringd-1" && !m.Restarting {
			t.Fatalf("/cluster does not show ringd-1 restarting: %+v", m)
		}
	}
	others := []string{"ringd-0", "ringd-2", "ringd-3"}
	away := c.Snapshot(ctx)
	for _, n := range others {
		if !slices.Equal(owned(away[n]), owned(before[n])) {
			t.Fatalf("%s's partitions changed while ringd-1 was away: %v, before %v", n, owned(away[n]), owned(before[n]))
		}
	}
	if err := restarting.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	back := settled(ctx, t, c, c.Names())
	if got := owned(back["ringd-1"]); !slices.Equal(got, kept) {
		t.Fatalf("ringd-1 is back with %v, it had %v", got, kept)
	}
	for _, n := range others {
		if !slices.Equal(owned(back[n]), owned(before[n])) {
			t.Fatalf("%s's partitions changed over ringd-1's restart: %v, before %v", n, owned(back[n]), owned(before[n]))
		}
	}

	// A crash: ringd-3's partitions go to their standbys (in zone a).
	if err := c.Member("ringd-0").GetJSON(ctx, "/partitions", &table); err != nil {
		t.Fatal(err)
	}
	standbyOf := map[int]string{}
	for _, e := range table.Partitions {
		if e.Owner == "ringd-3" {
			standbyOf[e.ID] = e.Standbys[0]
		}
	}
	if err := c.Member("ringd-3").Kill(); err != nil {
		t.Fatal(err)
	}
	after := settled(ctx, t, c, []string{"ringd-0", "ringd-1", "ringd-2"})
	holder := map[int]string{}
	for name, mine := range after {
		for _, p := range mine.Partitions {
			holder[p.ID] = name
		}
	}
	took := 0
	for p, sb := range standbyOf {
		if holder[p] == sb {
			took++
		}
	}
	// ringd-2, the crashed member's zone-mate, stands by for none of its
	// partitions: it gets what it lacks of its share, floor(P/3), and the
	// standbys the rest.
	short := max(0, procPartitions/3-len(back["ringd-2"].Partitions))
	if took < len(standbyOf)-short {
		t.Fatalf("%d of ringd-3's %d partitions went to their standby (ringd-2 was %d short of its share)", took, len(standbyOf), short)
	}
	t.Logf("%d of ringd-3's %d partitions went to their standby", took, len(standbyOf))
}
