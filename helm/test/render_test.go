package charttest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart under test.
var chartDir = filepath.Join("..", "ringd")

// helmBin is the helm binary: $HELM, else bin/helm of the repository, which
// `make test` installs at a pinned version.
func helmBin(t testing.TB) string {
	t.Helper()
	p := os.Getenv("HELM")
	if p == "" {
		p = filepath.Join("..", "..", "bin", "helm")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("no helm binary at %s: run `make helm` (make test installs it) or set $HELM", abs)
	}
	return abs
}

// helm runs helm with args and returns its standard output.
func helm(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.Bytes()
}

// scenarioFiles lists the values files under ci/ that CI renders.
func scenarioFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no scenario values files in %s/ci", chartDir)
	}
	return files
}

// manifest is one rendered document.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	source string // the template it came from
	raw    []byte
}

// render runs helm template and splits the output into its documents.
func render(t testing.TB, args ...string) []manifest {
	t.Helper()
	out := helm(t, append([]string{"template", "ringd", chartDir, "--namespace", "apps"}, args...)...)
	var docs []manifest
	for _, part := range strings.Split("\n"+string(out), "\n---") {
		source := ""
		for _, line := range strings.Split(part, "\n") {
			if s, ok := strings.CutPrefix(line, "# Source: "); ok {
				source = s
			}
		}
		if strings.TrimSpace(stripComments(part)) == "" {
			continue
		}
		var m manifest
		if err := yaml.Unmarshal([]byte(part), &m); err != nil {
			t.Fatalf("%s: not YAML: %v\n%s", source, err, part)
		}
		m.source, m.raw = source, []byte(part)
		docs = append(docs, m)
	}
	return docs
}

func stripComments(doc string) string {
	var keep []string
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// kinds maps each kind the chart may render to its API version and a
// decoder into the Kubernetes (or Prometheus operator) type.
var kinds = map[string]struct {
	apiVersion string
	decode     func([]byte) (any, error)
}{
	"StatefulSet":         {"apps/v1", strict[appsv1.StatefulSet]},
	"Deployment":          {"apps/v1", strict[appsv1.Deployment]},
	"Service":             {"v1", strict[corev1.Service]},
	"Secret":              {"v1", strict[corev1.Secret]},
	"ServiceAccount":      {"v1", strict[corev1.ServiceAccount]},
	"ConfigMap":           {"v1", strict[corev1.ConfigMap]},
	"Pod":                 {"v1", strict[corev1.Pod]},
	"PodDisruptionBudget": {"policy/v1", strict[policyv1.PodDisruptionBudget]},
	"NetworkPolicy":       {"networking.k8s.io/v1", strict[networkingv1.NetworkPolicy]},
	"ServiceMonitor":      {"monitoring.coreos.com/v1", strict[monitoringv1.ServiceMonitor]},
}

// strict decodes raw into a T, failing on any field T does not have.
func strict[T any](raw []byte) (any, error) {
	var v T
	err := yaml.UnmarshalStrict(raw, &v)
	return &v, err
}

// decodeAll decodes every manifest strictly and returns them by kind.
func decodeAll(t testing.TB, docs []manifest) map[string][]any {
	t.Helper()
	out := map[string][]any{}
	for _, d := range docs {
		k, ok := kinds[d.Kind]
		if !ok {
			t.Errorf("%s: kind %q is not one this test knows; add it to kinds", d.source, d.Kind)
			continue
		}
		if d.APIVersion != k.apiVersion {
			t.Errorf("%s: %s has apiVersion %q, want %q", d.source, d.Kind, d.APIVersion, k.apiVersion)
		}
		v, err := k.decode(d.raw)
		if err != nil {
			t.Errorf("%s: %s %s does not decode strictly: %v", d.source, d.Kind, d.Metadata.Name, err)
			continue
		}
		out[d.Kind] = append(out[d.Kind], v)
	}
	return out
}

func TestHelmLint(t *testing.T) {
	helm(t, "lint", "--strict", chartDir)
	for _, f := range scenarioFiles(t) {
		helm(t, "lint", "--strict", chartDir, "-f", f)
	}
}

// Every manifest rendered with the default values and with each scenario
// file decodes strictly into its API type.
func TestRenderedManifestsDecodeStrictly(t *testing.T) {
	cases := map[string][]string{"default values": nil}
	for _, f := range scenarioFiles(t) {
		cases[filepath.Base(f)] = []string{"-f", f}
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			objs := decodeAll(t, render(t, args...))
			if len(objs["StatefulSet"])+len(objs["Deployment"]) == 0 {
				t.Error("no workload rendered")
			}
			headless := 0
			for _, o := range objs["Service"] {
				s := o.(*corev1.Service)
				if s.Spec.ClusterIP == corev1.ClusterIPNone {
					headless++
					if !s.Spec.PublishNotReadyAddresses {
						t.Errorf("headless Service %s does not publish not-ready addresses: new pods could not find the cluster", s.Name)
					}
				}
			}
			if headless != 1 {
				t.Errorf("%d headless Services, want 1 (gossip discovery)", headless)
			}
			if len(objs["PodDisruptionBudget"]) != 1 {
				t.Errorf("%d PodDisruptionBudgets, want 1", len(objs["PodDisruptionBudget"]))
			}
		})
	}
}

// A misspelled field fails the strict decoding: the check is real.
func TestStrictDecodingCatchesMisspelledFields(t *testing.T) {
	bad := []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  publishNotReadyAdresses: true\n")
	if _, err := strict[corev1.Service](bad); err == nil {
		t.Fatal("a misspelled field decoded without error")
	}
	if _, err := strict[corev1.Service]([]byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n")); err != nil {
		t.Fatalf("a correct Service fails: %v", err)
	}
}

// With api.tls.secretName, ringd gets the Secret's certificate and key and
// the example worker talks HTTPS to it, trusting the Secret's ca.crt (or,
// with caKey empty, the system's authorities); without, no TLS at all.
func TestRenderedTLS(t *testing.T) {
	containers := func(args ...string) (ringd, worker corev1.Container, volumes []corev1.Volume) {
		w := renderWorkload(t, "StatefulSet", args...)
		for _, c := range w.template.Spec.Containers {
			switch c.Name {
			case "ringd":
				ringd = c
			case "worker":
				worker = c
			}
		}
		return ringd, worker, w.template.Spec.Volumes
	}
	mounts := func(c corev1.Container) string {
		var out []string
		for _, m := range c.VolumeMounts {
			out = append(out, m.Name+"="+m.MountPath)
		}
		return strings.Join(out, " ")
	}

	ringd, worker, volumes := containers("--set", "api.tls.secretName=orders-api-tls")
	for _, want := range []string{"--tls-cert-file=/etc/ringd/tls/tls.crt", "--tls-key-file=/etc/ringd/tls/tls.key"} {
		if !slices.Contains(ringd.Args, want) {
			t.Errorf("ringd args lack %s: %v", want, ringd.Args)
		}
	}
	for _, want := range []string{"--ringd=https://localhost:7070", "--ca-file=/etc/ringd/tls/ca.crt"} {
		if !slices.Contains(worker.Args, want) {
			t.Errorf("worker args lack %s: %v", want, worker.Args)
		}
	}
	for _, c := range []corev1.Container{ringd, worker} {
		if !strings.Contains(mounts(c), "ringd-tls=/etc/ringd/tls") {
			t.Errorf("%s does not mount the TLS Secret at /etc/ringd/tls: %s", c.Name, mounts(c))
		}
	}
	found := false
	for _, v := range volumes {
		if v.Name == "ringd-tls" && v.Secret != nil && v.Secret.SecretName == "orders-api-tls" && len(v.Secret.Items) == 0 {
			found = true // the whole Secret, so that renewals reach the pod
		}
	}
	if !found {
		t.Errorf("no volume ringd-tls of the whole Secret orders-api-tls: %+v", volumes)
	}

	_, worker, _ = containers("--set", "api.tls.secretName=orders-api-tls", "--set", "api.tls.caKey=")
	if slices.ContainsFunc(worker.Args, func(a string) bool { return strings.HasPrefix(a, "--ca-file") }) {
		t.Errorf("with caKey empty the worker still gets --ca-file: %v", worker.Args)
	}

	ringd, worker, volumes = containers()
	if strings.Contains(strings.Join(append(ringd.Args, worker.Args...), " "), "tls") || strings.Contains(mounts(ringd)+mounts(worker), "tls") {
		t.Errorf("TLS without api.tls.secretName: ringd %v, worker %v", ringd.Args, worker.Args)
	}
	for _, v := range volumes {
		if v.Name == "ringd-tls" {
			t.Errorf("a TLS volume without api.tls.secretName")
		}
	}
}

// TestRenderedPlacementFlags: the chart's placement values become ringd's
// flags (the zone from a pod label through the downward API), the defaults
// keep ringd's defaults, and a planned-restart shutdown is refused for a
// Deployment, whose pods never come back under their names.
func TestRenderedPlacementFlags(t *testing.T) {
	ringdOf := func(args ...string) corev1.Container {
		w := renderWorkload(t, "StatefulSet", args...)
		for _, c := range w.template.Spec.Containers {
			if c.Name == "ringd" {
				return c
			}
		}
		t.Fatal("no ringd container")
		return corev1.Container{}
	}
	c := ringdOf()
	if !slices.Contains(c.Args, "--shutdown=drain") || slices.ContainsFunc(c.Args, func(a string) bool {
		return strings.HasPrefix(a, "--standbys") || strings.HasPrefix(a, "--zone") || strings.HasPrefix(a, "--rejoin-grace")
	}) {
		t.Errorf("defaults: ringd args %v, want --shutdown=drain and no --standbys, --zone or --rejoin-grace", c.Args)
	}
	c = ringdOf("--set", "ringd.shutdown=restart", "--set", "ringd.rejoinGrace=2m", "--set", "ringd.standbys=2", "--set", "ringd.zone=rack-7")
	for _, want := range []string{"--shutdown=restart", "--rejoin-grace=2m", "--standbys=2", "--zone=rack-7"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("ringd args lack %s: %v", want, c.Args)
		}
	}
	c = ringdOf("--set", "ringd.zone=rack-7", "--set", "ringd.zoneLabel=topology.kubernetes.io/zone")
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--zone") }) {
		t.Errorf("with zoneLabel the zone must come from the pod label, not --zone: %v", c.Args)
	}
	found := false
	for _, e := range c.Env {
		if e.Name == "RINGD_ZONE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
			e.ValueFrom.FieldRef.FieldPath == "metadata.labels['topology.kubernetes.io/zone']" {
			found = true
		}
	}
	if !found {
		t.Errorf("no RINGD_ZONE from the pod label: %+v", c.Env)
	}

	cmd := exec.Command(helmBin(t), "template", "ringd", chartDir, "--set", "workload.kind=Deployment", "--set", "ringd.shutdown=restart")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs workload.kind StatefulSet") {
		t.Errorf("a Deployment with ringd.shutdown=restart rendered (err %v):\n%s", err, out)
	}
}
