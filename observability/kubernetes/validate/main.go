// Command validate checks the Kubernetes manifests of the scale-out Jaeger topology
// (observability/kubernetes/scale-out/) and of the single-node one
// (observability/kubernetes/single-node/): every document decodes strictly into its Kubernetes API
// type (an unknown or misspelt field fails), and the files agree with each other and with the
// Jaeger role configs in observability/jaeger/:
//
//   - every workload's selector matches its pod template's labels;
//   - every Service, NetworkPolicy and HorizontalPodAutoscaler targets an existing workload, and
//     every port it names exists on those pods with the same protocol;
//   - every `--config file:/etc/jaeger/X` is mounted from the variant's ConfigMap, whose key X
//     is byte for byte observability/jaeger/X;
//   - every environment variable set on a Jaeger container is one its config reads
//     (`${env:NAME`), and every endpoint it sets listens on a declared container port;
//   - every volume mount names a volume or a volume claim template;
//   - every pod runs as non-root with the runtime's seccomp profile, no service account token,
//     no privilege escalation, all capabilities dropped, and a read-only root filesystem unless
//     annotated maestro.io/writable-root with the reason;
//   - ingester replicas are at most Kafka's partitions.
//
// It is a module of its own (the repository has no Go code otherwise):
//
//	go -C observability/kubernetes/validate run .           # check; exit 1 listing every problem
//	go -C observability/kubernetes/validate run . -write    # regenerate the ConfigMaps of role configs
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	roleConfigDir = "observability/jaeger"
	configMount   = "/etc/jaeger"
	writableRoot  = "maestro.io/writable-root"
)

// variant is one directory of manifests, deployed on its own: the ConfigMap it carries the
// role configs in, and the workloads it must define.
type variant struct {
	dir, configMap, configMapFile string
	roles, workloads              []string
}

var variants = []variant{
	{
		dir: "observability/kubernetes/scale-out", configMap: "jaeger-roles", configMapFile: "jaeger-roles.yaml",
		roles: []string{"collector.yaml", "ingester.yaml", "storage.yaml", "query.yaml"},
		workloads: []string{"Deployment/jaeger-collector", "Deployment/jaeger-ingester",
			"Deployment/jaeger-query", "StatefulSet/jaeger-storage", "StatefulSet/kafka"},
	},
	{
		dir: "observability/kubernetes/single-node", configMap: "jaeger-single-node", configMapFile: "jaeger-config.yaml",
		roles:     []string{"single-node.yaml"},
		workloads: []string{"StatefulSet/jaeger"},
	},
}

// workload is a Deployment's or StatefulSet's pod template, with where it came from.
type workload struct {
	kind, name, file string
	replicas         int32
	selector         *metav1.LabelSelector
	template         corev1.PodTemplateSpec
	claims           []string
}

type manifests struct {
	workloads     []workload
	services      []corev1.Service
	policies      []networkingv1.NetworkPolicy
	autoscalers   []autoscalingv2.HorizontalPodAutoscaler
	configMaps    map[string]corev1.ConfigMap
	problems      []string
	sourceOf      map[string]string // "Kind/name" -> file
	serviceNameOf map[string]string // StatefulSet name -> its spec.serviceName
}

func (m *manifests) fail(format string, args ...any) {
	m.problems = append(m.problems, fmt.Sprintf(format, args...))
}

func main() {
	write := flag.Bool("write", false, "regenerate each variant's ConfigMap from "+roleConfigDir)
	flag.Parse()
	if err := chdirToRepository(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	failed := false
	for _, v := range variants {
		if *write {
			if err := writeRoles(v); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			continue
		}
		m := load(v)
		m.check(v)
		for _, problem := range m.problems {
			fmt.Fprintln(os.Stderr, "FAIL", v.dir+":", problem)
			failed = true
		}
		if len(m.problems) == 0 {
			fmt.Printf("%s: %d workloads, %d services, %d network policies, %d autoscalers, "+
				"%d config maps: strict decode and cross-references ok\n", v.dir, len(m.workloads),
				len(m.services), len(m.policies), len(m.autoscalers), len(m.configMaps))
		}
	}
	if failed {
		os.Exit(1)
	}
}

// chdirToRepository moves up to the directory holding observability/jaeger/ (the repository
// root), so that the command runs from there or from its own directory alike.
func chdirToRepository() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if info, err := os.Stat(filepath.Join(dir, roleConfigDir)); err == nil && info.IsDir() {
			return os.Chdir(dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no %s in any directory above the current one", roleConfigDir)
		}
		dir = parent
	}
}

// writeRoles renders a variant's ConfigMap of role configs (one source: observability/jaeger/).
func writeRoles(v variant) error {
	cm := corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: v.configMap, Namespace: "observability"},
		Data:       map[string]string{},
	}
	for _, role := range v.roles {
		text, err := os.ReadFile(filepath.Join(roleConfigDir, role))
		if err != nil {
			return err
		}
		cm.Data[role] = string(text)
	}
	out, err := yaml.Marshal(cm)
	if err != nil {
		return err
	}
	header := "# Generated from observability/jaeger/ by `go -C observability/kubernetes/validate run . -write`;\n" +
		"# do not edit (the validator fails when it differs from those files).\n"
	return os.WriteFile(filepath.Join(v.dir, v.configMapFile), append([]byte(header), out...), 0o644)
}

var documentSeparator = regexp.MustCompile(`(?m)^---\s*$`)

func load(v variant) *manifests {
	m := &manifests{configMaps: map[string]corev1.ConfigMap{}, sourceOf: map[string]string{},
		serviceNameOf: map[string]string{}}
	files, err := filepath.Glob(filepath.Join(v.dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		m.fail("no manifests in %s", v.dir)
		return m
	}
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			m.fail("%s: %v", file, err)
			continue
		}
		for i, doc := range documentSeparator.Split(string(text), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			m.decode(fmt.Sprintf("%s (document %d)", file, i+1), []byte(doc))
		}
	}
	return m
}

func stripComments(doc string) string {
	var kept []string
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

// decode reads one document strictly into the type its apiVersion/kind names.
func (m *manifests) decode(where string, doc []byte) {
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		m.fail("%s: %v", where, err)
		return
	}
	strict := func(into any) bool {
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			m.fail("%s: %s/%s: %v", where, meta.APIVersion, meta.Kind, err)
			return false
		}
		return true
	}
	switch meta.APIVersion + " " + meta.Kind {
	case "apps/v1 Deployment":
		var d appsv1.Deployment
		if strict(&d) {
			m.record(where, "Deployment", d.ObjectMeta)
			m.workloads = append(m.workloads, workload{"Deployment", d.Name, where,
				replicas(d.Spec.Replicas), d.Spec.Selector, d.Spec.Template, nil})
		}
	case "apps/v1 StatefulSet":
		var s appsv1.StatefulSet
		if strict(&s) {
			m.record(where, "StatefulSet", s.ObjectMeta)
			var claims []string
			for _, claim := range s.Spec.VolumeClaimTemplates {
				claims = append(claims, claim.Name)
			}
			m.workloads = append(m.workloads, workload{"StatefulSet", s.Name, where,
				replicas(s.Spec.Replicas), s.Spec.Selector, s.Spec.Template, claims})
			m.serviceNameOf[s.Name] = s.Spec.ServiceName
		}
	case "v1 Service":
		var s corev1.Service
		if strict(&s) {
			m.record(where, "Service", s.ObjectMeta)
			m.services = append(m.services, s)
		}
	case "v1 ConfigMap":
		var c corev1.ConfigMap
		if strict(&c) {
			m.record(where, "ConfigMap", c.ObjectMeta)
			m.configMaps[c.Name] = c
		}
	case "networking.k8s.io/v1 NetworkPolicy":
		var p networkingv1.NetworkPolicy
		if strict(&p) {
			m.record(where, "NetworkPolicy", p.ObjectMeta)
			m.policies = append(m.policies, p)
		}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		var h autoscalingv2.HorizontalPodAutoscaler
		if strict(&h) {
			m.record(where, "HorizontalPodAutoscaler", h.ObjectMeta)
			m.autoscalers = append(m.autoscalers, h)
		}
	default:
		m.fail("%s: unexpected apiVersion/kind %q %q", where, meta.APIVersion, meta.Kind)
	}
}

func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

func (m *manifests) record(where, kind string, meta metav1.ObjectMeta) {
	key := kind + "/" + meta.Name
	if first, seen := m.sourceOf[key]; seen {
		m.fail("%s: %s defined again (first in %s)", where, key, first)
	}
	m.sourceOf[key] = where
	if meta.Namespace != "observability" {
		m.fail("%s: %s is in namespace %q, not observability", where, key, meta.Namespace)
	}
}

func (m *manifests) check(v variant) {
	for _, w := range m.workloads {
		m.checkWorkload(w)
	}
	for _, s := range m.services {
		m.checkService(s)
	}
	for _, p := range m.policies {
		m.checkPolicy(p)
	}
	for _, h := range m.autoscalers {
		ref := h.Spec.ScaleTargetRef
		if m.find(ref.Kind, ref.Name) == nil {
			m.fail("HorizontalPodAutoscaler %s scales %s/%s, which no manifest defines", h.Name, ref.Kind, ref.Name)
		}
	}
	if m.find("StatefulSet", "kafka") != nil {
		m.checkPartitions()
	}
	m.checkGoverningServices()
	names := map[string]bool{}
	for _, w := range m.workloads {
		names[w.kind+"/"+w.name] = true
	}
	for _, want := range v.workloads {
		if !names[want] {
			m.fail("the variant lacks %s", want)
		}
	}
	if _, ok := m.configMaps[v.configMap]; !ok {
		m.fail("no ConfigMap %s (%s; regenerate: go -C observability/kubernetes/validate run . -write)", v.configMap, v.configMapFile)
	}
}

// checkGoverningServices: each StatefulSet's serviceName is a headless Service selecting it.
func (m *manifests) checkGoverningServices() {
	for _, w := range m.workloads {
		if w.kind != "StatefulSet" {
			continue
		}
		var governing *corev1.Service
		for i := range m.services {
			if m.services[i].Name == m.serviceNameOf[w.name] {
				governing = &m.services[i]
			}
		}
		switch {
		case governing == nil:
			m.fail("StatefulSet %s: its serviceName %q is no Service here", w.name, m.serviceNameOf[w.name])
		case !labels.SelectorFromSet(governing.Spec.Selector).Matches(labels.Set(w.template.Labels)):
			m.fail("StatefulSet %s: its Service %s does not select its pods", w.name, governing.Name)
		}
	}
}

func (m *manifests) find(kind, name string) *workload {
	for i := range m.workloads {
		if m.workloads[i].kind == kind && m.workloads[i].name == name {
			return &m.workloads[i]
		}
	}
	return nil
}

// selected are the workloads whose pods a selector matches.
func (m *manifests) selected(selector labels.Selector) []*workload {
	var out []*workload
	for i := range m.workloads {
		if selector.Matches(labels.Set(m.workloads[i].template.Labels)) {
			out = append(out, &m.workloads[i])
		}
	}
	return out
}

// hasPort says whether a pod declares the port (by name or number) with the protocol.
func hasPort(w *workload, port string, protocol corev1.Protocol) bool {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	for _, c := range w.template.Spec.Containers {
		for _, p := range c.Ports {
			declared := p.Protocol
			if declared == "" {
				declared = corev1.ProtocolTCP
			}
			if (p.Name == port || strconv.Itoa(int(p.ContainerPort)) == port) && declared == protocol {
				return true
			}
		}
	}
	return false
}

func (m *manifests) checkWorkload(w workload) {
	where := fmt.Sprintf("%s %s (%s)", w.kind, w.name, w.file)
	selector, err := metav1.LabelSelectorAsSelector(w.selector)
	if err != nil || w.selector == nil {
		m.fail("%s: selector: %v", where, err)
	} else if !selector.Matches(labels.Set(w.template.Labels)) {
		m.fail("%s: selector %s does not match its pod labels %v", where, selector, w.template.Labels)
	}
	spec := w.template.Spec
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		m.fail("%s: automountServiceAccountToken is not false", where)
	}
	pod := spec.SecurityContext
	if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot {
		m.fail("%s: pod securityContext.runAsNonRoot is not true", where)
	}
	if pod == nil || pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		m.fail("%s: pod seccompProfile is not RuntimeDefault", where)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, claim := range w.claims {
		volumes[claim] = corev1.Volume{Name: claim}
	}
	for _, c := range spec.Containers {
		cwhere := where + " container " + c.Name
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			m.fail("%s: allowPrivilegeEscalation is not false", cwhere)
		}
		if sc == nil || sc.Capabilities == nil || !dropsAll(sc.Capabilities.Drop) {
			m.fail("%s: capabilities do not drop ALL", cwhere)
		}
		readOnly := sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
		reason := w.template.Annotations[writableRoot]
		if !readOnly && reason == "" {
			m.fail("%s: root filesystem writable without a %s annotation saying why", cwhere, writableRoot)
		}
		if readOnly && reason != "" {
			m.fail("%s: annotated %s but its root filesystem is read-only", cwhere, writableRoot)
		}
		if c.Resources.Limits.Memory().IsZero() {
			m.fail("%s: no memory limit", cwhere)
		}
		for _, mount := range c.VolumeMounts {
			if _, ok := volumes[mount.Name]; !ok {
				m.fail("%s: mounts %q, which is neither a volume nor a claim template", cwhere, mount.Name)
			}
		}
		for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
			if probe == nil {
				continue
			}
			var port string
			switch {
			case probe.HTTPGet != nil:
				port = probe.HTTPGet.Port.String()
			case probe.TCPSocket != nil:
				port = probe.TCPSocket.Port.String()
			}
			if port != "" && !hasPort(&w, port, corev1.ProtocolTCP) {
				m.fail("%s: probe on port %q, which the container does not declare", cwhere, port)
			}
		}
		m.checkJaegerConfig(cwhere, &w, c, volumes)
	}
}

func dropsAll(drop []corev1.Capability) bool {
	for _, capability := range drop {
		if capability == "ALL" {
			return true
		}
	}
	return false
}

var (
	configArg = regexp.MustCompile(`^file:(.+)$`)
	envRef    = regexp.MustCompile(`\$\{env:([A-Z0-9_]+)`)
)

// checkJaegerConfig follows `--config file:...` to the ConfigMap key and the repository's
// role config, and checks the container's environment against what that config reads.
func (m *manifests) checkJaegerConfig(where string, w *workload, c corev1.Container, volumes map[string]corev1.Volume) {
	var path string
	for i, arg := range c.Args {
		if arg == "--config" && i+1 < len(c.Args) {
			if match := configArg.FindStringSubmatch(c.Args[i+1]); match != nil {
				path = match[1]
			}
		}
	}
	if path == "" {
		if strings.HasPrefix(c.Image, "jaegertracing/") {
			m.fail("%s: a Jaeger container without --config file:...", where)
		}
		return
	}
	dir, key := filepath.Dir(path), filepath.Base(path)
	var volume *corev1.Volume
	for _, mount := range c.VolumeMounts {
		if mount.MountPath == dir {
			if v, ok := volumes[mount.Name]; ok {
				volume = &v
			}
		}
	}
	if volume == nil || volume.ConfigMap == nil {
		m.fail("%s: --config %s is not in a ConfigMap mounted at %s", where, path, dir)
		return
	}
	cm, ok := m.configMaps[volume.ConfigMap.Name]
	if !ok {
		m.fail("%s: mounts ConfigMap %q, which no manifest defines", where, volume.ConfigMap.Name)
		return
	}
	text, ok := cm.Data[key]
	if !ok {
		m.fail("%s: ConfigMap %s has no key %s", where, cm.Name, key)
		return
	}
	if dir != configMount {
		m.fail("%s: role configs are mounted at %s, not %s", where, dir, configMount)
	}
	source, err := os.ReadFile(filepath.Join(roleConfigDir, key))
	if err != nil {
		m.fail("%s: %v", where, err)
	} else if !bytes.Equal(source, []byte(text)) {
		m.fail("%s: ConfigMap %s key %s differs from %s/%s (regenerate: go -C observability/kubernetes/validate run . -write)",
			where, cm.Name, key, roleConfigDir, key)
	}
	reads := map[string]bool{}
	for _, match := range envRef.FindAllStringSubmatch(text, -1) {
		reads[match[1]] = true
	}
	for _, env := range c.Env {
		if !reads[env.Name] {
			m.fail("%s: sets %s, which %s never reads", where, env.Name, key)
			continue
		}
		if strings.HasSuffix(env.Name, "_ENDPOINT") && strings.HasPrefix(env.Value, "0.0.0.0:") {
			port := strings.TrimPrefix(env.Value, "0.0.0.0:")
			protocol := corev1.ProtocolTCP
			if env.Name == "JAEGER_THRIFT_COMPACT_ENDPOINT" {
				protocol = corev1.ProtocolUDP
			}
			if !hasPort(w, port, protocol) {
				m.fail("%s: %s listens on %s/%s, which the container does not declare", where, env.Name, port, protocol)
			}
		}
	}
	// Every port declared is one the config listens on (no stale declarations).
	for _, p := range c.Ports {
		listened := false
		for _, env := range c.Env {
			if strings.HasSuffix(env.Name, "_ENDPOINT") && env.Value == fmt.Sprintf("0.0.0.0:%d", p.ContainerPort) {
				listened = true
			}
		}
		if !listened {
			m.fail("%s: declares port %s (%d), but no *_ENDPOINT variable binds it", where, p.Name, p.ContainerPort)
		}
	}
}

func (m *manifests) checkService(s corev1.Service) {
	where := "Service " + s.Name
	if len(s.Spec.Selector) == 0 {
		m.fail("%s: no selector", where)
		return
	}
	targets := m.selected(labels.SelectorFromSet(s.Spec.Selector))
	if len(targets) == 0 {
		m.fail("%s: selector %v matches no pod template", where, s.Spec.Selector)
	}
	for _, p := range s.Spec.Ports {
		target := p.TargetPort.String()
		if p.TargetPort.IntValue() == 0 && p.TargetPort.StrVal == "" {
			target = strconv.Itoa(int(p.Port))
		}
		for _, w := range targets {
			if !hasPort(w, target, p.Protocol) {
				m.fail("%s: port %s targets %s/%s, which %s %s does not declare", where, p.Name, target, protocolOf(p.Protocol), w.kind, w.name)
			}
		}
	}
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func (m *manifests) checkPolicy(p networkingv1.NetworkPolicy) {
	where := "NetworkPolicy " + p.Name
	selector, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil {
		m.fail("%s: podSelector: %v", where, err)
		return
	}
	targets := m.selected(selector)
	if len(targets) == 0 {
		m.fail("%s: podSelector %s matches no pod template", where, selector)
	}
	for _, rule := range p.Spec.Ingress {
		for _, peer := range rule.From {
			if peer.PodSelector != nil && peer.NamespaceSelector == nil {
				from, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
				if err != nil {
					m.fail("%s: from podSelector: %v", where, err)
				} else if len(m.selected(from)) == 0 {
					m.fail("%s: allows pods %s, which no pod template has", where, from)
				}
			}
		}
		for _, port := range rule.Ports {
			if port.Port == nil {
				continue
			}
			protocol := corev1.ProtocolTCP
			if port.Protocol != nil {
				protocol = *port.Protocol
			}
			for _, w := range targets {
				if !hasPort(w, port.Port.String(), protocol) {
					m.fail("%s: allows port %s/%s, which %s %s does not declare", where, port.Port.String(), protocol, w.kind, w.name)
				}
			}
		}
	}
}

// checkPartitions: at most one ingester per partition of the topic Kafka creates.
func (m *manifests) checkPartitions() {
	kafka := m.find("StatefulSet", "kafka")
	ingester := m.find("Deployment", "jaeger-ingester")
	if kafka == nil || ingester == nil {
		m.fail("a kafka StatefulSet but no jaeger-ingester Deployment")
		return
	}
	partitions := 0
	for _, c := range kafka.template.Spec.Containers {
		for _, env := range c.Env {
			if env.Name == "KAFKA_NUM_PARTITIONS" {
				partitions, _ = strconv.Atoi(env.Value)
			}
		}
	}
	if partitions == 0 {
		m.fail("kafka: KAFKA_NUM_PARTITIONS is not set")
	} else if int(ingester.replicas) > partitions {
		m.fail("jaeger-ingester: %d replicas for %d partitions (the extra ones would idle)", ingester.replicas, partitions)
	}
}
