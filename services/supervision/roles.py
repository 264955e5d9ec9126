"""Who may decide in supervision, checked in one place: the hall's head decides extensions,
supervisors decide appeals (against cards and against evaluations) and see an evaluator's or a
complainant's contact; supervisors change no case.

The actor is the caller the gRPC interceptor bound (x-actor-id) when there is one, else the id
the request names. Until sign-in (the access-control issue) gives verified identities, both are
what the caller says; the role holders are SUPERVISION_HALL_HEADS and SUPERVISION_SUPERVISORS.
When the interceptor verifies tokens, `actor` reads only the verified identity and the request
fields become redundant: nothing else changes.
"""

from __future__ import annotations

from services.runtime import context
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
        return bool(actor) and actor in self._holders[role]

    def require(self, named: str, role: str, field: str) -> str:
        """The actor, if it holds `role`; else INVALID_ARGUMENT (nobody named) or PERMISSION_DENIED."""
        actor = self.actor(named)
        if not actor:
            raise InvalidArgument(f"{field} is required", violations=[(field, f"必须提供{role}编号")])
        if not self.has(actor, role):
            raise PermissionDenied(f"{actor} is not a {role}（只有{role}可以决定）", reason="ROLE_REQUIRED")
        context.bind(actor_id=actor)
        return actor
