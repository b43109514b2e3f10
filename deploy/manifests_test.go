package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/server"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// inferenceService is KServe's serving.kserve.io/v1beta1 InferenceService
// as far as kserve/ uses it. The KServe module cannot be fetched from the
// Go module proxy (403), so its types are written here from kserve/kserve's
// pkg/apis/serving/v1beta1: PredictorSpec inlines the pod spec and
// ComponentExtensionSpec (component.go). A field KServe does not have, or
// one of its fields this struct leaves out, fails the strict decode.
type inferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Predictor predictorSpec `json:"predictor"`
	} `json:"spec"`
}

type predictorSpec struct {
	componentExtensionSpec `json:",inline"`
	corev1.PodSpec         `json:",inline"`
}

type componentExtensionSpec struct {
	MinReplicas          *int                       `json:"minReplicas,omitempty"`
	MaxReplicas          int                        `json:"maxReplicas,omitempty"`
	ScaleTarget          *int                       `json:"scaleTarget,omitempty"`
	ScaleMetric          *string                    `json:"scaleMetric,omitempty"`
	ContainerConcurrency *int64                     `json:"containerConcurrency,omitempty"`
	TimeoutSeconds       *int64                     `json:"timeout,omitempty"`
	CanaryTrafficPercent *int64                     `json:"canaryTrafficPercent,omitempty"`
	Labels               map[string]string          `json:"labels,omitempty"`
	Annotations          map[string]string          `json:"annotations,omitempty"`
	DeploymentStrategy   *appsv1.DeploymentStrategy `json:"deploymentStrategy,omitempty"`
}

// kustomization is the part of kustomize's Kustomization the manifests use.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// newObject is the Go type of a manifest's apiVersion and kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "keda.sh/v1alpha1 ScaledObject":
		return &kedav1alpha1.ScaledObject{}, nil
	case "serving.kserve.io/v1beta1 InferenceService":
		return &inferenceService{}, nil
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &kustomization{}, nil
	}
	return nil, fmt.Errorf("unknown apiVersion %q kind %q", apiVersion, kind)
}

// decodeStrict decodes one YAML document into its API type, refusing
// duplicate keys and fields the type does not have (in any case).
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, err
	}
	obj, err := newObject(tm.APIVersion, tm.Kind)
	if err != nil {
		return nil, err
	}
	// encoding/json matches field names without regard to case, so
	// "mountpath" would pass its DisallowUnknownFields; the API server
	// decodes as sigs.k8s.io/json does: case-sensitive.
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj, sigsjson.DisallowUnknownFields)
	if err == nil && len(strictErrs) > 0 {
		err = errors.Join(strictErrs...)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}

// manifests decodes every YAML file under kubernetes/ and kserve/.
func manifests(t *testing.T) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, dir := range []string{"kubernetes", "kserve"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			docs := regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1)
			for i, doc := range docs {
				if strings.TrimSpace(doc) == "" {
					continue
				}
				obj, err := decodeStrict([]byte(doc))
				if err != nil {
					t.Errorf("%s (document %d): %v", path, i, err)
					continue
				}
				out[path] = obj
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 6 {
		t.Fatalf("found %d manifests, want at least 6: %v", len(out), out)
	}
	return out
}

func TestManifestsDecodeStrictly(t *testing.T) { manifests(t) }

// TestMisspeltFieldFails: the check above can fail. Each manifest with one
// field misspelt must be refused.
func TestMisspeltFieldFails(t *testing.T) {
	for _, c := range []struct{ file, from, to string }{
		{"kubernetes/deployment.yaml", "readinessProbe:", "readynessProbe:"},
		{"kubernetes/deployment.yaml", "mountPath:", "mountpath:"},
		{"kubernetes/service.yaml", "targetPort:", "target_port:"},
		{"kubernetes/hpa.yaml", "averageUtilization:", "averageUtilisation:"},
		{"kubernetes/keda/scaledobject.yaml", "minReplicaCount:", "minReplicas:"},
		{"kserve/inferenceservice.yaml", "scaleMetric:", "scaleMetrics:"},
		{"kserve/inferenceservice.yaml", "initContainers:", "initcontainers:"},
		{"kubernetes/kustomization.yaml", "resources:", "resource:"},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(c.from)) {
			t.Fatalf("%s has no %q", c.file, c.from)
		}
		if _, err := decodeStrict(bytes.Replace(b, []byte(c.from), []byte(c.to), 1)); err == nil {
			t.Errorf("%s with %q misspelt as %q decodes", c.file, c.from, c.to)
		}
	}
}

// fakeRanker is enough of a model for the probes and /metrics.
type fakeRanker struct{}

func (fakeRanker) Rerank(ctx context.Context, q string, docs []rerank.Document, o rerank.RerankOptions) ([]rerank.Result, error) {
	out := make([]rerank.Result, len(docs))
	for i := range docs {
		out[i] = rerank.Result{Index: i, Score: 0.5, Window: -1}
	}
	return out, nil
}

func (fakeRanker) Info() rerank.Info { return rerank.Info{Architecture: "Fake", NumLabels: 1} }

// TestManifestsMatchTheServer: the probes' paths are routes of the server,
// ports and names line up across the manifests, and the metrics the KEDA
// trigger queries are ones the server exports.
func TestManifestsMatchTheServer(t *testing.T) {
	objs := manifests(t)
	srv := server.New(server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.AddModel("m", fakeRanker{})
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	probe := func(where string, p *corev1.Probe) {
		t.Helper()
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: no HTTP probe", where)
			return
		}
		resp, err := http.Get(ts.URL + p.HTTPGet.Path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 204 {
			t.Errorf("%s: GET %s answers %d on a ready server", where, p.HTTPGet.Path, resp.StatusCode)
		}
	}
	checkPod := func(where string, spec corev1.PodSpec, port int32, portName string) {
		t.Helper()
		if len(spec.Containers) != 1 || len(spec.InitContainers) != 1 {
			t.Fatalf("%s: %d containers, %d init containers", where, len(spec.Containers), len(spec.InitContainers))
		}
		c, ini := spec.Containers[0], spec.InitContainers[0]
		probe(where+" startupProbe", c.StartupProbe)
		probe(where+" readinessProbe", c.ReadinessProbe)
		probe(where+" livenessProbe", c.LivenessProbe)
		if c.Args[0] != "serve" || ini.Args[0] != "download" || c.Image != ini.Image {
			t.Errorf("%s: the server runs %v, the init container %v (images %s, %s)", where, c.Args, ini.Args, c.Image, ini.Image)
		}
		if !strings.Contains(strings.Join(c.Args, " "), fmt.Sprintf(":%d", port)) || len(c.Ports) != 1 || c.Ports[0].ContainerPort != port ||
			(portName != "" && c.Ports[0].Name != portName) {
			t.Errorf("%s: serve %v does not listen on the container port %+v", where, c.Args, c.Ports)
		}
		// The init container downloads into the cache the server reads.
		env := func(c corev1.Container, k string) string {
			for _, e := range c.Env {
				if e.Name == k {
					return e.Value
				}
			}
			return ""
		}
		mount := func(c corev1.Container) string {
			for _, m := range c.VolumeMounts {
				if m.MountPath == env(c, "HF_HOME") {
					return m.Name
				}
			}
			return ""
		}
		if mount(c) == "" || mount(c) != mount(ini) || env(c, "HF_HUB_OFFLINE") != "1" {
			t.Errorf("%s: HF_HOME is not one volume shared by both containers, or the server is not offline", where)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: no CPU request or memory limit", where)
		}
	}

	dep := objs["kubernetes/deployment.yaml"].(*appsv1.Deployment)
	checkPod("deployment", dep.Spec.Template.Spec, 7998, "http")
	for k, v := range dep.Spec.Selector.MatchLabels {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("the deployment's selector %s=%s does not select its pods", k, v)
		}
	}
	svc := objs["kubernetes/service.yaml"].(*corev1.Service)
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("the service's selector %s=%s does not select the pods", k, v)
		}
	}
	if svc.Spec.Ports[0].TargetPort.StrVal != dep.Spec.Template.Spec.Containers[0].Ports[0].Name {
		t.Errorf("service targetPort %v is not the container's port", svc.Spec.Ports[0].TargetPort)
	}
	hpa := objs["kubernetes/hpa.yaml"].(*autoscalingv2.HorizontalPodAutoscaler)
	so := objs["kubernetes/keda/scaledobject.yaml"].(*kedav1alpha1.ScaledObject)
	if hpa.Spec.ScaleTargetRef.Name != dep.Name || hpa.Spec.ScaleTargetRef.Kind != "Deployment" ||
		so.Spec.ScaleTargetRef.Name != dep.Name || so.Spec.ScaleTargetRef.Kind != "Deployment" {
		t.Errorf("the autoscalers do not target the deployment")
	}

	// The KEDA query's metric names are the server's.
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var queried int
	for _, tr := range so.Spec.Triggers {
		if tr.Type != "prometheus" {
			continue
		}
		for _, name := range regexp.MustCompile(`crossrank_[a-z_]+`).FindAllString(tr.Metadata["query"], -1) {
			queried++
			if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).Match(metrics) {
				t.Errorf("the KEDA query reads %s, which the server does not export", name)
			}
		}
	}
	if queried == 0 {
		t.Error("the KEDA ScaledObject has no prometheus trigger on a crossrank metric")
	}

	isvc := objs["kserve/inferenceservice.yaml"].(*inferenceService)
	checkPod("inferenceservice", isvc.Spec.Predictor.PodSpec, 8080, "")
	if isvc.Spec.Predictor.Containers[0].Name != "kserve-container" {
		t.Errorf("KServe routes to the container named kserve-container, not %q", isvc.Spec.Predictor.Containers[0].Name)
	}

	kust := objs["kubernetes/kustomization.yaml"].(*kustomization)
	for _, r := range kust.Resources {
		if _, ok := objs[filepath.Join("kubernetes", r)]; !ok {
			t.Errorf("kustomization lists %s, which is not a manifest here", r)
		}
	}
}
