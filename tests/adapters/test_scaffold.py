"""A department scaffolded with `make new-adapter` needs nothing but its folder and its registry
entry (which the scaffold writes): `make run` starts it, its manifests are rendered, and it
passes its own tests and the conformance tests (`pytest --adapter=<code>`)."""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hall.v1 import approval_pb2
from services import suite
from services.adapters import registry
from services.adapters.sdk.scaffold import scaffold
from services.adapters.sdk.testing import AdapterHarness

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scaffolded(tmp_path, monkeypatch):
    """Department `environment` scaffolded into a package of its own, on a copy of the registry."""
    registry_file = tmp_path / "departments.toml"
    shutil.copy(registry.DEFAULT_FILE, registry_file)
    monkeypatch.setenv("HALL_DEPARTMENTS_FILE", str(registry_file))
    package_root = tmp_path / "ext"
    (package_root / "ext_adapters").mkdir(parents=True)
    (package_root / "ext_adapters" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(package_root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(package_root), str(ROOT), str(ROOT / "gen")]))
    folder = scaffold("environment", package_root / "ext_adapters", package="ext_adapters.environment",
                      registry_file=registry_file, manifests=tmp_path / "k8s")
    yield folder
    for name in [m for m in sys.modules if m.startswith("ext_adapters")]:
        del sys.modules[name]
    registry.reload()


def test_the_scaffold_writes_the_folder_the_registry_entry_and_the_manifests(scaffolded, tmp_path):
    assert {p.name for p in scaffolded.iterdir()} >= {"rules.py", "register.py", "migrations", "samples.py",
                                                     "README.md", "test_environment.py"}
    entry = registry.entry("environment")
    assert entry.package == "ext_adapters.environment" and entry.desk_port not in {
        e.desk_port for e in registry.entries() if e.code != "environment"}
    assert (tmp_path / "k8s" / "adapter-environment.yaml").exists()


def test_make_run_starts_the_scaffolded_adapter_and_it_answers(scaffolded, fresh_amqp_url, pg_url, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:8]}"
    [child] = [c for c in suite.plan({**os.environ, "AMQP_URL": fresh_amqp_url, "HALL_DATABASE_URL": pg_url,
                                      "HALL_SCHEMA_PREFIX": prefix})
               if c.name == "adapter-environment"]
    request = approval_pb2.SubApprovalRequest(case_id=f"SCAF{uuid.uuid4().hex[:12]}", step_id="main",
                                              department="environment", attempt=1, fields={"subject": "排污许可"})
    try:
        with AdapterHarness("environment", fresh_amqp_url, command=child.argv, extra_env=child.env,
                            log_path=tmp_path / "adapter.log") as harness:
            harness.send(request)
            _, decision = harness.decision(case_id=request.case_id)
            assert decision.outcome == approval_pb2.OUTCOME_APPROVED, list(decision.reasons)
            assert harness.terminate() == 0
    finally:
        from tests.support.db import drop_schemas

        drop_schemas(pg_url, [child.env["DATABASE_SCHEMA"]])


def test_the_scaffolded_department_passes_its_tests_and_the_conformance_tests(scaffolded, tmp_path):
    """`pytest --adapter=environment`, as its team would run it, in a process of its own."""
    env = {**os.environ, "HALL_TEST_REPORT": str(tmp_path / "report.json")}  # not the outer run's report
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--adapter=environment",
         str(ROOT / "tests" / "adapters" / "test_conformance.py"), str(scaffolded)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "10 passed" in result.stdout, result.stdout[-2000:]
