package daemon

import (
	"fmt"
	"sync"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/daemon/core"
)

// changeLog keeps the most recent events for GET /changes and the
// dashboard: the partition moves apart from the rest, so that the hundreds
// of moves of one rebalance do not push the leader changes out.
type changeLog struct {
	mu     sync.Mutex
	events []api.Change
	moves  []api.Change
}

// changeLogSize is how many of each the log keeps.
const changeLogSize = 100

func (l *changeLog) add(at time.Time, kind, format string, args ...any) {
	c := api.Change{At: at.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Kind: kind, What: fmt.Sprintf(format, args...)}
	l.mu.Lock()
	defer l.mu.Unlock()
	ring := &l.events
	if kind == api.ChangeMove {
		ring = &l.moves
	}
	*ring = append(*ring, c)
	if len(*ring) > changeLogSize {
		*ring = append([]api.Change(nil), (*ring)[len(*ring)-changeLogSize:]...)
	}
}

// list returns both, merged oldest first (the times have a fixed width, so
// they order as strings).
func (l *changeLog) list() []api.Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]api.Change, 0, len(l.events)+len(l.moves))
	i, j := 0, 0
	for i < len(l.events) || j < len(l.moves) {
		if j == len(l.moves) || (i < len(l.events) && l.events[i].At <= l.moves[j].At) {
			out = append(out, l.events[i])
			i++
		} else {
			out = append(out, l.moves[j])
			j++
		}
	}
	return out
}

// recordEvents turns the core's events into metrics, log lines and changes.
// Wall-clock times are used for display only.
func (d *Daemon) recordEvents(events []core.Event) {
	wall := time.Now()
	for _, e := range events {
		switch e.Kind {
		case core.EventElected:
			d.metrics.elections.Inc()
			d.changes.add(wall, api.ChangeCluster, "%s became leader", d.cfg.Name)
			if e.From != "" {
				d.log.Info("became leader: the previous leader's partitions move once its lease surely ended",
					"previous", e.From, "its_partitions", e.Partition, "after", e.Bound.Round(time.Millisecond),
					"others_silent_after", e.Took.Round(time.Millisecond))
			} else {
				d.log.Info("became leader: partitions of members that do not answer move after the safe wait",
					"safe_wait", e.Took.Round(time.Millisecond))
			}
		case core.EventMoveStarted:
			d.metrics.movesStarted.Inc()
			d.log.Named(LogRebalance).Debug("moving partition", "partition", e.Partition, "from", e.From, "to", e.To)
		case core.EventMoveFinished:
			d.metrics.movesFinished.Inc()
			if e.Standby {
				d.metrics.standbyGrants.Inc()
			}
			d.metrics.handoff.Observe(e.Took.Seconds())
			d.changes.add(wall, api.ChangeMove, "partition %d moved to %s (handoff %v)", e.Partition, e.To, e.Took.Round(time.Millisecond))
		case core.EventGranted:
			d.metrics.grants.Inc()
			if e.Standby {
				d.metrics.standbyGrants.Inc()
			}
			if e.Rejoined {
				d.metrics.rejoinGrants.Inc()
			}
		case core.EventRestartKept:
			d.changes.add(wall, api.ChangeCluster, "%s stops for a restart: its partitions are kept for it, owned by nobody, for %v", e.To, e.Took)
			d.log.Named(LogTable).Info("keeping a restarting member's partitions", "member", e.To, "rejoin-grace", e.Took)
		case core.EventRestartEnded:
			if e.Partition > 0 {
				d.changes.add(wall, api.ChangeCluster, "%s did not come back in time: %d partitions kept for it go to others", e.To, e.Partition)
				d.log.Named(LogTable).Warn("rejoin grace ended: kept partitions go to others", "member", e.To, "partitions", e.Partition)
			}
		case core.EventConfigChanged:
			d.changes.add(wall, api.ChangeCluster, "voters are now %v", e.Members)
			d.log.Named(LogElection).Info("voters changed", "voters", e.Members)
		case core.EventHandedOver:
			d.changes.add(wall, api.ChangeCluster, "%s handed leadership to %s", d.cfg.Name, e.To)
			d.log.Named(LogElection).Info("handing leadership over", "to", e.To)
		case core.EventPlanFailed:
			d.changes.add(wall, api.ChangeCluster, "planning failed: %v", e.Err)
			d.log.Named(LogTable).Error("planning failed; nothing is granted or moved until the members change", "error", e.Err)
		case core.EventFrozen:
			d.changes.add(wall, api.ChangeAdmin, "assignment frozen (asked at %s): no rebalancing moves until unfrozen", e.From)
			d.log.Named(LogTable).Info("assignment frozen: no rebalancing moves until unfrozen", "asked-at", e.From)
		case core.EventUnfrozen:
			d.changes.add(wall, api.ChangeAdmin, "assignment unfrozen (asked at %s)", e.From)
			d.log.Named(LogTable).Info("assignment unfrozen", "asked-at", e.From)
		case core.EventPinned:
			if e.To == "" {
				d.changes.add(wall, api.ChangeAdmin, "partition %d unpinned (asked at %s)", e.Partition, e.From)
			} else {
				d.changes.add(wall, api.ChangeAdmin, "partition %d pinned to %s (asked at %s)", e.Partition, e.To, e.From)
			}
			d.log.Named(LogTable).Info("pin changed", "partition", e.Partition, "member", e.To, "asked-at", e.From)
		case core.EventExcluded, core.EventIncluded:
			d.changes.add(wall, api.ChangeAdmin, "%s %s (asked at %s)", e.To, map[core.EventKind]string{core.EventExcluded: "excluded from owning partitions", core.EventIncluded: "may own partitions again"}[e.Kind], e.From)
			d.log.Named(LogTable).Info("exclusion changed", "member", e.To, "excluded", e.Kind == core.EventExcluded, "asked-at", e.From)
		case core.EventTransferFailed:
			d.log.Named(LogElection).Warn("leadership transfer refused", "to", e.To, "asked-by", e.From, "error", e.Err)
		default:
			d.log.Debug("core event", "kind", e.Kind)
		}
	}
}
