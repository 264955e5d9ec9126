"""Scaffold a new department adapter: python -m services.adapters.sdk.scaffold <code> [--dest DIR]
(or `make new-adapter NAME=<code>`). The result passes the conformance suite unchanged; then
replace the sample rule with the department's own."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ADAPTERS = Path(__file__).resolve().parents[1]

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
    "samples.py": '''"""Sample requests for the conformance suite and for tests."""

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
    "README.md": '''# {code} — {title}

Scaffolded with `make new-adapter NAME={code}`. Next:

1. Write the department's rules in `rules.py` and its register's tables in `register.py` with an
   Alembic revision in `migrations/`.
2. Keep `samples.py` true: one request the rules approve, one they refuse.
3. Run the conformance suite: `python -m services.adapters.sdk.conformance {code}`.
4. Add the department and its matters to `services/catalogue/data/catalogue.json`, and the code to
   `HALL_ADAPTERS` (or `services/suite.py`) to start it with `make run`.
''',
}


def scaffold(code: str, dest: Path = ADAPTERS, package: str | None = None) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,30}", code):
        raise ValueError("the department code is lower-case letters, digits and _ (e.g. environment)")
    target = dest / code
    if target.exists():
        raise FileExistsError(f"{target} exists")
    package = package or f"services.adapters.{code}"
    values = {"code": code, "code_upper": code.upper(), "package": package,
              "cls": "".join(p.title() for p in code.split("_")), "title": code.replace("_", " ").title()}
    for name, template in FILES.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.adapters.sdk.scaffold", description=__doc__)
    parser.add_argument("code")
    parser.add_argument("--dest", type=Path, default=ADAPTERS)
    parser.add_argument("--package", help="dotted package of the new adapter (default services.adapters.<code>)")
    args = parser.parse_args(argv)
    try:
        target = scaffold(args.code, args.dest, args.package)
    except (ValueError, FileExistsError) as exc:
        parser.error(str(exc))
    print(f"created {target}; run: python -m services.adapters.sdk.conformance {args.code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
