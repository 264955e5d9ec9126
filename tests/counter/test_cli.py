"""The counter CLI prints a status's details as readable lines, not as packed bytes."""

import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2

from services.counter.__main__ import describe_details


def packed(message) -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(message)
    return detail


def test_known_details_are_unpacked_one_line_each():
    bad = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="case_id", description="必须提供案件编号")])
    failed = error_details_pb2.PreconditionFailure(violations=[
        error_details_pb2.PreconditionFailure.Violation(type="NOT_AN_INCIDENT", subject="C1/licence",
                                                        description="approved")])
    where = error_details_pb2.ResourceInfo(resource_type="hall.v1.Incident", resource_name="C1/licence")
    lines = describe_details([packed(bad), packed(failed), packed(where)])
    assert lines == [
        'BadRequest: field_violations { field: "case_id" description: "必须提供案件编号" }',
        'PreconditionFailure: violations { type: "NOT_AN_INCIDENT" subject: "C1/licence" description: "approved" }',
        'ResourceInfo: resource_type: "hall.v1.Incident" resource_name: "C1/licence"',
    ]


def test_an_unknown_detail_is_named_by_its_type():
    other = any_pb2.Any(type_url="type.googleapis.com/hall.v1.Something", value=b"\x01")
    assert describe_details([other]) == ["type.googleapis.com/hall.v1.Something"]


def test_hall_deadline_prints_the_due_date_and_its_explanation(capsys):
    from services.counter.__main__ import main

    assert main(["deadline", "2024-09-30", "10", "--pause", "2024-10-14..2024-10-15"]) == 0
    due, explanation = capsys.readouterr().out.splitlines()
    assert due == "2024-10-22" and "国庆节放假" in explanation and "暂停 2 个工作日" in explanation


def test_hall_deadline_json_and_units(capsys):
    import json

    from services.counter.__main__ import main

    assert main(["deadline", "2026-09-26", "5", "--unit", "natural", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["due"] == "2026-10-08" and out["unit"] == "natural" and not out["provisional"]
    assert main(["deadline", "2026-12-01T22:00", "4", "--unit", "hours", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["due_at"] == "2026-12-02T02:00:00+08:00"


@pytest.mark.parametrize("argv, says", [
    (["deadline", "2026-12-20", "20"], "2027年节假日安排尚未公布"),
    (["deadline", "30/09/2024", "10"], "不是 YYYY-MM-DD"),
    (["deadline", "2024-09-30", "10", "--pause", "2024-10-15..2024-10-14"], "FROM..TO"),
    (["deadline", "2024-09-30", "-1"], "不能为负数"),
])
def test_hall_deadline_says_what_is_wrong_in_one_line(capsys, argv, says):
    from services.counter.__main__ import main

    assert main(argv) == 2
    out = capsys.readouterr().out
    assert says in out and len(out.splitlines()) == 1 and "Traceback" not in out


def test_hall_is_a_console_script_that_runs_without_pythonpath(tmp_path):
    """`make install` puts `hall` in .venv/bin beside the interpreter that runs the tests."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    hall = Path(sys.executable).with_name("hall")
    assert hall.exists(), "run `make install`"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(hall), "deadline", "2026-02-14", "1", "--json"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["due"] == "2026-02-24"
