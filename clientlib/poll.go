package clientlib

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ringd/ringd/clientlib/api"
)

// answer is one answer of GET /partitions/mine with when its request was
// sent: deadlines count from then, never from when the answer arrived.
type answer struct {
	mine       api.Mine
	sent, recv time.Time
	// failed marks a poll that got no usable answer (mine is empty).
	failed bool
}

// base is when the answer's durations count from: the send time plus the
// time ringd says it held the request, but never more than the round trip
// took (a broken heldMs cannot stretch a deadline past the arrival).
func (a answer) base() time.Time {
	return a.sent.Add(a.held())
}

func (a answer) held() time.Duration {
	return min(leaseDuration(a.mine.HeldMs), a.recv.Sub(a.sent))
}

const (
	// minPollWait bounds how often the client polls while a lease is about
	// to run out (the server answers a poll with an unchanged index only
	// after the wait).
	minPollWait = 100 * time.Millisecond
	// minPollInterval is the least time between two polls, whatever the
	// server does: one that ignores ?index= (an old version, a proxy)
	// must not make the client spin.
	minPollInterval = 25 * time.Millisecond
	// requestSlack is how much longer than the long-poll wait a request may
	// take before it is given up and retried: a stopped (SIGSTOP) ringd
	// keeps the connection open and never answers.
	requestSlack = 5 * time.Second
	// maxLeaseMs bounds the durations read from an answer, so that a broken
	// one cannot overflow a time.Duration: no lease is a day long.
	maxLeaseMs = int64(24 * time.Hour / time.Millisecond)
)

// poll long-polls GET /partitions/mine until ctx ends and hands each answer
// to out. It never acknowledges anything with a poll (?ack=false): releases
// are acknowledged one by one with their tokens once the worker returned.
// After a failed request it backs off and asks again without an index, so
// that the first answer after ringd comes back is immediate.
func (c *Client) poll(ctx context.Context, out chan<- answer) {
	var (
		last     *answer
		failures int
	)
	for ctx.Err() == nil {
		q := url.Values{"ack": {"false"}}
		wait := time.Duration(0)
		if last != nil {
			wait = c.pollWait(*last, time.Now())
			q.Set("index", strconv.FormatUint(last.mine.Index, 10))
			q.Set("incarnation", last.mine.Incarnation)
			q.Set("wait", wait.String())
		}
		sent := time.Now()
		// ringd adds up to wait/16 to spread watchers' answers out.
		m, err := c.mine(ctx, q, wait+wait/16+requestSlack)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			if failures == 1 {
				c.log.Warn("ringd does not answer; retrying with backoff (workers stop at their deadlines meanwhile)", "addr", c.base.Host, "error", err)
			} else {
				c.log.Debug("ringd still does not answer", "attempt", failures, "error", err)
			}
			last = nil
			if failures == 1 {
				select {
				case out <- answer{failed: true}:
				case <-ctx.Done():
					return
				}
			}
			if !sleep(ctx, c.backoff(failures)) {
				return
			}
			continue
		}
		if failures > 0 {
			c.log.Info("ringd answers again", "failed_attempts", failures, "node", m.Node, "incarnation", m.Incarnation)
			failures = 0
		}
		a := answer{mine: m, sent: sent, recv: time.Now()}
		select {
		case out <- a:
		case <-ctx.Done():
			return
		}
		last = &a
		if d := minPollInterval - time.Since(sent); d > 0 && !sleep(ctx, d) {
			return
		}
	}
}

// mine sends one GET /partitions/mine, bounded by timeout.
func (c *Client) mine(ctx context.Context, q url.Values, timeout time.Duration) (api.Mine, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, _, err := c.do(ctx, http.MethodGet, "/partitions/mine", q)
	if err != nil {
		return api.Mine{}, err
	}
	var m api.Mine
	if err := json.Unmarshal(body, &m); err != nil {
		return api.Mine{}, errors.New("GET /partitions/mine: the answer is not the expected JSON: " + err.Error())
	}
	return m, nil
}

// pollWait is the long-poll wait after answer a, for a poll sent at now:
// the longest wait while the member owns nothing; else half of what is left,
// after the margin and the last answer's time in transit, of the shortest
// lease that answer showed, so that a renewal reaches the workers well
// before their contexts would be cancelled.
func (c *Client) pollWait(a answer, now time.Time) time.Duration {
	if len(a.mine.Partitions) == 0 {
		return c.maxWait
	}
	least := time.Duration(-1)
	for _, p := range a.mine.Partitions {
		if d := leaseDuration(p.LeaseRemainingMs); least < 0 || d < least {
			least = d
		}
	}
	transit := a.recv.Sub(a.sent) - a.held()
	left := a.base().Add(least).Sub(now) - c.margin - transit
	return min(max(left/2, minPollWait), c.maxWait)
}

// leaseDuration reads a millisecond count of an answer, bounded to
// [0, a day].
func leaseDuration(ms int64) time.Duration {
	return time.Duration(min(max(ms, 0), maxLeaseMs)) * time.Millisecond
}

// backoff is the wait before attempt n+1 after n failures: drawn at random
// below min(maxBackoff, minBackoff*2^(n-1)).
func (c *Client) backoff(n int) time.Duration {
	bound := c.minBackoff
	for i := 1; i < n && bound < c.maxBackoff; i++ {
		bound *= 2
	}
	bound = min(bound, c.maxBackoff)
	return time.Duration(rand.Int64N(int64(bound)) + 1)
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// release acknowledges the release of partition id under token: the worker
// has returned. It retries failed requests with backoff until ctx ends (Run
// bounds it by the partition's deadline, after which ringd lets go anyway).
// It returns whether ringd took it; a 4xx means there is nothing to
// acknowledge (the partition is no longer releasing on this member under
// this token, for instance after ringd restarted) and is not retried.
func (c *Client) release(ctx context.Context, id int, token uint64) (bool, error) {
	q := url.Values{"token": {strconv.FormatUint(token, 10)}}
	path := "/partitions/" + strconv.Itoa(id) + "/release"
	for attempt := 1; ; attempt++ {
		_, _, err := c.do(ctx, http.MethodPost, path, q)
		if err == nil {
			return true, nil
		}
		var se *StatusError
		if errors.As(err, &se) && se.Status/100 == 4 {
			return false, err
		}
		if !sleep(ctx, c.backoff(attempt)) {
			return false, err
		}
	}
}
