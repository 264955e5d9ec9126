"""Loads the catalogue, checks it at start-up, and answers questions about it.

Checks: unique codes; every matter names a known department; promised limit <= statutory limit
(in the same unit); a free matter says so (不收费) and has no fee items, a charged one has items
with positive integer fen; bundle steps name known matters and form a DAG whose needs are
provided upstream.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from google.protobuf import json_format

from hall.v1 import catalogue_pb2, common_pb2
from services.domain.timelimits import Unit

DEFAULT_PATH = Path(__file__).with_name("data") / "catalogue.json"


class CatalogueError(ValueError):
    """The catalogue file breaks a rule; the suite refuses to start with it."""


@dataclass(frozen=True)
class PlanStep:
    step_id: str
    matter_code: str
    department: str
    after: tuple[str, ...]
    needs: tuple[str, ...]
    provides: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What the router executes: steps of one matter or of a bundle, in dependency order."""

    code: str
    steps: tuple[PlanStep, ...]

    def ready(self, done: set[str], started: set[str]) -> list[PlanStep]:
        return [s for s in self.steps if s.step_id not in started and all(a in done for a in s.after)]


_UNITS_COMPARABLE = {common_pb2.TimeLimit.UNIT_WORKING_DAY, common_pb2.TimeLimit.UNIT_NATURAL_DAY}


def _days(limit: common_pb2.TimeLimit) -> float:
    # A working day is never shorter than a natural day; compare in natural-day upper bounds.
    if limit.unit == common_pb2.TimeLimit.UNIT_WORKING_DAY:
        return limit.amount * 7 / 5
    if limit.unit == common_pb2.TimeLimit.UNIT_NATURAL_DAY:
        return float(limit.amount)
    return limit.amount / 24


class Catalogue:
    def __init__(self, proto: catalogue_pb2.Catalogue) -> None:
        self.proto = proto
        self.version = proto.version
        self.departments = {d.code: d for d in proto.departments}
        self.matters = {m.code: m for m in proto.matters}
        self.bundles = {b.code: b for b in proto.bundles}
        self.window_groups = {g.code: g for g in proto.window_groups}
        self._validate()

    # ---- questions -----------------------------------------------------------------------------
    def matter(self, code: str) -> catalogue_pb2.Matter | None:
        return self.matters.get(code)

    def bundle(self, code: str) -> catalogue_pb2.Bundle | None:
        return self.bundles.get(code)

    def plan(self, *, matter_code: str = "", bundle_code: str = "") -> Plan:
        if bundle_code:
            bundle = self.bundles[bundle_code]
            return Plan(bundle.code, tuple(
                PlanStep(s.id, s.matter, self.matters[s.matter].department, tuple(s.after), tuple(s.needs),
                         tuple(s.provides)) for s in bundle.steps))
        matter = self.matters[matter_code]
        return Plan(matter.code, (PlanStep("main", matter.code, matter.department, (), (), ()),))

    def required_materials(self, *, matter_code: str = "", bundle_code: str = "") -> list[catalogue_pb2.Material]:
        """Materials the applicant must hand in, in catalogue order, each once."""
        seen: dict[str, catalogue_pb2.Material] = {}
        if bundle_code:
            for step in self.bundles[bundle_code].steps:
                waived = set(step.waived_materials)
                for m in self.matters[step.matter].materials:
                    if m.required and m.code not in waived:
                        seen.setdefault(m.code, m)
        else:
            for m in self.matters[matter_code].materials:
                if m.required:
                    seen.setdefault(m.code, m)
        return list(seen.values())

    def required_fields(self, *, matter_code: str = "", bundle_code: str = "") -> list[catalogue_pb2.FormField]:
        return [f for f in self.form_fields(matter_code=matter_code, bundle_code=bundle_code) if f.required]

    def form_fields(self, *, matter_code: str = "", bundle_code: str = "") -> list[catalogue_pb2.FormField]:
        """Every field the application's matters declare, in catalogue order, each once."""
        seen: dict[str, catalogue_pb2.FormField] = {}
        for code in self.matter_codes(matter_code=matter_code, bundle_code=bundle_code):
            for f in self.matters[code].form_fields:
                seen.setdefault(f.name, f)
        return list(seen.values())

    def window_group_of(self, *, matter_code: str = "", bundle_code: str = "") -> catalogue_pb2.WindowGroup:
        code = (self.bundles[bundle_code] if bundle_code else self.matters[matter_code]).window_group
        return self.window_groups[code]

    def group_of_window(self, window: str) -> catalogue_pb2.WindowGroup | None:
        return next((g for g in self.proto.window_groups if window in g.windows), None)

    def matter_codes(self, *, matter_code: str = "", bundle_code: str = "") -> list[str]:
        return [s.matter for s in self.bundles[bundle_code].steps] if bundle_code else [matter_code]

    def promised_limit(self, *, matter_code: str = "", bundle_code: str = "") -> common_pb2.TimeLimit:
        return (self.bundles[bundle_code] if bundle_code else self.matters[matter_code]).promised_limit

    # ---- start-up checks ---------------------------------------------------------------------
    def _validate(self) -> None:
        problems: list[str] = []
        if not self.version:
            problems.append("catalogue has no version")
        if len(self.matters) != len(self.proto.matters):
            problems.append("duplicate matter codes")
        for m in self.proto.matters:
            where = f"matter {m.code}"
            if m.department not in self.departments:
                problems.append(f"{where}: unknown department {m.department!r}")
            for label, lim in (("statutory", m.statutory_limit), ("promised", m.promised_limit)):
                if lim.unit == common_pb2.TimeLimit.UNIT_UNSPECIFIED:
                    problems.append(f"{where}: {label} limit has no unit")
            if m.statutory_limit.unit in _UNITS_COMPARABLE and _days(m.promised_limit) > _days(m.statutory_limit):
                problems.append(f"{where}: promised limit exceeds statutory limit")
            if m.fees.charged:
                if not m.fees.items:
                    problems.append(f"{where}: charged but lists no fee items")
                fields = {f.name for f in m.form_fields}
                for item in m.fees.items:
                    problems += [f"{where}: fee item {item.code}: {p}" for p in _fee_problems(item, fields)]
                if m.payment_stage == catalogue_pb2.PAYMENT_STAGE_UNSPECIFIED:
                    problems.append(f"{where}: a charged matter says when it is paid (payment_stage)")
            else:
                if not m.fees.free_note:
                    problems.append(f"{where}: a free matter must say so (不收费), never blank")
                if m.fees.items:
                    problems.append(f"{where}: a free matter lists fee items")
            if m.kind == catalogue_pb2.Matter.KIND_UNSPECIFIED:
                problems.append(f"{where}: kind (即办件/承诺件) missing")
            codes = [x.code for x in m.materials]
            if len(codes) != len(set(codes)):
                problems.append(f"{where}: duplicate material codes")
            if m.window_group not in self.window_groups:
                problems.append(f"{where}: unknown window group {m.window_group!r}")
            problems += [f"{where}: {p}" for f in m.form_fields for p in _field_problems(f)]
        for b in self.proto.bundles:
            where = f"bundle {b.code}"
            ids = [s.id for s in b.steps]
            if len(ids) != len(set(ids)):
                problems.append(f"{where}: duplicate step ids")
            provided: dict[str, set[str]] = {}
            order: list[str] = []
            pending = {s.id: s for s in b.steps}
            while pending:
                ready = [s for s in pending.values() if all(a in order for a in s.after)]
                if not ready:
                    problems.append(f"{where}: steps {sorted(pending)} form a cycle or wait for unknown steps")
                    break
                for s in ready:
                    if s.matter not in self.matters:
                        problems.append(f"{where}: step {s.id} names unknown matter {s.matter}")
                    upstream = set().union(*(provided[a] | self._ancestors_provide(a, b, provided) for a in s.after)) if s.after else set()
                    missing = set(s.needs) - upstream
                    if missing:
                        problems.append(f"{where}: step {s.id} needs {sorted(missing)} that no earlier step provides")
                    provided[s.id] = set(s.provides)
                    order.append(s.id)
                    del pending[s.id]
            if _days(b.promised_limit) > _days(b.statutory_limit):
                problems.append(f"{where}: promised limit exceeds statutory limit")
            if b.window_group not in self.window_groups:
                problems.append(f"{where}: unknown window group {b.window_group!r}")
        for g in self.proto.window_groups:
            if len(g.code) != 1 or not g.code.isascii() or not g.code.isupper():
                problems.append(f"window group {g.code!r}: the code is one capital letter (the ticket prefix)")
            if not g.windows or g.typical_service_minutes <= 0:
                problems.append(f"window group {g.code}: needs windows and a typical service time")
        windows = [w for g in self.proto.window_groups for w in g.windows]
        if len(windows) != len(set(windows)):
            problems.append("a window belongs to two window groups")
        if problems:
            raise CatalogueError("catalogue rejected:\n  " + "\n  ".join(problems))

    @staticmethod
    def _ancestors_provide(step_id: str, bundle: catalogue_pb2.Bundle, provided: dict[str, set[str]]) -> set[str]:
        by_id = {s.id: s for s in bundle.steps}
        out: set[str] = set()
        stack = list(by_id[step_id].after)
        while stack:
            sid = stack.pop()
            out |= provided.get(sid, set())
            stack.extend(by_id[sid].after)
        return out


_F = catalogue_pb2.FormField
_FEE = catalogue_pb2.FeeItem


def _fee_problems(item: catalogue_pb2.FeeItem, fields: set[str]) -> list[str]:
    """What is wrong with a fee item's rule (money in integer fen, rates in basis points)."""
    problems = []
    if not item.basis:
        problems.append("no legal basis")
    if item.kind == _FEE.KIND_PERCENTAGE:
        if not 0 < item.rate_basis_points <= 10000 or item.base_field not in fields:
            problems.append("a percentage needs a rate of 1-10000 basis points and a base field of the matter")
        if item.HasField("floor") and item.HasField("cap") and item.floor.fen > item.cap.fen:
            problems.append("floor above cap")
    elif item.standard.fen <= 0:
        problems.append("needs a positive standard amount")
    if item.kind == _FEE.KIND_PER_UNIT and item.unit_field not in fields:
        problems.append(f"its unit field {item.unit_field!r} is not a field of the matter")
    for r in item.reductions:
        if not 0 < r.off_basis_points <= 10000 or not r.legal_basis or not r.when_field:
            problems.append(f"reduction {r.code} needs a share of 1-10000 basis points, a rule and a legal basis")
    return problems



def _field_problems(f: catalogue_pb2.FormField) -> list[str]:
    """What is wrong with a form field's declaration: every field has a type and its rule."""
    problems = []
    if f.type == _F.TYPE_UNSPECIFIED:
        problems.append(f"field {f.name}: no type")
    if (f.type == _F.TYPE_QUANTITY) != (f.unit != _F.UNIT_UNSPECIFIED):
        problems.append(f"field {f.name}: a unit belongs to a quantity, and every quantity has one")
    if f.type == _F.TYPE_CHOICE and not f.choices:
        problems.append(f"field {f.name}: a choice lists its choices")
    if f.type == _F.TYPE_CODE and not f.pattern:
        problems.append(f"field {f.name}: a code gives its pattern")
    if f.maximum < f.minimum or f.max_length < 0 or (f.max_length and f.max_length < f.min_length):
        problems.append(f"field {f.name}: bounds out of order")
    return problems


def parse(text: str) -> Catalogue:
    proto = catalogue_pb2.Catalogue()
    try:
        json_format.Parse(text, proto)
    except json_format.ParseError as exc:
        raise CatalogueError(f"catalogue file does not match hall.v1.Catalogue: {exc}") from None
    return Catalogue(proto)


@lru_cache(maxsize=4)
def _load_path(path: str) -> Catalogue:
    return parse(Path(path).read_text(encoding="utf-8"))


def load(path: str | os.PathLike[str] | None = None) -> Catalogue:
    """The catalogue at `path`, else CATALOGUE_PATH, else the one shipped in the repository."""
    return _load_path(str(path or os.environ.get("CATALOGUE_PATH") or DEFAULT_PATH))


def load_versions(current: Catalogue | None = None) -> dict[str, Catalogue]:
    """Every catalogue version still in force for running cases: the current one, plus earlier
    versions kept as data/archive/<version>.json (a case is finished under the version it was
    accepted under)."""
    current = current or load()
    versions = {current.version: current}
    archive = DEFAULT_PATH.parent / "archive"
    if archive.is_dir():
        for path in sorted(archive.glob("*.json")):
            cat = _load_path(str(path))
            versions.setdefault(cat.version, cat)
    return versions


_LIMIT_UNITS = {common_pb2.TimeLimit.UNIT_WORKING_DAY: Unit.WORKING_DAY,
                common_pb2.TimeLimit.UNIT_NATURAL_DAY: Unit.NATURAL_DAY, common_pb2.TimeLimit.UNIT_HOUR: Unit.HOUR}


def limit_unit(limit: common_pb2.TimeLimit) -> Unit:
    """How a catalogue time limit is counted (services/domain/timelimits.py); unspecified: working days."""
    return _LIMIT_UNITS.get(limit.unit, Unit.WORKING_DAY)

