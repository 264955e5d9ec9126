"""The Kubernetes manifests render with kustomize, validate strictly, and every pod is hardened."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed")


@pytest.fixture(scope="module", params=["base", "overlays/dev", "overlays/production"])
def documents(request):
    out = subprocess.run(["kubectl", "kustomize", str(ROOT / "deploy/k8s" / request.param)], check=True,
                         capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_manifests_validate_strictly(documents):
    import kubernetes_validate

    for doc in documents:
        kubernetes_validate.validate(doc, "1.30", strict=True)


def test_every_pod_is_hardened_and_has_no_api_token(documents):
    from services.adapters import registry

    deployments = [d for d in documents if d["kind"] == "Deployment"]
    # the five platform services, the web pages, an adapter per department, a desk per department that has one
    assert len(deployments) == 5 + 1 + len(registry.entries()) + len(registry.desks())
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        c = pod["containers"][0]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_every_pod_is_scraped_on_the_metrics_port_its_processes_serve(documents):
    config = next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("hall-config"))
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    for d in deployments:
        annotations = d["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == config["data"]["METRICS_PORT"]
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert any(ref.get("configMapRef", {}).get("name", "").startswith("hall-config")
                   for ref in container.get("envFrom", [])), d["metadata"]["name"]


def test_grpc_services_have_numeric_grpc_probes(documents):
    for d in documents:
        if d["kind"] == "Deployment" and not d["metadata"]["name"].startswith("adapter-") and d["metadata"]["name"] != "web":
            c = d["spec"]["template"]["spec"]["containers"][0]
            assert isinstance(c["readinessProbe"]["grpc"]["port"], int)


def test_record_keepers_yield_the_cpu_to_the_case_path(documents):
    """On a contended node CPU is shared by request: audit, supervision and the web pages ask for less
    than any service a case waits for (fees among them: a case waits for its payment)."""
    requests = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
                for d in documents if d["kind"] == "Deployment"}
    millicores = {name: int(cpu.removesuffix("m")) for name, cpu in requests.items()}
    off_path = {name: m for name, m in millicores.items() if name in ("audit", "supervision", "web")}
    on_path = {name: m for name, m in millicores.items() if name not in off_path}
    assert len(off_path) == 3 and "fees" in on_path and max(off_path.values()) < min(on_path.values())


def test_the_departments_manifests_are_rendered_from_the_registry():
    """deploy/k8s/base/departments/ is what `make manifests` renders from departments.toml."""
    from services.adapters import manifests

    assert manifests.stale() == [], "run `make manifests`"


def test_every_department_in_the_registry_has_its_adapter_and_its_desk_where_it_has_one(documents):
    from services.adapters import registry

    names = {d["metadata"]["name"] for d in documents if d["kind"] == "Deployment"}
    for entry in registry.entries():
        dashed = entry.code.replace("_", "-")
        assert f"adapter-{dashed}" in names
        assert (f"desk-{dashed}" in names) == entry.desk


def test_the_platform_ports_are_the_suites_defaults(documents):
    from services.ports import PLATFORM_PORTS

    for name, port in PLATFORM_PORTS.items():
        [deployment] = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == name]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["ports"][0]["containerPort"] == port


def test_the_web_pages_are_probed_over_http(documents):
    from services.ports import WEB_PORT

    [web] = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "web"]
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == WEB_PORT
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": WEB_PORT}


def test_adapters_are_probed_on_their_readiness_endpoint(documents):
    """An adapter is ready once its queue is consumed (services/adapters/sdk/health.py)."""
    from services.adapters.manifests import ADAPTER_HEALTH_PORT

    adapters = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"].startswith("adapter-")]
    assert adapters
    for d in adapters:
        (container,) = d["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["HEALTH_PORT"] == str(ADAPTER_HEALTH_PORT)
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_secrets_are_per_service_and_production_speaks_mutual_tls(documents, request):
    """Each service its own database login; keys from Secrets on every pod; in production every
    pod its own certificate, and the gRPC servers' probes on their plaintext health port."""
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    config = next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("hall-config"))
    assert config["data"]["HALL_AUTH_REQUIRE_KEYS"] == "true"
    database_secrets = {}
    for name, d in deployments.items():
        pod = d["spec"]["template"]["spec"]
        c = pod["containers"][0]
        env = {e["name"]: e for e in c.get("env", [])}
        secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert "hall-auth-public-keys" in secrets, name
        if "DATABASE_URL" in env:
            database_secrets[name] = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"]
        if "production" in request.node.callspec.params.get("documents", ""):
            assert f"hall-grpc-tls-{name}" in secrets, name
            assert {"GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE", "GRPC_TLS_CA_FILE"} <= set(env), name
            if "GRPC_HEALTH_PORT" in env:
                assert c["readinessProbe"]["grpc"]["port"] == int(env["GRPC_HEALTH_PORT"]["value"])
    platform = {n: s for n, s in database_secrets.items() if not n.startswith(("adapter-", "desk-"))}
    assert len(set(platform.values())) == len(platform) == 5, platform  # no login shared
    intake = deployments["intake"]["spec"]["template"]["spec"]
    assert {"hall-auth-signing-key", "hall-staff"} <= {v["secret"]["secretName"] for v in intake["volumes"] if "secret" in v}


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def test_everything_is_denied_but_what_each_process_needs(documents):
    """Deny-all in the namespace; every port a container serves is open to someone, and every
    process reaches DNS, the broker and PostgreSQL, and the services it calls."""
    policies = [d for d in documents if d["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
            and not p["spec"].get("egress")]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    for name, d in services.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        mine = [p for p in policies if _selects(p["spec"]["podSelector"], labels) and p["spec"]["podSelector"]]
        ingress_ports = {port["port"] for p in mine for rule in p["spec"].get("ingress", []) for port in rule.get("ports", [])}
        egress_ports = {port["port"] for p in mine for rule in p["spec"].get("egress", []) for port in rule.get("ports", [])}
        c = d["spec"]["template"]["spec"]["containers"][0]
        for port in c.get("ports", []):
            assert port["containerPort"] in ingress_ports, f"{name}: port {port['containerPort']} closed"
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        assert {53, 5672, 5432} <= egress_ports, name
        assert 9464 in ingress_ports, name  # Prometheus
        if "GRPC_HEALTH_PORT" in env:
            assert int(env["GRPC_HEALTH_PORT"]) in ingress_ports, name
        for target in ("SUPERVISION_ADDR", "INTAKE_ADDR"):
            if target in env:
                assert int(env[target].rsplit(":", 1)[1]) in egress_ports, (name, target)


def test_scaled_deployments_have_a_disruption_budget_and_every_container_probes_and_limits(documents):
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    hpas = [d for d in documents if d["kind"] == "HorizontalPodAutoscaler"]
    pdbs = [d for d in documents if d["kind"] == "PodDisruptionBudget"]
    for hpa in hpas:
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in hpas if h["spec"]["maxReplicas"] > 1}
    scaled |= {n for n, d in deployments.items() if d["spec"].get("replicas", 1) > 1}
    for name in scaled:
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert any(_selects(p["spec"]["selector"], labels) for p in pdbs), f"{name} has no PodDisruptionBudget"
    if hpas:  # the production overlay
        assert {"intake", "router"} <= {h["spec"]["scaleTargetRef"]["name"] for h in hpas}
        assert all(f"adapter-{e}" in scaled for e in ("business", "quality", "national-tax", "local-tax"))
    for name, d in deployments.items():
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert "readinessProbe" in c and "livenessProbe" in c, name
        assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"], name


def test_the_migration_job_migrates_every_schema_the_services_use(documents):
    """Production changes no schema at start: the services wait (DATABASE_MIGRATE=wait) for the
    Job, which migrates each schema a Deployment names, with that schema's own login."""
    config = next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("hall-config"))
    assert config["data"]["DATABASE_MIGRATE"] == "wait"
    [job] = [d for d in documents if d["kind"] == "Job" and d["metadata"]["name"] == "hall-migrate"]
    steps = job["spec"]["template"]["spec"]["initContainers"]
    migrated = {next(e["value"] for e in c["env"] if e["name"] == "DATABASE_SCHEMA") for c in steps}
    used = {e["value"] for d in documents if d["kind"] == "Deployment"
            for e in d["spec"]["template"]["spec"]["containers"][0].get("env", []) if e["name"] == "DATABASE_SCHEMA"}
    assert used <= migrated
    audit = next(c for c in steps if c["name"] == "audit")
    assert next(e for e in audit["env"] if e["name"] == "DATABASE_URL")["valueFrom"]["secretKeyRef"]["name"] == \
        "hall-db-audit-owner"
