//! `observability/`: the compose file and Kubernetes manifests say what the README promises:
//! the ports maestro-trace sends to, a pinned Jaeger, and a locked-down pod.

use yaml_rust2::{Yaml, YamlLoader};

use maestro_trace::{JAEGER_AGENT_PORT, JAEGER_COLLECTOR_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT};

/// The image matching the Jaeger the tests build (`.ci/jaeger.sh`: module v1.76.0 = v2.13.0).
const JAEGER_IMAGE: &str = "jaegertracing/jaeger:2.13.0";

fn load(path: &str) -> Vec<Yaml> {
    let file = format!("{}/../observability/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"))
}

fn strings(list: &Yaml) -> Vec<String> {
    list.as_vec()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_runs_the_pinned_jaeger_with_every_port_maestro_trace_sends_to() {
    let docs = load("docker-compose.tracing.yaml");
    let jaeger = &docs[0]["services"]["jaeger"];
    assert_eq!(jaeger["image"].as_str(), Some(JAEGER_IMAGE));
    let ports = strings(&jaeger["ports"]);
    for expected in [
        "16686:16686".to_owned(),
        format!("{OTLP_GRPC_PORT}:{OTLP_GRPC_PORT}"),
        format!("{OTLP_HTTP_PORT}:{OTLP_HTTP_PORT}"),
        format!("{JAEGER_AGENT_PORT}:{JAEGER_AGENT_PORT}/udp"),
        format!("{JAEGER_COLLECTOR_PORT}:{JAEGER_COLLECTOR_PORT}"),
        "5778:5778".to_owned(),
    ] {
        assert!(
            ports.contains(&expected),
            "compose lacks {expected}: {ports:?}"
        );
    }
}

/// `(name, port, protocol)` of a list of container or service ports.
fn ports(list: &Yaml, port_key: &str) -> Vec<(String, i64, String)> {
    list.as_vec()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p[port_key].as_i64().unwrap_or_default(),
                p["protocol"].as_str().unwrap_or("TCP").to_owned(),
            )
        })
        .collect()
}

#[test]
fn kubernetes_manifests_expose_the_ports_and_lock_the_pod_down() {
    let docs = load("kubernetes/jaeger-deployment.yaml");
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["Deployment", "Service", "NetworkPolicy"]);
    assert!(docs
        .iter()
        .all(|d| d["metadata"]["namespace"].as_str() == Some("observability")));
    let (deployment, service, policy) = (&docs[0], &docs[1], &docs[2]);

    // The pod: non-root, no privilege escalation, read-only root, no capabilities, seccomp.
    let pod = &deployment["spec"]["template"]["spec"];
    let pod_security = &pod["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(pod_security["runAsUser"].as_i64(), Some(10001));
    assert_eq!(
        pod_security["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault")
    );
    assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
    let container = &pod["containers"][0];
    assert_eq!(container["image"].as_str(), Some(JAEGER_IMAGE));
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["privileged"].as_bool(), Some(false));
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    assert!(container["resources"]["limits"]["memory"]
        .as_str()
        .is_some());
    // With a read-only root, Jaeger's /tmp is an emptyDir.
    assert_eq!(
        container["volumeMounts"][0]["mountPath"].as_str(),
        Some("/tmp")
    );
    assert!(!pod["volumes"][0]["emptyDir"].is_badvalue());
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["path"].as_str(),
            Some("/status")
        );
        assert_eq!(container[probe]["httpGet"]["port"].as_str(), Some("health"));
    }

    // Every Service port targets a container port of the same name and protocol.
    let container_ports = ports(&container["ports"], "containerPort");
    let service_ports = ports(&service["spec"]["ports"], "port");
    for (name, port, protocol) in &service_ports {
        assert!(
            container_ports
                .iter()
                .any(|(n, p, pr)| n == name && p == port && pr == protocol),
            "service port {name} {port}/{protocol} has no matching container port"
        );
    }
    for (port, protocol) in [
        (OTLP_GRPC_PORT, "TCP"),
        (OTLP_HTTP_PORT, "TCP"),
        (JAEGER_AGENT_PORT, "UDP"),
        (JAEGER_COLLECTOR_PORT, "TCP"),
        (16686, "TCP"),
    ] {
        assert!(
            service_ports
                .iter()
                .any(|(_, p, pr)| *p == i64::from(port) && pr == protocol),
            "service lacks {port}/{protocol}"
        );
    }
    assert_eq!(
        service["spec"]["selector"]["app.kubernetes.io/name"].as_str(),
        pod_labels(deployment).as_deref()
    );

    // The network policy: ingest ports only from traced namespaces, the query port only from
    // monitoring.
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"].as_str(),
        pod_labels(deployment).as_deref()
    );
    let rules = policy["spec"]["ingress"]
        .as_vec()
        .cloned()
        .unwrap_or_default();
    let allowed = |rule: &Yaml| ports(&rule["ports"], "port");
    let ingest = allowed(&rules[0]);
    for (port, protocol) in [
        (OTLP_GRPC_PORT, "TCP"),
        (OTLP_HTTP_PORT, "TCP"),
        (JAEGER_AGENT_PORT, "UDP"),
        (JAEGER_COLLECTOR_PORT, "TCP"),
    ] {
        assert!(ingest
            .iter()
            .any(|(_, p, pr)| *p == i64::from(port) && pr == protocol));
    }
    assert!(
        !ingest.iter().any(|(_, p, _)| *p == 16686),
        "queries are not open to workloads"
    );
    assert_eq!(
        rules[1]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            .as_str(),
        Some("monitoring")
    );
    assert_eq!(
        allowed(&rules[1])
            .iter()
            .map(|(_, p, _)| *p)
            .collect::<Vec<_>>(),
        [16686]
    );
}

fn pod_labels(deployment: &Yaml) -> Option<String> {
    deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        .as_str()
        .map(str::to_owned)
}
