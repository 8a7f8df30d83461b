// Package ledger is the shared work queue of the demo: every partition is an
// endless stream of items, and the workers of all members (cmd/ringd-worker)
// take the next item of a partition they own, process it, and commit it with
// their fencing token. The ledger does not fence: it records each commit with
// the interval the item was worked on, so that it can tell how many items
// were processed twice by workers whose grants overlapped in time (ringd's
// promise is that this never happens), apart from items processed again
// after an owner stopped without committing (at-least-once, harmless).
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Server is the ledger, in memory. It is an http.Handler:
//
//	GET  /next?partition=P                 -> {"item": K}   (the first uncommitted item)
//	POST /commit?partition=P&item=K&token=T&worker=W&from=UNIXNANO
//
// Times are the workers' wall clocks, which on one machine are one clock.
type Server struct {
	mu      sync.Mutex
	next    map[int]int64
	commits map[itemKey][]Commit
	total   int
}

type itemKey struct {
	partition int
	item      int64
}

// Commit is one processing of an item.
type Commit struct {
	Partition int
	Item      int64
	Token     uint64
	Worker    string
	From, To  time.Time
}

// NewServer returns an empty ledger.
func NewServer() *Server {
	return &Server{next: map[int]int64{}, commits: map[itemKey][]Commit{}}
}

// Next is the body of GET /next.
type Next struct {
	Item int64 `json:"item"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := strconv.Atoi(q.Get("partition"))
	if err != nil || p < 0 {
		http.Error(w, "partition must be a non-negative integer", http.StatusBadRequest)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/next":
		s.mu.Lock()
		item := s.next[p]
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Next{Item: item})
	case r.Method == http.MethodPost && r.URL.Path == "/commit":
		item, err1 := strconv.ParseInt(q.Get("item"), 10, 64)
		token, err2 := strconv.ParseUint(q.Get("token"), 10, 64)
		from, err3 := strconv.ParseInt(q.Get("from"), 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil || q.Get("worker") == "" {
			http.Error(w, "commit needs item, token, worker and from", http.StatusBadRequest)
			return
		}
		s.record(Commit{Partition: p, Item: item, Token: token, Worker: q.Get("worker"), From: time.Unix(0, from), To: time.Now()})
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) record(c Commit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := itemKey{c.Partition, c.Item}
	s.commits[k] = append(s.commits[k], c)
	s.total++
	if c.Item >= s.next[c.Partition] {
		s.next[c.Partition] = c.Item + 1
	}
}

// Report sums the ledger up.
type Report struct {
	// Items is how many commits there were.
	Items int
	// Overlapping is how many items two grants processed at overlapping
	// times: ringd's promise is that this is 0.
	Overlapping int
	// Again is how many items were processed again after an earlier,
	// non-overlapping processing (an owner that stopped before its commit
	// was known to the next one).
	Again int
	// Examples describes up to 5 overlapping items.
	Examples []string
}

// Report returns the summary so far.
func (s *Server) Report() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{Items: s.total}
	for k, cs := range s.commits {
		if len(cs) < 2 {
			continue
		}
		overlap := false
		for i, a := range cs {
			for _, b := range cs[i+1:] {
				if (a.Worker != b.Worker || a.Token != b.Token) && a.From.Before(b.To) && b.From.Before(a.To) {
					overlap = true
					if len(r.Examples) < 5 {
						r.Examples = append(r.Examples, fmt.Sprintf("partition %d item %d: %s (token %d) %s-%s and %s (token %d) %s-%s",
							k.partition, k.item, a.Worker, a.Token, a.From.Format("15:04:05.000"), a.To.Format("15:04:05.000"),
							b.Worker, b.Token, b.From.Format("15:04:05.000"), b.To.Format("15:04:05.000")))
					}
				}
			}
		}
		if overlap {
			r.Overlapping++
		} else {
			r.Again++
		}
	}
	return r
}

// Client is a worker's connection to the ledger.
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client of the ledger at base (http://host:port).
func NewClient(base string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the ledger address %q is not an http:// URL", base)
	}
	return &Client{base: base, http: &http.Client{Timeout: 5 * time.Second}}, nil
}

// Next returns the first uncommitted item of partition p.
func (c *Client) Next(ctx context.Context, p int) (int64, error) {
	var n Next
	body, err := c.send(ctx, http.MethodGet, "/next?partition="+strconv.Itoa(p))
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(body, &n); err != nil {
		return 0, fmt.Errorf("ledger: %v", err)
	}
	return n.Item, nil
}

// Commit records that worker processed item of partition p under token,
// starting at from.
func (c *Client) Commit(ctx context.Context, p int, item int64, token uint64, worker string, from time.Time) error {
	q := url.Values{
		"partition": {strconv.Itoa(p)}, "item": {strconv.FormatInt(item, 10)},
		"token": {strconv.FormatUint(token, 10)}, "worker": {worker}, "from": {strconv.FormatInt(from.UnixNano(), 10)},
	}
	_, err := c.send(ctx, http.MethodPost, "/commit?"+q.Encode())
	return err
}

func (c *Client) send(ctx context.Context, method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("ledger: %s %s: %s", method, path, resp.Status)
	}
	return body, nil
}
