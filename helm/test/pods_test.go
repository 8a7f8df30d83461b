package charttest

// The chart's rendered pods, started for real: the ringd container's command,
// args and env exactly as rendered, with what Kubernetes would fill in
// emulated here:
//
//   - the downward API (pod name, pod IP, namespace) and the kubelet's
//     $(VAR) expansion in args and env values;
//   - each pod's own network namespace: every pod gets its own loopback
//     address (127.77.x.y), used as its pod IP, and the rendered 127.0.0.1
//     (the pod's localhost) is mapped to it, so that the fixed ports of the
//     chart do not collide between pods on one host;
//   - cluster DNS: the headless Service's name resolves, through ringd's
//     testhosts build (RINGD_TEST_HOSTS), to the pod IPs of the pods that
//     exist when a pod starts (publishNotReadyAddresses: ready or not);
//   - volumes: each mount is a directory of the test, a Secret's keys
//     written into it, an emptyDir empty at every pod start;
//   - the kubelet's probes: GET on the rendered port and path at the pod IP;
//   - termination: SIGTERM, then SIGKILL after terminationGracePeriodSeconds.
//
// Not emulated: the securityContext (user 65532, read-only root), resource
// limits, and the image (the binary is built from this repository).

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ringd/ringd/daemon"
	"github.com/ringd/ringd/internal/procluster"
)

var (
	buildOnce   sync.Once
	ringdBinary string
	buildErr    error
	// buildDir holds the binary; TestMain removes it.
	buildDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// testhostsRingd builds ringd with the testhosts tag once per test binary.
func testhostsRingd(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chart-ringd-")
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		// Built from the repository root, where the daemon's module is.
		wd, _ := os.Getwd()
		if err := os.Chdir(filepath.Join("..", "..")); err != nil {
			buildErr = err
			return
		}
		defer os.Chdir(wd)
		ringdBinary, buildErr = procluster.BuildRingdTags(ctx, dir, false, "testhosts")
		buildDir = dir
	})
	if buildErr != nil {
		t.Fatalf("building ringd: %v", buildErr)
	}
	return ringdBinary
}

// workload is a rendered workload and what its pods need.
type workload struct {
	name      string // StatefulSet or Deployment name
	namespace string
	template  corev1.PodTemplateSpec
	grace     time.Duration
	secrets   map[string]*corev1.Secret
	headless  *corev1.Service
	// tls is how the harness trusts the pods' API certificate, when the
	// chart was rendered with api.tls.secretName (nil: plain HTTP).
	tls *tls.Config
	// dir holds the pods' volumes.
	dir string

	mu   sync.Mutex
	ips  map[string]string // pod name -> pod IP, of the pods that exist
	next int               // next free address
	base string            // "127.77.0." or "127.77.1."
}

// renderWorkload renders the chart with args and returns its workload of
// kind ("StatefulSet" or "Deployment").
func renderWorkload(t *testing.T, kind string, args ...string) *workload {
	t.Helper()
	objs := decodeAll(t, render(t, args...))
	w := &workload{namespace: "apps", secrets: map[string]*corev1.Secret{}, ips: map[string]string{}, dir: t.TempDir(), next: 10}
	switch kind {
	case "StatefulSet":
		if len(objs[kind]) != 1 {
			t.Fatalf("%d StatefulSets rendered, want 1", len(objs[kind]))
		}
		s := objs[kind][0].(*appsv1.StatefulSet)
		w.name, w.template, w.base = s.Name, s.Spec.Template, "127.77.0."
	case "Deployment":
		if len(objs[kind]) != 1 {
			t.Fatalf("%d Deployments rendered, want 1", len(objs[kind]))
		}
		d := objs[kind][0].(*appsv1.Deployment)
		w.name, w.template, w.base = d.Name, d.Spec.Template, "127.77.1."
	}
	if g := w.template.Spec.TerminationGracePeriodSeconds; g != nil {
		w.grace = time.Duration(*g) * time.Second
	} else {
		w.grace = 30 * time.Second // the Kubernetes default
	}
	for _, o := range objs["Secret"] {
		s := o.(*corev1.Secret)
		w.secrets[s.Name] = s
	}
	for _, o := range objs["Service"] {
		if s := o.(*corev1.Service); s.Spec.ClusterIP == corev1.ClusterIPNone {
			w.headless = s
		}
	}
	if w.headless == nil {
		t.Fatal("no headless Service rendered")
	}
	return w
}

// addSecret provides a Secret the chart refers to but does not render (an
// existing Secret, made by the operator or cert-manager), with data as its
// keys.
func (w *workload) addSecret(name string, data map[string][]byte) {
	w.secrets[name] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.namespace}, Data: data}
}

// container is the rendered ringd container.
func (w *workload) container(t *testing.T) corev1.Container {
	t.Helper()
	for _, c := range w.template.Spec.Containers {
		if c.Name == "ringd" {
			return c
		}
	}
	t.Fatalf("the pod template has no container named ringd")
	return corev1.Container{}
}

// podIP gives pod name an address of its own (kept while the pod exists).
func (w *workload) podIP(name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ip, ok := w.ips[name]; ok {
		return ip
	}
	ip := w.base + strconv.Itoa(w.next)
	w.next++
	w.ips[name] = ip
	return ip
}

// deleted forgets a pod's address (the pod is gone from DNS).
func (w *workload) deleted(name string) {
	w.mu.Lock()
	delete(w.ips, name)
	w.mu.Unlock()
}

// dnsHosts is the RINGD_TEST_HOSTS value: the headless Service's names
// resolve to every existing pod's IP.
func (w *workload) dnsHosts() string {
	w.mu.Lock()
	var ips []string
	for _, ip := range w.ips {
		ips = append(ips, ip)
	}
	w.mu.Unlock()
	sort.Strings(ips)
	list := strings.Join(ips, ",")
	svc := w.headless.Name
	var entries []string
	for _, name := range []string{svc, svc + "." + w.namespace, svc + "." + w.namespace + ".svc", svc + "." + w.namespace + ".svc.cluster.local"} {
		entries = append(entries, name+"="+list)
	}
	return strings.Join(entries, ";")
}

var varRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// expand does the kubelet's $(VAR) expansion: a defined variable is
// replaced, $$ gives $, anything else stays as written.
func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// spec derives pod name's ringd process from the rendered container.
func (w *workload) spec(t *testing.T, name string) procluster.PodSpec {
	t.Helper()
	c := w.container(t)
	ip := w.podIP(name)
	podDir := filepath.Join(w.dir, name)
	_ = os.RemoveAll(podDir) // a new pod: new emptyDir
	// The downward API and the container's env, in order, each value
	// expanded with the ones before it.
	env := map[string]string{}
	var envList []string
	for _, e := range c.Env {
		v := expand(e.Value, env)
		if e.ValueFrom != nil {
			switch {
			case e.ValueFrom.FieldRef != nil:
				switch e.ValueFrom.FieldRef.FieldPath {
				case "metadata.name":
					v = name
				case "metadata.namespace":
					v = w.namespace
				case "status.podIP":
					v = ip
				case "status.podIPs":
					v = ip
				default:
					t.Fatalf("env %s: field %s is not emulated", e.Name, e.ValueFrom.FieldRef.FieldPath)
				}
			case e.ValueFrom.SecretKeyRef != nil:
				v = string(w.secretKey(t, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
			default:
				t.Fatalf("env %s: valueFrom is not emulated", e.Name)
			}
		}
		env[e.Name] = v
		envList = append(envList, e.Name+"="+v)
	}
	// Volumes: a directory per mount.
	mounts := map[string]string{}
	volumes := map[string]corev1.Volume{}
	for _, v := range w.template.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		host := filepath.Join(podDir, m.Name)
		if err := os.MkdirAll(host, 0o755); err != nil {
			t.Fatal(err)
		}
		if v, ok := volumes[m.Name]; ok && v.Secret != nil {
			s := w.secrets[v.Secret.SecretName]
			if s == nil {
				t.Fatalf("volume %s: Secret %s is neither rendered nor given by the test (addSecret)", m.Name, v.Secret.SecretName)
			}
			for key, val := range secretData(s) {
				if err := os.WriteFile(filepath.Join(host, key), val, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		mounts[m.MountPath] = host
	}
	args := append([]string(nil), c.Command...)
	if len(args) > 0 {
		args = args[1:] // the image's binary is ours
	}
	args = append(args, c.Args...)
	paths := make([]string, 0, len(mounts))
	for p := range mounts {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	for i, a := range args {
		a = expand(a, env)
		for _, p := range paths {
			a = strings.ReplaceAll(a, p, mounts[p])
		}
		args[i] = strings.ReplaceAll(a, "127.0.0.1", ip) // the pod's own loopback
	}
	envList = append(envList, daemon.TestHostsEnv+"="+w.dnsHosts())
	return procluster.PodSpec{
		Binary:     ringdBinary,
		Args:       args,
		Env:        envList,
		HTTPAddr:   flagValue(t, args, "--http-addr"),
		GossipAddr: flagValue(t, args, "--gossip-addr"),
		DataDir:    mounts["/var/lib/ringd"],
	}
}

func (w *workload) secretKey(t *testing.T, name, key string) []byte {
	t.Helper()
	s := w.secrets[name]
	if s == nil {
		t.Fatalf("Secret %s is not rendered", name)
	}
	v, ok := secretData(s)[key]
	if !ok {
		t.Fatalf("Secret %s has no key %s", name, key)
	}
	return v
}

// secretData is a Secret's data and stringData as files.
func secretData(s *corev1.Secret) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

// flagValue returns the value of --name=value or --name value in args.
func flagValue(t *testing.T, args []string, name string) string {
	t.Helper()
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	t.Fatalf("the rendered args have no %s: %q", name, args)
	return ""
}

// probe does what the kubelet does with an HTTP probe of the ringd
// container: GET on its port and path at the pod IP.
func (w *workload) probe(t *testing.T, p *corev1.Probe, ip string) (int, error) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Fatal("the ringd container has no HTTP probe")
	}
	port := p.HTTPGet.Port.IntValue()
	if p.HTTPGet.Port.StrVal != "" {
		for _, cp := range w.container(t).Ports {
			if cp.Name == p.HTTPGet.Port.StrVal {
				port = int(cp.ContainerPort)
			}
		}
	}
	if port == 0 {
		t.Fatalf("probe port %v names no container port", p.HTTPGet.Port)
	}
	host := ip
	if p.HTTPGet.Host != "" {
		host = p.HTTPGet.Host
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, strconv.Itoa(port))+p.HTTPGet.Path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitReady polls the rendered readiness probe of pod name until it passes.
func (w *workload) waitReady(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	c := w.container(t)
	deadline := time.Now().Add(timeout)
	var code int
	var err error
	for time.Now().Before(deadline) {
		if code, err = w.probe(t, c.ReadinessProbe, w.podIP(name)); err == nil && code == http.StatusOK {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: readiness probe %s did not pass within %v (last: %d %v)", name, c.ReadinessProbe.HTTPGet.Path, timeout, code, err)
}

// terminate does what the kubelet does to a deleted pod: SIGTERM, then
// SIGKILL after the grace period. It fails the test if the grace period
// ran out (the drain did not finish) or ringd exited non-zero.
func (w *workload) terminate(t *testing.T, c *procluster.Cluster, name string) time.Duration {
	t.Helper()
	m := c.Member(name)
	began := time.Now()
	if err := m.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.grace)
	defer cancel()
	if err := m.Wait(ctx); err != nil {
		_ = m.Kill()
		t.Fatalf("%s after SIGTERM: %v (grace period %v)\n%s", name, err, w.grace, m.LogTail(30))
	}
	return time.Since(began)
}

// podSet starts the rendered pods as a procluster.Cluster.
func (w *workload) start(t *testing.T, names []string) *procluster.Cluster {
	t.Helper()
	bin := testhostsRingd(t)
	for _, n := range names {
		w.podIP(n) // every initial pod is in DNS before any starts
	}
	partitions, err := strconv.Atoi(flagValue(t, w.container(t).Args, "--partitions"))
	if err != nil {
		t.Fatalf("the rendered --partitions: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := procluster.Start(ctx, procluster.Options{
		Binary: bin, Names: names, Dir: t.TempDir(), Partitions: partitions,
		Pods: func(name string) (procluster.PodSpec, error) { return w.spec(t, name), nil },
		TLS:  w.tls,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// checkOneCluster checks that every member sees the same leader and all of
// names as members.
func checkOneCluster(t *testing.T, c *procluster.Cluster, names []string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if last = oneCluster(c, names); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the pods do not form one cluster: %v", last)
}

func oneCluster(c *procluster.Cluster, names []string) error {
	leader := ""
	for _, n := range names {
		cl, err := c.Member(n).Cluster(context.Background())
		if err != nil {
			return fmt.Errorf("%s: %v", n, err)
		}
		if cl.Leader == "" || (leader != "" && cl.Leader != leader) {
			return fmt.Errorf("%s follows %q, others %q", n, cl.Leader, leader)
		}
		leader = cl.Leader
		seen := map[string]bool{}
		for _, m := range cl.Members {
			if m.Alive {
				seen[m.Name] = true
			}
		}
		for _, want := range names {
			if !seen[want] {
				return fmt.Errorf("%s does not see %s alive", n, want)
			}
		}
	}
	return nil
}
