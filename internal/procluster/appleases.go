package procluster

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// AppLeases checks ownership the way an application sees it: each member's
// app (RunApps) works on a grant from when it receives an answer of GET
// /partitions/mine that lists it until the earliest of
//
//   - the deadline that answer gave it: request sent + heldMs +
//     leaseRemainingMs of the partition (later answers move it);
//   - receiving an answer that no longer lists it;
//   - acknowledging its release (the app polls again at once after an answer
//     that lists it releasing, which acknowledges it).
//
// An app that loses its sidecar (killed, stopped, unreachable) keeps working
// until the deadline it was last given, as a real one would. Two apps working
// on one partition at once under different grants are a violation: this is
// the promise an application relies on, stronger than what the daemons list
// (Proof), because it holds the daemons to every deadline they showed.
type AppLeases struct {
	mu   sync.Mutex
	open map[appKey]*appInterval
	all  []*appInterval
}

type appKey struct {
	member    string
	partition int
	token     uint64
}

type appInterval struct {
	appKey
	from, until time.Time
}

// NewAppLeases returns an empty check.
func NewAppLeases() *AppLeases { return &AppLeases{open: map[appKey]*appInterval{}} }

// Record adds one answer member's app got: requested at sent, received at
// recv.
func (a *AppLeases) Record(member string, v api.Mine, sent, recv time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	base := sent.Add(time.Duration(v.HeldMs) * time.Millisecond)
	listed := map[appKey]bool{}
	for _, p := range v.Partitions {
		k := appKey{member, p.ID, p.Token}
		listed[k] = true
		deadline := base.Add(time.Duration(p.LeaseRemainingMs) * time.Millisecond)
		iv := a.open[k]
		if iv == nil {
			if !recv.Before(deadline) {
				continue // arrived too late to work on
			}
			iv = &appInterval{appKey: k, from: recv, until: deadline}
			a.open[k] = iv
			a.all = append(a.all, iv)
		} else if deadline.After(iv.until) {
			iv.until = deadline
		}
		if p.State == "releasing" {
			// The app finishes and acknowledges at once (its next poll).
			if recv.Before(iv.until) {
				iv.until = recv
			}
			delete(a.open, k)
		}
	}
	for k, iv := range a.open {
		if k.member != member || listed[k] {
			continue
		}
		if recv.Before(iv.until) {
			iv.until = recv
		}
		delete(a.open, k)
	}
}

// Violations lists every pair of apps (or one app under two tokens) that
// worked on a partition at the same time.
func (a *AppLeases) Violations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	byPart := map[int][]*appInterval{}
	for _, iv := range a.all {
		if iv.from.Before(iv.until) {
			byPart[iv.partition] = append(byPart[iv.partition], iv)
		}
	}
	var out []string
	parts := make([]int, 0, len(byPart))
	for p := range byPart {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	for _, p := range parts {
		ivs := byPart[p]
		sort.Slice(ivs, func(i, j int) bool { return ivs[i].from.Before(ivs[j].from) })
		for i, x := range ivs {
			for _, y := range ivs[i+1:] {
				if !y.from.Before(x.until) {
					break
				}
				if x.token == y.token && x.member == y.member {
					continue
				}
				out = append(out, fmt.Sprintf("partition %d: the app of %s worked on token %d until %s, the app of %s on token %d from %s (overlap %v)",
					p, x.member, x.token, x.until.Format("15:04:05.000"), y.member, y.token, y.from.Format("15:04:05.000"),
					x.until.Sub(y.from).Round(time.Millisecond)))
			}
		}
	}
	return out
}

// Grants is how many grants the apps worked on.
func (a *AppLeases) Grants() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.all)
}
