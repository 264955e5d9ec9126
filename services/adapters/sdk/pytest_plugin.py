"""pytest support for department teams (loaded by the repository's conftest.py):

- `--adapter=<code>`: run one department's tests alone, its own module
  (services/adapters/<code>/test_<code>.py) and the conformance tests for it;
- `make_core`: an AdapterCore of a department on a fresh PostgreSQL schema (or SQLite, with
  `pytest.mark.parametrize("make_core", ["postgresql", "sqlite"], indirect=True)`), migrated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.adapters import registry
from services.adapters.sdk.core import AdapterCore
from services.adapters.sdk.registry import department_package, load_department
from services.runtime import db


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--adapter", default="", metavar="CODE",
                     help="run only department CODE's tests: its own and the conformance tests for it")


def adapter_codes(config: pytest.Config) -> list[str]:
    """The departments the conformance tests run for: --adapter's, else every one in the registry."""
    chosen = config.getoption("adapter")
    return [chosen] if chosen else registry.codes()


def belongs_to(item: pytest.Item, code: str) -> bool:
    """Whether a test is one of department `code`'s: in its folder, or a conformance test run for it."""
    folder = Path(department_package(code).__file__ or "").parent
    if folder in Path(str(item.path)).parents:
        return True
    callspec = getattr(item, "callspec", None)
    return item.path.name == "test_conformance.py" and callspec is not None and callspec.params.get("code") == code


@pytest.fixture
def make_core(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., AdapterCore]]:
    if getattr(request, "param", "postgresql") == "sqlite":
        url, schema_name = f"sqlite:///{tmp_path / 'registers.db'}", None
    else:
        url, schema_name = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
    engines: list[Any] = []

    def make(code: str, **department_kw: Any) -> AdapterCore:
        department = load_department(code)
        for name, value in department_kw.items():  # e.g. a stand-in register client
            setattr(department, name, value)
        engine = db.make_engine(url, schema_name)
        assert department.migrations is not None
        engines.append(engine)
        db.migrate(engine, department.migrations, f"alembic_version_adapter_{code}")
        return AdapterCore(department, db.session_factory(engine))

    yield make
    for engine in engines:
        engine.dispose()
