"""The SDK's core around a department's rules: a rule that raises is a technical failure."""

from hall.v1 import approval_pb2
from services.adapters.sdk.testing import envelope, request
from services.adapters.sdk.testing import only_decision as decision


def test_a_crashing_rule_is_answered_failed_and_records_nothing(make_core, monkeypatch):
    core = make_core("quality")

    def boom(*_a, **_k):
        raise RuntimeError("register offline")

    monkeypatch.setattr(core.department, "decide", boom)
    env = envelope(request("quality", "org_code"))
    d = decision(core.handle(env))
    assert d.outcome == approval_pb2.OUTCOME_FAILED and "register offline" in d.reasons[0].message
    monkeypatch.undo()
    assert core.handle(env).outcome != "replayed"  # nothing was recorded for the failed attempt
