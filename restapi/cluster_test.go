package restapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"runtime"
	"testing"

	"github.com/ringd/ringd/clientlib/api"
)

func TestClusterBody(t *testing.T) {
	f := newFake(sampleMine())
	want := api.Cluster{
		Node: "ringd-0", Leader: "ringd-2", Term: 7, TableVersion: 12, Partitions: 271,
		Members: []api.Member{
			{Name: "ringd-2", Rank: 0, Priority: 10, Alive: true, Leader: true, HTTPAddr: "10.0.0.3:7070", InConfig: true, Owned: 91},
			{Name: "ringd-0", Rank: 1, Alive: true, InConfig: true, Owned: 90},
			{Name: "ringd-1", Rank: 2, Draining: true, InConfig: true, Owned: 90},
		},
	}
	f.setCluster(want)
	_, ts, _ := newHTTPTest(t, f, Options{})
	r := get(t, newClient(t), ts.URL+"/cluster")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got api.Cluster
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// Order is the ring order the Source gave; it must not be re-sorted.
	if got.Members[0].Name != "ringd-2" {
		t.Fatalf("member order changed: %v", got.Members)
	}
}

func TestClusterNoMembersIsArray(t *testing.T) {
	f := newFake(sampleMine())
	f.setCluster(api.Cluster{Node: "ringd-0", Partitions: 271})
	_, ts, _ := newHTTPTest(t, f, Options{})
	r := get(t, newClient(t), ts.URL+"/cluster")
	if !bytes.Contains(r.body, []byte(`"members":[]`)) {
		t.Fatalf("body %s: want \"members\":[]", r.body)
	}
}

func TestVersion(t *testing.T) {
	// Like /healthz, /version answers without asking the daemon.
	_, ts, _ := newHTTPTest(t, panicSource{}, Options{})
	r := get(t, newClient(t), ts.URL+"/version")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var v api.Version
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if v.Version == "" || v.Commit == "" || v.GoVersion != runtime.Version() {
		t.Fatalf("version = %+v, want every field set and Go %s", v, runtime.Version())
	}
}

func TestHealthz(t *testing.T) {
	// A Source that would panic proves /healthz does not consult the daemon.
	_, ts, _ := newHTTPTest(t, panicSource{}, Options{})
	r := get(t, newClient(t), ts.URL+"/healthz")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if got := string(bytes.TrimSpace(r.body)); got != `{"status":"ok"}` {
		t.Fatalf("body = %s, want {\"status\":\"ok\"}", got)
	}
}
