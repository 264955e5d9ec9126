"""The adapter SDK: a department writes its rules and its register; the SDK does the plumbing.

    from services.adapters.sdk import Decision, Department, Reason

    class Planning(Department):
        code = "planning"
        def decide(self, request, register):
            ...
            return Decision.approve(permit_number="...")

See docs/adapters.md.
"""

from services.adapters.sdk.department import Decision, Department, Reason

__all__ = ["Decision", "Department", "Reason"]
