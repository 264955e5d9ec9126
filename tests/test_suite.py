"""The terminal of `make run` is for people: one readable line per warning, error, start and stop;
the rest stays in each process's log file."""

import json

from services.suite import readable


def line(**record):
    return json.dumps({"timestamp": "2026-12-03T10:11:12.345Z", "level": "info", **record}, ensure_ascii=False)


def test_warnings_and_starts_are_shown_readably_and_the_chatter_is_not():
    shown = readable("router", line(level="warning", event="broker not reachable; serving gRPC, consumers wait",
                                    waited_s=5, case_id="C1"))
    assert shown == ("                 router 18:11:12 warning broker not reachable; serving gRPC, consumers wait"
                     "  waited_s=5 case_id=C1")  # 10:11 UTC is 18:11 in Shanghai
    assert str(readable("intake", line(event="started", grpc_port=50051))).endswith("info    started  grpc_port=50051")
    assert readable("router", line(event="case planned", steps=["licence"])) is None
    assert readable("router", line(event="case planned"), verbose=True) is not None


def test_a_line_that_is_not_json_is_shown_as_it_is():
    assert readable("adapter-quality", "Traceback (most recent call last):\n") == \
        "        adapter-quality | Traceback (most recent call last):"
