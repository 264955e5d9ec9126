"""A department's rules, by code: the package its registry entry names
(services/adapters/departments.toml) exports DEPARTMENT, a Department subclass."""

from __future__ import annotations

import importlib
from types import ModuleType

from services.adapters import registry
from services.adapters.sdk.department import Department
from services.adapters.sdk.settings import DepartmentSettings, department_settings


def department_package(code: str) -> ModuleType:
    return importlib.import_module(registry.entry(code).package)


def load_department(code: str, settings: DepartmentSettings | None = None) -> Department:
    """The department's rules, given the settings read at start (default: read them now)."""
    department: Department = department_package(code).DEPARTMENT(settings or department_settings())
    return department
