package core_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/daemon/core"
	"github.com/ringd/ringd/internal/simcluster"
)

// TestForcedRecoveryAfterLosingTheMajority: of 5 members with 3 voters, two
// voters crash for good; nothing can be granted any more. Forcing the three
// survivors as the voters on each of them (refused while a survivor is
// still led) brings a leader and full coverage back, the new configuration
// reaches every table, and no partition ever has two owners.
func TestForcedRecoveryAfterLosingTheMajority(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			w := simcluster.New(t, simcluster.Seed(seed), simcluster.With(simcluster.Settings{Voters: 3}),
				simcluster.Members(simcluster.Specs(5)...))
			if !w.RunUntil(20*time.Second, w.Covered) {
				t.Fatalf("not covered\n%s", w.Trace(40))
			}
			w.Run(2 * time.Second)
			v := w.View(w.Names()[0])
			voters := v.Table.Voters
			if len(voters) != 3 {
				t.Fatalf("voters %v, want 3", voters)
			}
			var lost, survivors []string
			for _, ev := range voters[:2] {
				lost = append(lost, core.MemberOf(ev))
			}
			for _, n := range w.Names() {
				if !slices.Contains(lost, n) {
					survivors = append(survivors, n)
				}
			}
			for _, n := range lost {
				w.Crash(n)
			}
			// Refused while a survivor is led; accepted once leases ran out.
			forced := map[string]bool{}
			ok := w.RunUntil(30*time.Second, func() bool {
				for _, n := range survivors {
					if forced[n] {
						continue
					}
					err := w.ForceVoters(n, survivors)
					switch {
					case err == nil:
						forced[n] = true
						if got := w.View(n).ForcedVoters; !slices.Equal(got, survivors) {
							t.Errorf("%s's view shows forced voters %v, want %v", n, got, survivors)
						}
					case !errors.Is(err, core.ErrForceLeader) && !errors.Is(err, core.ErrForceNotAlive):
						t.Fatalf("forcing %s: %v", n, err)
					}
				}
				return len(forced) == len(survivors)
			})
			if !ok {
				t.Fatalf("the survivors %v could not all be forced within 30s (forced: %v)\n%s", survivors, forced, w.Describe())
			}
			if !w.RunUntil(30*time.Second, func() bool { return w.CoveredBy(survivors) }) {
				t.Fatalf("not covered by %v after the recovery\n%s\n%s", survivors, w.Describe(), w.Trace(300))
			}
			w.Run(2 * time.Second)
			for _, n := range survivors {
				var now []string
				for _, ev := range w.View(n).Table.Voters {
					now = append(now, core.MemberOf(ev))
				}
				slices.Sort(now)
				if !slices.Equal(now, survivors) {
					t.Errorf("%s's table has voters %v, want %v", n, now, survivors)
				}
				if f := w.View(n).ForcedVoters; f != nil {
					t.Errorf("%s still shows forced voters %v after the recovered leader's table", n, f)
				}
			}
			w.RequireNoViolations()
		})
	}
}
