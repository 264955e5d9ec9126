"""Every shipped adapter passes the conformance suite (services/adapters/sdk/conformance.py)."""

import pytest

from services.adapters import provision
from services.adapters.sdk import conformance


@pytest.mark.parametrize("code", provision.departments())
def test_adapter_conforms(code, fresh_amqp_url, pg_url, pg_schema, tmp_path):
    results = conformance.run(code, fresh_amqp_url, pg_url, pg_schema, log_path=tmp_path / "adapter.log")
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert not failed, "\n".join(failed) + f"\n(log: {tmp_path / 'adapter.log'})"
    assert len(results) >= 7


def test_a_scaffolded_adapter_conforms_unchanged(fresh_amqp_url, pg_url, pg_schema, tmp_path, monkeypatch):
    import sys

    from services.adapters.sdk.scaffold import scaffold

    package_root = tmp_path / "ext"
    (package_root / "ext_adapters").mkdir(parents=True)
    (package_root / "ext_adapters" / "__init__.py").write_text("")
    scaffold("environment", package_root / "ext_adapters", package="ext_adapters.environment")
    monkeypatch.syspath_prepend(str(package_root))
    monkeypatch.setenv("PYTHONPATH", f"{package_root}")
    monkeypatch.setenv("HALL_ADAPTER_PACKAGES", "ext_adapters,services.adapters")
    results = conformance.run("environment", fresh_amqp_url, pg_url, pg_schema, log_path=tmp_path / "adapter.log")
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert not failed, "\n".join(failed) + f"\n(log: {tmp_path / 'adapter.log'})"
    for name in [m for m in sys.modules if m.startswith("ext_adapters")]:
        del sys.modules[name]
