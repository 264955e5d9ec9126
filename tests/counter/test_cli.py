"""The counter CLI prints a status's details as readable lines, not as packed bytes."""

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
