"""The departments' Kubernetes manifests, rendered from the registry (departments.toml):

    python -m services.adapters.manifests [--check]      (`make manifests`)

writes deploy/k8s/base/departments/: a Deployment per adapter, a Deployment and Service per
desk, the ConfigMap `hall-desks` telling every adapter where each desk answers, and their
kustomization. The files are committed (an operator applies the tree as it is) and
tests/deploy/test_manifests.py fails when they differ from what this renders, so a department
added to the registry cannot be missing from the cluster. --check only compares.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.adapters import registry

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "deploy" / "k8s" / "base" / "departments"
# The production overlay's mutual TLS: a patch per Deployment (each pod its own certificate).
MTLS = ROOT / "deploy" / "k8s" / "overlays" / "production" / "mtls.yaml"
# Under mTLS the kubelet's plaintext gRPC probe asks this port (health only): gRPC port + 1000.
HEALTH_OFFSET = 1000
HEADER = "# Rendered from services/adapters/departments.toml by `make manifests`; do not edit.\n"

_METADATA = """\
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: hall
"""

_META = """\
apiVersion: apps/v1
kind: Deployment
""" + _METADATA + """\
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
        app.kubernetes.io/part-of: hall
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: {name}
          image: hall-suite
          command: [{command}]
          envFrom:
            - configMapRef:
                name: hall-config
            - configMapRef:
                name: hall-desks
          env:
            - name: DATABASE_SCHEMA
              value: hall_adapter_{code}
{extra_env}            - name: AMQP_URL
              valueFrom:
                secretKeyRef:
                  name: hall-amqp-adapter-{dashed}
                  key: url
            - name: HALL_SERVICE_TOKEN
              valueFrom:
                secretKeyRef:
                  name: hall-service-tokens
                  key: adapter-{dashed}
                  optional: true
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: hall-db-adapter-{dashed}
                  key: url
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 512Mi
          volumeMounts:
            - name: tmp
              mountPath: /tmp
{ports}      volumes:
        - name: tmp
          emptyDir: {{}}
"""

_DESK_PORTS = """\
          ports:
            - name: grpc
              containerPort: {port}
          readinessProbe:
            grpc:
              port: {port}
            periodSeconds: 5
          livenessProbe:
            grpc:
              port: {port}
            periodSeconds: 20
            failureThreshold: 3
"""

# The adapter's readiness endpoint (services/adapters/sdk/health.py): ready once its queue is
# consumed and while its database answers; a stopping adapter turns unready first.
ADAPTER_HEALTH_PORT = 8081
_ADAPTER_PROBES = """\
          ports:
            - name: health
              containerPort: {port}
          readinessProbe:
            httpGet:
              path: /readyz
              port: health
            periodSeconds: 5
          livenessProbe:
            httpGet:
              path: /healthz
              port: health
            periodSeconds: 20
            failureThreshold: 3
"""

_SERVICE = """\
---
apiVersion: v1
kind: Service
""" + _METADATA + """\
spec:
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: grpc
      port: {port}
      targetPort: grpc
      appProtocol: grpc
"""


def _dashed(code: str) -> str:
    return code.replace("_", "-")


def adapter(entry: registry.Entry) -> str:
    name = f"adapter-{_dashed(entry.code)}"
    extra = f'            - name: HEALTH_PORT\n              value: "{ADAPTER_HEALTH_PORT}"\n'
    return HEADER + _META.format(name=name, code=entry.code, dashed=_dashed(entry.code), extra_env=extra,
                                 ports=_ADAPTER_PROBES.format(port=ADAPTER_HEALTH_PORT),
                                 command=f'"python", "-m", "services.adapters", "{entry.code}"')


def desk(entry: registry.Entry) -> str:
    name = f"desk-{_dashed(entry.code)}"
    extra = f'            - name: GRPC_PORT\n              value: "{entry.desk_port}"\n'
    return HEADER + _META.format(
        name=name, code=entry.code, dashed=_dashed(entry.code), extra_env=extra,
        ports=_DESK_PORTS.format(port=entry.desk_port),
        command=f'"python", "-m", "services.adapters.desk", "{entry.code}"') + _SERVICE.format(name=name,
                                                                                               port=entry.desk_port)


def desks_config(entries: list[registry.Entry]) -> str:
    lines = [HEADER, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hall-desks\n  labels:\n",
             "    app.kubernetes.io/part-of: hall\ndata:\n"]
    lines += [f"  {e.desk_address_setting}: desk-{_dashed(e.code)}:{e.desk_port}\n" for e in entries if e.desk]
    if not any(e.desk for e in entries):
        lines[-1] = "data: {}\n"
    return "".join(lines)


def render() -> dict[str, str]:
    entries = registry.entries()
    files = {"desks.yaml": desks_config(entries)}
    for e in entries:
        files[f"adapter-{_dashed(e.code)}.yaml"] = adapter(e)
        if e.desk:
            files[f"desk-{_dashed(e.code)}.yaml"] = desk(e)
    kustomization = (HEADER + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
                     + "".join(f"  - {name}\n" for name in files))
    return {"kustomization.yaml": kustomization, **files}


def mtls() -> str:
    """The production overlay's patches: every Deployment mounts its own certificate from the
    Secret hall-grpc-tls-<name> (cert-manager's tls.crt, tls.key, ca.crt) and serves and calls
    with mutual TLS (services/runtime/tls.py); gRPC servers answer the kubelet's probes on a
    plaintext health-only port."""
    from services.ports import PLATFORM_PORTS

    servers = {name: port for name, port in PLATFORM_PORTS.items()}
    servers.update({f"desk-{_dashed(e.code)}": e.desk_port for e in registry.entries() if e.desk})
    clients = ["web", *(f"adapter-{_dashed(e.code)}" for e in registry.entries())]
    docs = []
    for name in [*servers, *clients]:
        port = servers.get(name)
        env = ("            - name: GRPC_TLS_CERT_FILE\n              value: /etc/hall/tls/tls.crt\n"
               "            - name: GRPC_TLS_KEY_FILE\n              value: /etc/hall/tls/tls.key\n"
               "            - name: GRPC_TLS_CA_FILE\n              value: /etc/hall/tls/ca.crt\n")
        probes = ""
        if port is not None:
            env += f"            - name: GRPC_HEALTH_PORT\n              value: \"{port + HEALTH_OFFSET}\"\n"
            probes = "".join(f"          {probe}:\n            grpc:\n              port: {port + HEALTH_OFFSET}\n"
                             for probe in ("readinessProbe", "livenessProbe"))
        docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  template:
    spec:
      containers:
        - name: {name}
          env:
{env}          volumeMounts:
            - name: grpc-tls
              mountPath: /etc/hall/tls
              readOnly: true
{probes}      volumes:
        - name: grpc-tls
          secret:
            secretName: hall-grpc-tls-{name}
""")
    return HEADER.replace("services/adapters/departments.toml", "services/adapters/manifests.py") + "---\n".join(docs)


NETWORK = ROOT / "deploy" / "k8s" / "base" / "network.yaml"
# Who calls whom among the hall's own processes (the staff's clients come from outside the
# namespace): the web pages read intake and supervision, adapters ask the desks.
_CALLS = {"web": ("intake", "supervision")}


def network() -> str:
    """Deny everything in the namespace, then allow what each process needs: DNS, the broker and
    PostgreSQL (by port: in the cluster or managed), its own serving port (and, under mTLS, its
    health port) from the hall's network, metrics from the `monitoring` namespace, and the calls
    the processes make to each other."""
    from services.ports import PLATFORM_PORTS, WEB_PORT

    servers = {name: port for name, port in PLATFORM_PORTS.items()}
    servers.update({f"desk-{_dashed(e.code)}": e.desk_port for e in registry.entries() if e.desk})
    calls: dict[str, tuple[str, ...]] = dict(_CALLS)
    for e in registry.entries():
        calls[f"adapter-{_dashed(e.code)}"] = tuple(f"desk-{_dashed(d.code)}" for d in registry.entries() if d.desk)
    docs = ["""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
""", """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: hall-infrastructure
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/part-of: hall
  policyTypes: [Ingress, Egress]
  egress:
    - ports:
        - {protocol: UDP, port: 53}
        - {protocol: TCP, port: 53}
        - {protocol: TCP, port: 5672}
        - {protocol: TCP, port: 5671}
        - {protocol: TCP, port: 5432}
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: monitoring
      ports:
        - {protocol: TCP, port: 9464}
"""]
    serving = {**servers, "web": WEB_PORT}
    serving.update({f"adapter-{_dashed(e.code)}": 8081 for e in registry.entries()})
    for name, port in serving.items():
        ports = [port] + ([port + HEALTH_OFFSET] if name in servers else [])
        listed = "".join(f"        - {{protocol: TCP, port: {p}}}\n" for p in ports)
        egress = ""
        if calls.get(name):
            rules = "".join(f"""    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {target}
      ports:
        - {{protocol: TCP, port: {servers[target]}}}
""" for target in calls[name])
            egress = "  egress:\n" + rules
        docs.append(f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: {name}
  policyTypes: [Ingress{", Egress" if egress else ""}]
  ingress:
    # {"the hall's network: counters, kiosks, inspectors, officers (every call authenticated)" if name in servers or name == "web" else "the kubelet's readiness probe"}
    - ports:
{listed}{egress}""")
    return HEADER.replace("services/adapters/departments.toml", "services/adapters/manifests.py") + "---\n".join(docs)


SCALING = ROOT / "deploy" / "k8s" / "overlays" / "production" / "scaling.yaml"
# Replicas proven (the crash test): intake and the router; adapters are competing consumers,
# idempotent by message id. The rest run one replica until theirs are proven (issue 24).
_SCALED = {"intake": (3, 6), "router": (3, 6)}


def scaling() -> str:
    """The production overlay's HPAs (CPU, 70 % of the request), and a PodDisruptionBudget for
    each adapter (a node drain takes one pod of it at a time; the platform's multi-replica
    Deployments have theirs in the base, deploy/k8s/base/disruption.yaml)."""
    scaled = {**_SCALED, **{f"adapter-{_dashed(e.code)}": (1, 3) for e in registry.entries()}}
    docs = []
    for name, (low, high) in scaled.items():
        docs.append(f"""apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {name}
  minReplicas: {low}
  maxReplicas: {high}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
""")
        if name in _SCALED:
            continue
        docs.append(f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
""")
    return HEADER.replace("services/adapters/departments.toml", "services/adapters/manifests.py") + "---\n".join(docs)


MIGRATE = ROOT / "deploy" / "k8s" / "base" / "migrate.yaml"


def migrate_job() -> str:
    """The migration Job: one container per schema (`python -m services.migrate <service>`), each
    with that service's own database login (audit's owner for audit), one after another; the
    services run with DATABASE_MIGRATE=wait and change no schema at start."""
    schemas = [(s, f"hall-db-{s}") for s in ("intake", "router", "fees", "supervision")]
    schemas.append(("audit", "hall-db-audit-owner"))
    schemas += [(f"adapter_{e.code}", f"hall-db-adapter-{_dashed(e.code)}") for e in registry.entries()]
    containers = "".join(f"""        - name: {service.replace("_", "-")}
          image: hall-suite
          command: ["python", "-m", "services.migrate", "{service}"]
          envFrom:
            - configMapRef:
                name: hall-config
          env:
            - name: DATABASE_SCHEMA
              value: hall_{service}
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef:
                  name: {secret}
                  key: url
          resources:
            requests:
              cpu: 50m
              memory: 128Mi
            limits:
              memory: 256Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
""" for service, secret in schemas)
    return HEADER.replace("services/adapters/departments.toml", "services/adapters/manifests.py") + f"""# Re-run on every upgrade: it is deleted an hour after it finished, so the next `kubectl apply -k`
# creates it again (or `kubectl delete job hall-migrate` first). Migrations are idempotent.
apiVersion: batch/v1
kind: Job
metadata:
  name: hall-migrate
  labels:
    app.kubernetes.io/name: hall-migrate
spec:
  backoffLimit: 3
  ttlSecondsAfterFinished: 3600
  template:
    metadata:
      labels:
        app.kubernetes.io/name: hall-migrate
        app.kubernetes.io/part-of: hall
    spec:
      restartPolicy: OnFailure
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      initContainers:
{containers}      containers:
        - name: done
          image: hall-suite
          command: ["python", "-c", "print('every schema migrated')"]
          resources:
            requests:
              cpu: 10m
              memory: 32Mi
            limits:
              memory: 64Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
"""


def stale(out: Path = OUT) -> list[str]:
    """The files under `out` that differ from what the registry renders (missing or extra ones too)."""
    wanted = render()
    present = {p.name for p in out.glob("*.yaml")} if out.exists() else set()
    differ = [n for n, text in wanted.items() if not (out / n).exists() or (out / n).read_text(encoding="utf-8") != text]
    if out == OUT:
        for path, text in ((MTLS, mtls()), (NETWORK, network()), (SCALING, scaling()), (MIGRATE, migrate_job())):
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                differ.append(str(path.relative_to(ROOT)))
    return sorted(differ + sorted(present - set(wanted)))


def write(out: Path = OUT) -> list[str]:
    if out == OUT:
        MTLS.write_text(mtls(), encoding="utf-8")
        NETWORK.write_text(network(), encoding="utf-8")
        SCALING.write_text(scaling(), encoding="utf-8")
        MIGRATE.write_text(migrate_job(), encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    wanted = render()
    for path in out.glob("*.yaml"):
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        (out / name).write_text(text, encoding="utf-8")
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.adapters.manifests", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether the committed files are current")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if args.check:
        differ = stale(args.out)
        if differ:
            print(f"stale: {', '.join(differ)}; run `make manifests`")
            return 1
        print("manifests are current")
        return 0
    print(f"wrote {len(write(args.out))} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
