"""What a department implements: its code, its register's tables and migrations, and `decide`.

Nothing here imports nameko or eventlet: rules and their tests run in a plain Python process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from hall.v1 import approval_pb2, common_pb2
from services.adapters.sdk.settings import DepartmentSettings

PENDING = -1  # not a wire value: a decision that waits for an officer is never sent
_PREPARED = "sdk.prepared"  # where the register's session holds what `prepare` returned


@dataclass(frozen=True)
class Reason:
    """Why a request is refused: a reason code and a sentence a clerk can read aloud (Chinese)."""

    code: str
    message: str
    field: str = ""


@dataclass
class Decision:
    outcome: int
    results: dict[str, str] = field(default_factory=dict)
    reasons: list[Reason] = field(default_factory=list)
    officer_id: str = ""

    @classmethod
    def approve(cls, **results: str) -> Decision:
        return cls(approval_pb2.OUTCOME_APPROVED, results=dict(results))

    @classmethod
    def refuse(cls, *reasons: Reason) -> Decision:
        if not reasons:
            raise ValueError("a refusal must state its reasons")  # refusing without a reason is itself overdue
        return cls(approval_pb2.OUTCOME_REFUSED, reasons=list(reasons))

    @classmethod
    def failed(cls, message: str) -> Decision:
        return cls(approval_pb2.OUTCOME_FAILED, reasons=[Reason("TECHNICAL_FAILURE", message)])

    @classmethod
    def pending(cls, waiting_for: str) -> Decision:
        """No decision yet: the request waits for an officer at the department's desk (site
        inspection, expert review, hearing…). `waiting_for` says what, for the officer's list."""
        return cls(PENDING, reasons=[Reason("PENDING", waiting_for)])

    @property
    def is_pending(self) -> bool:
        return self.outcome == PENDING

    @classmethod
    def cancelled(cls) -> Decision:
        return cls(approval_pb2.OUTCOME_CANCELLED, reasons=[Reason("CANCELLED", "联办事项已终止，本步骤撤销")])

    def to_proto(self, request: approval_pb2.SubApprovalRequest, request_message_id: str, department: str) -> approval_pb2.SubApprovalDecision:
        from services.runtime import clock

        return approval_pb2.SubApprovalDecision(
            case_id=request.case_id, step_id=request.step_id, department=department,
            outcome=self.outcome,  # type: ignore[arg-type]
            results=self.results,
            reasons=[common_pb2.Reason(code=r.code, message=r.message, department=department, field=r.field)
                     for r in self.reasons],
            officer_id=self.officer_id, decided_at=clock.to_timestamp(clock.now()),
            request_message_id=request_message_id, attempt=request.attempt,
        )


class Department:
    """Subclass this for a department. `decide` runs inside the register's transaction: whatever
    it writes commits together with the SDK's record of the answer, or not at all."""

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    # Folder of the department's Alembic revisions (its register's tables).
    migrations: ClassVar[Path | None] = None

    def __init__(self, settings: DepartmentSettings) -> None:
        """`settings` were read once at the process's start (services/adapters/sdk/settings.py):
        the hall's division, where the other departments' desks answer. A subclass that needs more
        (a client of a neighbour's register) builds it from them here."""
        self.settings = settings

    def decide(self, request: approval_pb2.SubApprovalRequest, register: Session) -> Decision:
        raise NotImplementedError

    def prepare(self, requests: list[approval_pb2.SubApprovalRequest]) -> Any:
        """Optional. Called once for each batch of requests, before its transaction: fetch what
        `decide` needs from other departments for all of them in one call (the tax departments
        ask the business register for the batch's licences together). `decide` reads what this
        returns with `self.prepared(register)`. It must only read: a batch that fails is prepared
        again request by request, and a request may turn out to need nothing (a replay). If it
        raises, the batch goes on without it (`prepared` gives None), so `decide` must be able to
        fetch for itself. Default: nothing."""
        return None

    @staticmethod
    def prepared(register: Session) -> Any:
        """What `prepare` returned for the batch `decide` is working in (None if nothing)."""
        return register.info.get(_PREPARED)

    def cancel(self, request_case_id: str, step_id: str, register: Session) -> None:
        """Called when the router cancels a step (a sibling was refused, or the case withdrawn)."""

    def register_shared_services(self, server: Any, sessions: Any) -> list[str]:
        """Read-only gRPC services this department shares with others (信息共享), served by its
        desk process. Returns their full names (for reflection). Default: none."""
        return []


def hand_prepared(register: Session, prepared: Any) -> None:
    """The SDK's side of `Department.prepared`: what `prepare` returned, for the batch's transaction."""
    register.info[_PREPARED] = prepared
