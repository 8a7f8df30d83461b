package charttest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/procluster"
	"github.com/ringd/ringd/internal/testcert"
)

// chartPartitions is --partitions for the scenarios: small, so coverage
// checks are quick.
const chartPartitions = 24

// roundsEnv sets how many rounds of each scenario run (make soak: more).
const roundsEnv = "RINGD_CHART_ROUNDS"

func rounds(t *testing.T) int {
	n := 1
	if v := os.Getenv(roundsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("$%s=%q is not a positive count", roundsEnv, v)
		}
	}
	return n
}

// fastValues render the chart with the test timings (procluster.FastArgs:
// failure detection, elections and leases within seconds on loopback) as
// extra ringd args, and few partitions.
func fastValues(replicas int, extra ...string) []string {
	args := []string{"--set", "replicas=" + strconv.Itoa(replicas), "--set", "ringd.partitions=" + strconv.Itoa(chartPartitions)}
	for i, a := range procluster.FastArgs() {
		args = append(args, "--set-string", fmt.Sprintf("ringd.extraArgs[%d]=%s", i, a))
	}
	return append(args, extra...)
}

// watchAll starts the ownership checks every scenario ends with: the
// watcher (no partition listed by two members at once) and the apps, which
// acknowledge releases at once and check every lease they were shown.
func watchAll(t *testing.T, c *procluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := c.Watch(ctx, 20*time.Millisecond)
	stopApps := c.RunApps(ctx)
	t.Cleanup(func() {
		stopApps()
		v := w.Stop()
		cancel()
		v = append(v, c.AppLeases().Violations()...)
		if len(v) > 0 {
			t.Errorf("%d ownership violations:\n%s", len(v), strings.Join(v, "\n"))
		}
	})
}

// settle waits until names agree and cover every partition.
func settle(t *testing.T, c *procluster.Cluster, names []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, _, err := c.WaitSettled(ctx, names, 300*time.Millisecond, 60*time.Second); err != nil {
		t.Fatalf("members %v did not settle: %v", names, err)
	}
}

func podNames(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// The example StatefulSet as rendered: 3 pods form one cluster, their
// readiness and liveness probes pass where the kubelet would look, then a
// scale-up to 5, a scale-down to 3 (each pod SIGTERMed and gone within its
// grace period, its partitions handed over) and a rolling restart (highest
// ordinal first, each back under its name with an empty emptyDir, the next
// one only once it is ready), with every partition owned by exactly one
// member throughout.
func TestRenderedStatefulSet(t *testing.T) {
	w := renderWorkload(t, "StatefulSet", fastValues(3)...)
	names := podNames(w.name, 0, 3)
	c := w.start(t, names)
	watchAll(t, c)
	checkOneCluster(t, c, names)
	settle(t, c, names)
	cont := w.container(t)
	for _, n := range names {
		w.waitReady(t, n, 30*time.Second)
		if code, err := w.probe(t, cont.LivenessProbe, w.podIP(n)); err != nil || code != http.StatusOK {
			t.Fatalf("%s: liveness probe: %d %v", n, code, err)
		}
	}
	// The pod IP serves the probes and metrics, not the application API
	// nor the admin routes.
	ops := ""
	for _, p := range cont.Ports {
		if p.Name == "ops" {
			ops = "http://" + w.podIP(names[0]) + ":" + strconv.Itoa(int(p.ContainerPort))
		}
	}
	if ops == "" {
		t.Fatal("the ringd container has no port named ops")
	}
	for _, path := range []string{"/metrics", "/partitions/mine"} {
		resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Get(ops + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[string]int{"/metrics": 200, "/partitions/mine": 404}[path]; resp.StatusCode != want {
			t.Fatalf("GET %s on the pod IP's ops port: %d, want %d", path, resp.StatusCode, want)
		}
	}

	for round := 1; round <= rounds(t); round++ {
		// Scale up 3 -> 5: the new pods join the running cluster.
		for _, n := range podNames(w.name, 3, 5) {
			w.podIP(n)
			if _, err := c.Add(context.Background(), n); err != nil {
				t.Fatal(err)
			}
		}
		all := podNames(w.name, 0, 5)
		for _, n := range all[3:] {
			w.waitReady(t, n, 60*time.Second)
		}
		checkOneCluster(t, c, all)
		settle(t, c, all)
		t.Logf("round %d: scaled up to 5", round)

		// Scale down 5 -> 3, highest ordinal first, one at a time.
		for _, n := range []string{all[4], all[3]} {
			took := w.terminate(t, c, n)
			c.Forget(n)
			w.deleted(n)
			t.Logf("round %d: %s left %v after SIGTERM (grace period %v)", round, n, took.Round(time.Millisecond), w.grace)
		}
		settle(t, c, names)

		// Rolling restart: highest ordinal first; each pod back under its
		// name with an empty emptyDir, the next only once it is ready.
		for i := len(names) - 1; i >= 0; i-- {
			n := names[i]
			took := w.terminate(t, c, n)
			if err := c.Member(n).Replace(context.Background(), w.spec(t, n)); err != nil {
				t.Fatal(err)
			}
			w.waitReady(t, n, 60*time.Second)
			// Ready must mean useful: the StatefulSet restarts the next
			// pod now, and a pod that is ready before it has its vote
			// back would leave the cluster with ever fewer voters.
			cl, err := c.Member(n).Cluster(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range cl.Members {
				if m.Name == n && !m.Voter && m.Owned == 0 {
					t.Fatalf("round %d: %s is ready but neither votes nor owns anything", round, n)
				}
			}
			t.Logf("round %d: restarted %s (left %v after SIGTERM)", round, n, took.Round(time.Millisecond))
		}
		checkOneCluster(t, c, names)
		settle(t, c, names)
	}
}

// A Deployment that includes the sidecar template, rolled as Kubernetes
// rolls it (maxSurge 1, maxUnavailable 0): a pod under a new name starts,
// once it is ready an old one is deleted, until every pod is new.
func TestRenderedDeploymentRollingUpdate(t *testing.T) {
	w := renderWorkload(t, "Deployment", fastValues(3, "--set", "workload.kind=Deployment")...)
	gen := 0
	newName := func() string {
		gen++
		return fmt.Sprintf("%s-%08x-%05d", w.name, 0x5eed0000+gen/10, gen)
	}
	var live []string
	for range 3 {
		live = append(live, newName())
	}
	c := w.start(t, live)
	watchAll(t, c)
	checkOneCluster(t, c, live)
	settle(t, c, live)
	for round := 1; round <= rounds(t); round++ {
		for range 3 {
			n := newName()
			w.podIP(n)
			if _, err := c.Add(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			w.waitReady(t, n, 60*time.Second)
			old := live[0]
			took := w.terminate(t, c, old)
			c.Forget(old)
			w.deleted(old)
			live = append(live[1:], n)
			t.Logf("round %d: %s replaced %s, which left %v after SIGTERM", round, n, old, took.Round(time.Millisecond))
		}
		checkOneCluster(t, c, live)
		settle(t, c, live)
	}
}

// The chart with api.tls.secretName (an existing kubernetes.io/tls Secret, as
// cert-manager makes): the rendered pods serve their API over HTTPS only,
// with the Secret's certificate, form one cluster, and keep every partition
// owned while a pod restarts; the probes and /metrics stay plain HTTP on the
// ops port.
func TestRenderedAPIOverTLS(t *testing.T) {
	w := renderWorkload(t, "StatefulSet", fastValues(3, "--set", "api.tls.secretName=orders-api-tls")...)
	ips, dnsNames := testcert.Loopback()
	certs, err := testcert.Write(t.TempDir(), ips, dnsNames)
	if err != nil {
		t.Fatal(err)
	}
	w.addSecret("orders-api-tls", certs.PEM)
	w.tls = certs.ClientConfig()
	names := podNames(w.name, 0, 3)
	c := w.start(t, names) // the harness's every request is HTTPS, trusting only the test's authority
	watchAll(t, c)
	checkOneCluster(t, c, names)
	settle(t, c, names)
	for _, n := range names {
		w.waitReady(t, n, 30*time.Second)
	}

	// Plain HTTP to the API is refused.
	addr := strings.ReplaceAll(flagValue(t, w.container(t).Args, "--http-addr"), "127.0.0.1", w.podIP(names[0]))
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Get("http://" + addr + "/partitions/mine")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the API at %s: %d, want it refused (400 from a TLS listener)", addr, resp.StatusCode)
		}
	}

	// A pod restarts under its name and rejoins over the same certificate.
	n := names[len(names)-1]
	w.terminate(t, c, n)
	if err := c.Member(n).Replace(context.Background(), w.spec(t, n)); err != nil {
		t.Fatal(err)
	}
	w.waitReady(t, n, 60*time.Second)
	checkOneCluster(t, c, names)
	settle(t, c, names)
}

// The StatefulSet with ringd.shutdown=restart and one standby per
// partition: a rolling restart moves nothing. Each pod, SIGTERMed, leaves
// its partitions kept for it (owned by nobody, listed as kept), the other
// pods keep exactly theirs, and the pod, back under its name with an empty
// emptyDir, gets exactly its partitions back; the watcher and the apps check
// that no partition ever has two owners.
func TestRenderedStatefulSetPlannedRestart(t *testing.T) {
	w := renderWorkload(t, "StatefulSet", fastValues(3, "--set", "ringd.shutdown=restart", "--set", "ringd.rejoinGrace=1m",
		"--set", "ringd.standbys=1")...)
	names := podNames(w.name, 0, 3)
	c := w.start(t, names)
	watchAll(t, c)
	checkOneCluster(t, c, names)
	settle(t, c, names)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ownedBy := func(s procluster.Snapshot) map[string][]int {
		out := map[string][]int{}
		for name, mine := range s {
			for _, p := range mine.Partitions {
				out[name] = append(out[name], p.ID)
			}
			slices.Sort(out[name])
		}
		return out
	}
	before := ownedBy(c.Snapshot(ctx))
	for i := len(names) - 1; i >= 0; i-- {
		n := names[i]
		took := w.terminate(t, c, n)
		other := names[(i+1)%len(names)]
		var table api.Table
		if err := c.Member(other).GetJSON(ctx, "/partitions", &table); err != nil {
			t.Fatal(err)
		}
		for _, p := range before[n] {
			if e := table.Partitions[p]; e.Owner != "" || e.ReservedFor != n {
				t.Fatalf("%s is away: partition %d is %+v, want no owner and kept for it", n, p, e)
			}
		}
		if err := c.Member(n).Replace(ctx, w.spec(t, n)); err != nil {
			t.Fatal(err)
		}
		w.waitReady(t, n, 60*time.Second)
		settle(t, c, names)
		after := ownedBy(c.Snapshot(ctx))
		for _, m := range names {
			if !slices.Equal(after[m], before[m]) {
				t.Fatalf("after %s's restart %s owns %v, before %v", n, m, after[m], before[m])
			}
		}
		t.Logf("restarted %s (left %v after SIGTERM): every pod owns what it owned", n, took.Round(time.Millisecond))
	}
}
