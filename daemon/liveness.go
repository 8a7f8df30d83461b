package daemon

import (
	"context"
	"time"
)

// AppPolled records a poll of GET /partitions/mine by the application (not
// an ?observer=true one): the application counts as alive until the poll's
// wait ends (until), and for --app-liveness-timeout after that.
func (s *source) AppPolled(until time.Time) {
	n := until.UnixNano()
	for {
		cur := s.d.appLiveUntil.Load()
		if n <= cur || s.d.appLiveUntil.CompareAndSwap(cur, n) {
			return
		}
	}
}

// watchAppLiveness drains this member while its application has not polled
// for --app-liveness-timeout, and lifts that drain at the next poll. The
// application gets the timeout from ringd's start for its first poll.
func (d *Daemon) watchAppLiveness() {
	timeout := d.cfg.AppLivenessTimeout
	if timeout <= 0 {
		return
	}
	d.appLiveUntil.Store(time.Now().UnixNano())
	every := min(timeout/4, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	stale := false
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		last := time.Unix(0, d.appLiveUntil.Load())
		now := time.Now()
		switch {
		case !stale && now.Sub(last) > timeout:
			d.log.Warn("the application has not polled GET /partitions/mine within --app-liveness-timeout: draining this member until it polls again",
				"last_poll_ended", last.UTC().Format(time.RFC3339Nano), "timeout", timeout)
		case stale && now.Sub(last) <= timeout:
			d.log.Info("the application polls again: this member takes partitions again")
		default:
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
		err := d.setDraining(ctx, drainAppLiveness, !stale)
		cancel()
		if err != nil {
			// Shutting down, or the loop is stuck: the next tick tries again.
			d.log.Debug("app liveness: cannot change draining", "error", err)
			continue
		}
		stale = !stale
		d.metrics.appLive.Set(b2f(!stale))
	}
}
