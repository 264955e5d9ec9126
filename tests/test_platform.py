"""The platform services refuse to start when the catalogue names a department the registry
does not list (its steps would have no queue)."""

import shutil

import pytest

from services import platform
from services.adapters import registry
from services.catalogue import load
from services.runtime.config import ConfigError


def test_every_department_of_the_catalogue_is_in_the_registry():
    platform.check_departments(load())
    assert set(load().departments) <= set(registry.codes())


def test_a_catalogue_department_missing_from_the_registry_stops_the_service(tmp_path, monkeypatch):
    trimmed = tmp_path / "departments.toml"
    text = registry.DEFAULT_FILE.read_text(encoding="utf-8")
    shutil.copy(registry.DEFAULT_FILE, trimmed)
    trimmed.write_text(text.replace("[family_planning]\ndesk_port = 50066\n", ""), encoding="utf-8")
    monkeypatch.setenv("HALL_DEPARTMENTS_FILE", str(trimmed))
    with pytest.raises(ConfigError, match="family_planning"):
        platform.check_departments(load())


@pytest.mark.parametrize("entry, problem", [
    ("[Bad-Code]\ndesk_port = 50070\n", "lower-case"),
    ("[extra]\ndesk_port = 50061\n", "business's already"),
    ("[extra]\ndesk_port = 80\n", "port number"),
    ("[extra]\ndesk_port = 50070\ncolour = 1\n", "only"),
])
def test_a_malformed_registry_entry_is_refused_with_its_reason(tmp_path, monkeypatch, entry, problem):
    bad = tmp_path / "departments.toml"
    bad.write_text(registry.DEFAULT_FILE.read_text(encoding="utf-8") + "\n" + entry, encoding="utf-8")
    monkeypatch.setenv("HALL_DEPARTMENTS_FILE", str(bad))
    with pytest.raises(ConfigError, match=problem):
        registry.entries()
