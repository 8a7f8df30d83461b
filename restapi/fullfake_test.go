package restapi

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"

	"github.com/ringd/ringd/clientlib/api"
)

// maxRecorded bounds what a fullFake records, so a long fuzz run does not
// grow it without end.
const maxRecorded = 1000

// fullFake is a Source that is also a ClusterSource, Actions and an
// Acknowledger, for the routes that need them. Its table has its own index
// and change channel, as the daemon's does.
type fullFake struct {
	*fakeSource

	mu sync.Mutex
	// base is the table as the test gave it, table the one served: base
	// with place laid over it.
	base     api.Table
	table    api.Table
	place    placement
	tchanged chan struct{}
	ready    bool
	reason   string
	changes  []api.Change

	// actErr, when set, is what every action returns.
	actErr error
	// block, when set, makes actions wait for it or for their context.
	block chan struct{}
	// calls records the actions, e.g. "release 3", "drain".
	calls []string
	acks  []uint64
}

var (
	_ Source        = (*fullFake)(nil)
	_ ClusterSource = (*fullFake)(nil)
	_ Actions       = (*fullFake)(nil)
	_ Acknowledger  = (*fullFake)(nil)
	_ Keyring       = (*fullFake)(nil)
	_ Recovery      = (*fullFake)(nil)
)

// newFullFake builds a cluster of the named members (the first is the
// leader, the second is this member) with p partitions dealt round-robin.
func newFullFake(p int, members ...string) *fullFake {
	f := &fullFake{fakeSource: newFake(sampleMine()), tchanged: make(chan struct{}), ready: true}
	f.mine.Node = members[min(1, len(members)-1)]
	f.mine.Leader = members[0]
	f.table = dealTable(1, p, members)
	f.base = f.table
	f.setCluster(clusterOf(f.table, f.mine.Node))
	f.changes = []api.Change{{At: "2026-01-02T03:04:05.000Z", What: members[0] + " is leader (term 7)"}}
	return f
}

// dealTable gives partition i to members[i % n]; every seventh is releasing
// and every thirteenth unassigned, so the map shows all states.
func dealTable(index uint64, p int, members []string) api.Table {
	t := api.Table{Node: "", Index: index, Term: 7, TableVersion: index + 10, Members: slices.Clone(members), Voters: voterNames(members)}
	if len(members) > 0 {
		t.Leader = members[0]
	}
	for i := range p {
		e := api.Entry{ID: i, State: "unassigned"}
		if len(members) > 0 && i%13 != 12 {
			e.Owner = members[i%len(members)]
			e.OwnerHTTPAddr = "127.0.0.1:70" + fmt.Sprint(10+i%len(members))
			e.Token = 700000000000 + uint64(i)
			e.State = "owned"
			if i%7 == 6 {
				e.State = "releasing"
			}
		}
		t.Partitions = append(t.Partitions, e)
	}
	return t
}

// clusterOf derives GET /cluster from a table: the members in the table's
// order, all alive, with their counts; the first three vote.
func clusterOf(t api.Table, self string) api.Cluster {
	c := api.Cluster{Node: self, Leader: t.Leader, Term: t.Term, TableVersion: t.TableVersion, Partitions: len(t.Partitions)}
	owned := map[string]int{}
	for _, e := range t.Partitions {
		if e.State != "unassigned" {
			owned[e.Owner]++
		}
	}
	for i, m := range t.Members {
		c.Members = append(c.Members, api.Member{Name: m, Rank: i, Alive: true, Leader: m == t.Leader,
			HTTPAddr: "127.0.0.1:70" + fmt.Sprint(10+i), InConfig: true, Voter: i < 3, Owned: owned[m]})
	}
	return c
}

func (f *fullFake) Table() (api.Table, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.table
	t.Node = f.fakeSource.Cluster().Node
	t.Members = slices.Clone(t.Members)
	t.Partitions = slices.Clone(t.Partitions)
	return t, f.tchanged
}

// setTable replaces the table (and the cluster view derived from it), with
// the placement laid over it, and wakes watchers if the index changed. This
// member's standby list follows the table (with a new index of its own when
// it changes).
func (f *fullFake) setTable(t api.Table) {
	f.mu.Lock()
	old := f.table.Index
	p := f.place
	f.base = t
	f.table = p.onTable(t)
	if t.Index != old {
		close(f.tchanged)
		f.tchanged = make(chan struct{})
	}
	served := f.table
	f.mu.Unlock()
	f.setCluster(p.onCluster(clusterOf(served, f.fakeSource.Cluster().Node)))
	f.followStandby(served)
}

// followStandby sets this member's standby list from t, with a new index
// when it changes. (Not through Mine, which would count as a handler's
// read.)
func (f *fakeSource) followStandby(t api.Table) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sb := standbyOf(t, f.mine.Node)
	if slices.Equal(sb, f.mine.Standby) {
		return
	}
	f.mine.Standby = sb
	f.mine.Index++
	close(f.changed)
	f.changed = make(chan struct{})
}

// setPlacement lays p over the table the test gave last, as a new table
// version with the next index.
func (f *fullFake) setPlacement(p placement) {
	f.mu.Lock()
	f.place = p
	t := f.base
	f.mu.Unlock()
	t.Index++
	t.TableVersion++
	f.setTable(t)
}

// placement is the operator-controlled state (and what the members say of
// themselves) that a test lays over its tables with setPlacement: what GET
// /partitions and GET /cluster show for a frozen assignment, exclusions,
// pins, standbys, zones, weights and a member away for a planned restart.
// The zero placement changes nothing.
type placement struct {
	frozen bool
	// excluded members own nothing: their partitions go to the next
	// member in the table's order that may own.
	excluded []string
	// pins maps a partition to the member it is pinned to, which owns it
	// (unless it is unassigned).
	pins map[int]string
	// standbys is how many standbys every owned partition lists: members
	// that may own, after the owner in the table's order, other zones
	// first.
	standbys int
	// restarting members are away for a planned restart: not alive, their
	// partitions unassigned and reserved for them.
	restarting []string
	zones      map[string]string
	weights    map[string]float64
}

// mayOwn reports whether member m may get partitions under p.
func (p placement) mayOwn(m string) bool {
	return !slices.Contains(p.excluded, m) && !slices.Contains(p.restarting, m)
}

// onTable returns t with p laid over it.
func (p placement) onTable(t api.Table) api.Table {
	t.Frozen = p.frozen
	t.Excluded = slices.Clone(p.excluded)
	t.Partitions = slices.Clone(t.Partitions)
	n := len(t.Members)
	for i := range t.Partitions {
		e := &t.Partitions[i]
		if e.State == "unassigned" {
			continue
		}
		if slices.Contains(p.restarting, e.Owner) {
			*e = api.Entry{ID: e.ID, State: "unassigned", ReservedFor: e.Owner}
			continue
		}
		if m, ok := p.pins[e.ID]; ok {
			e.Owner = m
		}
		if !p.mayOwn(e.Owner) {
			at := slices.Index(t.Members, e.Owner)
			for k := 1; k < n; k++ {
				if m := t.Members[(at+k)%n]; p.mayOwn(m) {
					e.Owner = m
					break
				}
			}
		}
		e.Standbys = p.standbysOf(t.Members, e.Owner)
	}
	for id, m := range p.pins {
		if id < len(t.Partitions) {
			t.Partitions[id].PinnedTo = m
		}
	}
	return t
}

// standbysOf picks p.standbys members for a partition of owner: those that
// may own, after the owner in members' order, in other zones first.
func (p placement) standbysOf(members []string, owner string) []string {
	if p.standbys == 0 {
		return nil
	}
	at := slices.Index(members, owner)
	var other, same []string
	for k := 1; k < len(members); k++ {
		m := members[(at+k)%len(members)]
		switch {
		case !p.mayOwn(m):
		case p.zones[m] != "" && p.zones[m] == p.zones[owner]:
			same = append(same, m)
		default:
			other = append(other, m)
		}
	}
	out := append(other, same...)
	return out[:min(p.standbys, len(out))]
}

// onCluster returns c with the members' zones, weights and restarts.
func (p placement) onCluster(c api.Cluster) api.Cluster {
	c.Members = slices.Clone(c.Members)
	for i := range c.Members {
		m := &c.Members[i]
		m.Zone = p.zones[m.Name]
		m.Weight = p.weights[m.Name]
		if slices.Contains(p.restarting, m.Name) {
			m.Restarting, m.Alive = true, false
		}
	}
	return c
}

// standbyOf lists the partitions of t that node stands by for, as GET
// /partitions/mine shows them.
func standbyOf(t api.Table, node string) []api.Standby {
	var out []api.Standby
	for _, e := range t.Partitions {
		if rank := slices.Index(e.Standbys, node); rank >= 0 {
			out = append(out, api.Standby{ID: e.ID, Rank: rank, Owner: e.Owner})
		}
	}
	return out
}

func (f *fullFake) Locate(key string) api.Locate {
	t, _ := f.Table()
	h := fnv.New32a()
	h.Write([]byte(key))
	p := int(h.Sum32() % uint32(max(1, len(t.Partitions))))
	return api.Locate{Key: key, Partition: p, Entry: entryOf(t, p)}
}

func (f *fullFake) Ready() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready, f.reason
}

func (f *fullFake) setReady(ok bool, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ready, f.reason = ok, reason
}

func (f *fullFake) Changes() []api.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes)
}

func (f *fullFake) addChange(what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, api.Change{At: "2026-01-02T03:04:06.000Z", What: what})
}

func (f *fullFake) AckIndex(index uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.acks) < maxRecorded {
		f.acks = append(f.acks, index)
	}
}

func (f *fullFake) recordedAcks() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.acks)
}

func (f *fullFake) recordedCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// act records an action and returns what the test set up.
func (f *fullFake) act(ctx context.Context, call string) error {
	f.mu.Lock()
	if len(f.calls) < maxRecorded {
		f.calls = append(f.calls, call)
	}
	err, block := f.actErr, f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the loop: %w", ctx.Err())
		}
	}
	return err
}

func (f *fullFake) Release(ctx context.Context, id int, token uint64) error {
	if err := f.act(ctx, fmt.Sprint("release ", id)); err != nil {
		return err
	}
	t, _ := f.Table()
	if id >= len(t.Partitions) {
		return fmt.Errorf("%w: partition %d", ErrNotFound, id)
	}
	if e := t.Partitions[id]; e.Owner != t.Node || e.State != "releasing" || (token != 0 && e.Token != token) {
		return fmt.Errorf("%w: partition %d is not releasing on this member under token %d", ErrConflict, id, token)
	}
	return nil
}

func (f *fullFake) Drain(ctx context.Context) error   { return f.act(ctx, "drain") }
func (f *fullFake) Undrain(ctx context.Context) error { return f.act(ctx, "undrain") }

func (f *fullFake) Keys(ctx context.Context) (api.Keys, error) {
	if err := f.act(ctx, "keys"); err != nil {
		return api.Keys{}, err
	}
	return api.Keys{Node: f.mine.Node, Primary: "00112233aabbccdd",
		Keys: []api.Key{{Fingerprint: "00112233aabbccdd", Primary: true}}}, nil
}

func (f *fullFake) ForceVoters(ctx context.Context, names []string) error {
	return f.act(ctx, fmt.Sprint("recover ", names))
}

func (f *fullFake) KeyOp(ctx context.Context, op, key string) error {
	return f.act(ctx, op+" key "+key)
}

func (f *fullFake) SetPin(ctx context.Context, partition int, member string) error {
	return f.act(ctx, fmt.Sprint("pin ", partition, " ", member))
}

func (f *fullFake) SetExcluded(ctx context.Context, member string, on bool) error {
	return f.act(ctx, fmt.Sprint("exclude ", member, " ", on))
}

func (f *fullFake) SetFrozen(ctx context.Context, frozen bool) error {
	return f.act(ctx, fmt.Sprint("frozen ", frozen))
}

func (f *fullFake) Transfer(ctx context.Context, to string) error {
	if err := f.act(ctx, "transfer "+to); err != nil {
		return err
	}
	t, _ := f.Table()
	if !slices.Contains(t.Members, to) {
		return fmt.Errorf("%w: no member %q", ErrNotFound, to)
	}
	return nil
}

// voterNames makes the first three members voters, as name@identity.
func voterNames(members []string) []string {
	out := []string{}
	for i, m := range members {
		if i < 3 {
			out = append(out, fmt.Sprintf("%s@%d", m, i+1))
		}
	}
	return out
}
