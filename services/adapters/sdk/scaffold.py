"""Scaffold a new department adapter: python -m services.adapters.sdk.scaffold <code>
(or `make new-adapter NAME=<code>`).

Writes the department's folder (rules, register, migrations, samples, README and its own test
module), adds its entry to the registry (services/adapters/departments.toml) with the next free
desk port, and renders the Kubernetes manifests again. Nothing else is edited: the new adapter
runs in `make run` and passes `pytest --adapter=<code>` as generated; then replace the sample
rule with the department's own."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from services.adapters import registry
from services.adapters.manifests import OUT
from services.adapters.manifests import write as write_manifests

ADAPTERS = Path(__file__).resolve().parents[1]
MANIFESTS = OUT

FILES = {
    "__init__.py": '''"""{title} adapter."""

from .rules import {cls}

DEPARTMENT = {cls}
''',
    "register.py": '''"""The {code} register: what this department has issued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime


class RegisterBase(DeclarativeBase):
    pass


class Certificate(RegisterBase):
    __tablename__ = "{code}_certificates"

    certificate_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
''',
    "rules.py": '''"""{title} rules. Replace the sample rule below with the department's own.

`decide` runs inside the register's transaction: what it writes commits together with the SDK's
record of the answer. Return Decision.approve(...results), Decision.refuse(Reason(code, 中文说明,
field), ...) stating every problem, or Decision.pending("what the officer must do").
"""

from __future__ import annotations

from pathlib import Path

from services.adapters import registry
from services.adapters.manifests import OUT
from services.adapters.manifests import write as write_manifests

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall.v1 import approval_pb2
from services.adapters.sdk import Decision, Department, Reason
from services.runtime import clock

from .register import Certificate


class {cls}(Department):
    code = "{code}"
    name = "{title}"
    migrations = Path(__file__).with_name("migrations")

    def decide(self, request: approval_pb2.SubApprovalRequest, register: Session) -> Decision:
        # A later attempt of this case's step (the router retried after a technical failure).
        done = register.scalar(select(Certificate).where(Certificate.case_id == request.case_id))
        if done is not None:
            return Decision.approve(certificate_number=done.certificate_number)
        subject = request.fields.get("subject", "").strip()
        if not subject:
            return Decision.refuse(Reason("SUBJECT_MISSING", "申请事项名称不能为空", "subject"))
        number = f"{code_upper}-{{request.case_id}}"
        register.add(Certificate(certificate_number=number, case_id=request.case_id, subject=subject,
                                 issued_at=clock.now()))
        return Decision.approve(certificate_number=number)
''',
    "samples.py": '''"""Sample requests for the conformance tests and this department's tests."""

from __future__ import annotations

from hall.v1 import approval_pb2


def approvable() -> approval_pb2.SubApprovalRequest:
    return approval_pb2.SubApprovalRequest(department="{code}", step_id="main", fields={{"subject": "样例事项"}})


def refusable() -> approval_pb2.SubApprovalRequest:
    return approval_pb2.SubApprovalRequest(department="{code}", step_id="main", fields={{"subject": " "}})
''',
    "migrations/0001_initial.py": '''"""{code} register: certificates, SDK tables

Revision ID: {code}_0001
Revises:
Create Date: scaffolded
"""

import sqlalchemy as sa
from alembic import op

from services.adapters.sdk.handled import create_sdk_tables, drop_sdk_tables
from services.runtime.db import UTCDateTime

revision = "{code}_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_sdk_tables("{code}")
    op.create_table(
        "{code}_certificates",
        sa.Column("certificate_number", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False, unique=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("{code}_certificates")
    drop_sdk_tables("{code}")
''',
    "test_{code}.py": '''# mypy: allow-untyped-defs
"""The {code} department's rules. Run them with the conformance tests: pytest --adapter={code}"""

from hall.v1 import approval_pb2
from services.adapters.sdk.testing import envelope, only_decision, request


def test_issues_a_certificate_and_hands_its_number_on(make_core):
    core = make_core("{code}")
    d = only_decision(core.handle(envelope(request("{code}", "main"))))
    assert d.outcome == approval_pb2.OUTCOME_APPROVED and d.results["certificate_number"]


def test_refuses_a_request_without_a_subject(make_core):
    core = make_core("{code}")
    d = only_decision(core.handle(envelope(request("{code}", "main", fields={{"subject": " "}}))))
    assert d.outcome == approval_pb2.OUTCOME_REFUSED and [r.code for r in d.reasons] == ["SUBJECT_MISSING"]
''',
    "README.md": '''# {code} — {title}

Scaffolded with `make new-adapter NAME={code}`, which also added the department to
`services/adapters/departments.toml` (so `make run` starts it) and rendered its Kubernetes
manifests. Next:

1. Write the department's rules in `rules.py` and its register's tables in `register.py` with an
   Alembic revision in `migrations/`; test them in `test_{code}.py`.
2. Keep `samples.py` true: one request the rules approve, one they refuse.
3. Run this department's tests and the conformance tests: `pytest --adapter={code}`.
4. Add the department's matters to `services/catalogue/data/catalogue.json` (the catalogue team's
   file), so that cases reach it.
''',
}


def scaffold(code: str, dest: Path = ADAPTERS, package: str | None = None,
             registry_file: Path | None = None, manifests: Path | None = MANIFESTS) -> Path:
    """The department's folder under `dest`, its entry in `registry_file` (default: the one in
    use), and the manifests under `manifests` rendered again (None: not)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,30}", code):
        raise ValueError("the department code is lower-case letters, digits and _ (e.g. environment)")
    target = dest / code
    if target.exists():
        raise FileExistsError(f"{target} exists")
    if code in registry.codes():
        raise FileExistsError(f"{code} is in the registry already")
    package = package or f"services.adapters.{code}"
    values = {"code": code, "code_upper": code.upper(), "package": package,
              "cls": "".join(p.title() for p in code.split("_")), "title": code.replace("_", " ").title()}
    for name, template in FILES.items():
        path = target / name.format(**values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    register(code, package, registry_file or registry.registry_file())
    if manifests is not None:
        write_manifests(manifests)
    return target


def register(code: str, package: str, registry_file: Path) -> None:
    """Append the department's entry, with the next desk port after the highest in use."""
    port = max((e.desk_port for e in registry.entries()), default=50060) + 1
    entry = f"\n[{code}]\ndesk_port = {port}\n"
    if package != f"services.adapters.{code}":
        entry += f'package = "{package}"\n'
    text = registry_file.read_text(encoding="utf-8") if registry_file.exists() else ""
    registry_file.write_text(text.rstrip("\n") + "\n" + entry, encoding="utf-8")
    registry.reload()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.adapters.sdk.scaffold", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("code")
    parser.add_argument("--dest", type=Path, default=ADAPTERS, help="where the folder goes (default services/adapters)")
    parser.add_argument("--package", help="dotted package of the new adapter (default services.adapters.<code>)")
    args = parser.parse_args(argv)
    try:
        target = scaffold(args.code, args.dest, args.package)
    except (ValueError, FileExistsError) as exc:
        parser.error(str(exc))
    print(f"created {target}, added {args.code} to {registry.registry_file()} and rendered the manifests; "
          f"run: pytest --adapter={args.code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
