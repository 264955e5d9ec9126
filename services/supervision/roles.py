"""Who may decide in supervision, checked in one place: the hall's head decides extensions,
supervisors decide appeals (against cards and against evaluations) and see an evaluator's or a
complainant's contact; supervisors change no case.

Over gRPC the interceptor has verified the caller's token and enforced the RPC's rule (only a
supervisor reaches DecideAppeal or DecideExtension) and written the verified identity into the
request's actor field, so the actor here is the verified one: a supervisor is who the token says
is one, and the hall's head is a supervisor listed in SUPERVISION_HALL_HEADS. In process (tests,
tools without a call) there is no token, and both roles are read from the lists
SUPERVISION_HALL_HEADS and SUPERVISION_SUPERVISORS.
"""

from __future__ import annotations

from hall.v1 import access_pb2
from services.runtime import auth, context
from services.runtime.errors import InvalidArgument, PermissionDenied
from services.supervision.settings import SupervisionSettings

HEAD, SUPERVISOR = "中心负责人", "监察员"


class Roles:
    def __init__(self, settings: SupervisionSettings) -> None:
        self._holders = {HEAD: settings.hall_heads, SUPERVISOR: settings.supervisors}

    @staticmethod
    def actor(named: str) -> str:
        return named or context.actor_id()

    def has(self, actor: str, role: str) -> bool:
        if not actor:
            return False
        caller = auth.current()
        if caller is not None:
            if caller.subject != actor or caller.role != access_pb2.ROLE_SUPERVISOR:
                return False
            return role == SUPERVISOR or actor in self._holders[HEAD]
        return actor in self._holders[role]

    def require(self, named: str, role: str, field: str) -> str:
        """The actor, if it holds `role`; else INVALID_ARGUMENT (nobody named) or PERMISSION_DENIED."""
        actor = self.actor(named)
        if not actor:
            raise InvalidArgument(f"{field} is required", violations=[(field, f"必须提供{role}编号")])
        if not self.has(actor, role):
            raise PermissionDenied(f"{actor} is not a {role}（只有{role}可以决定）",
                                   reason="HALL_HEAD_REQUIRED" if role == HEAD else "ROLE_REQUIRED")
        context.bind(actor_id=actor)
        return actor
