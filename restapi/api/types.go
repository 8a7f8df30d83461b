// Package api holds the JSON types of ringd's app-facing REST API. It is shared by
// the server (restapi) and the Go client (clientlib) and depends on nothing else,
// so an application importing the client does not pull in the server.
package api

// Partition is one partition this member's app may work on.
type Partition struct {
	ID    int    `json:"id"`
	Token uint64 `json:"token"`
	// State is "owned" (work on it) or "releasing" (finish and let go).
	State string `json:"state"`
}

// Mine is the response of GET /partitions/mine.
type Mine struct {
	Node   string `json:"node"`
	Term   uint64 `json:"term"`
	Index  uint64 `json:"index"`
	Leader string `json:"leader"`
	// LeaseRemainingMs is how long this member's lease still runs; 0 when it has
	// none, and then Partitions is empty.
	LeaseRemainingMs int64       `json:"leaseRemainingMs"`
	Partitions       []Partition `json:"partitions"`
}

// Member is one member of the cluster as GET /cluster shows it.
type Member struct {
	Name string `json:"name"`
	// Rank is the position in the ring order (priority desc, name asc), 0 first.
	Rank     int    `json:"rank"`
	Priority int    `json:"priority"`
	Alive    bool   `json:"alive"`
	Draining bool   `json:"draining"`
	Leader   bool   `json:"leader"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	// InConfig is true when the member counts for the majority.
	InConfig bool `json:"inConfig"`
	// Owned is how many partitions the table gives this member.
	Owned int `json:"owned"`
}

// Cluster is the response of GET /cluster.
type Cluster struct {
	Node         string   `json:"node"`
	Leader       string   `json:"leader"`
	Term         uint64   `json:"term"`
	TableVersion uint64   `json:"tableVersion"`
	Partitions   int      `json:"partitions"`
	Members      []Member `json:"members"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok" whenever the process answers at all.
	Status string `json:"status"`
}

// IndexHeader is the response header of GET /partitions/mine that carries the
// view's Index, so a poller can read it without decoding the body and pass it back
// as ?index= on its next long-poll.
const IndexHeader = "X-Ringd-Index"
