"""The catalogue's RPCs on a real intake process: listing, a matter's disclosure, the bundles, the
kiosk's search and the one-time notice, and their typed refusals."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from hall.v1 import intake_pb2, intake_pb2_grpc
from services.catalogue import load
from services.runtime import grpc_client
from tests.support import tokens
from tests.support.processes import lone_intake
from tests.support.rpc import details
from tests.support.samples import COMPANY_BUNDLE, company_registration

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def intake(broker_url, pg_url, tmp_path_factory):
    from tests.support import servers

    with servers.vhost(broker_url) as amqp_url, lone_intake(amqp_url, pg_url, tmp_path_factory.mktemp("logs")) as suite:
        suite.wait_ready(timeout=90)
        channel = grpc_client.channel(f"127.0.0.1:{suite.children[0].port}", token=tokens.clerk())
        yield intake_pb2_grpc.IntakeServiceStub(channel)
        channel.close()




def test_listing_and_disclosure(intake):
    listed = intake.ListMatters(intake_pb2.ListMattersRequest(), timeout=10)
    assert {m.code for m in listed.matters} == set(load().matters)
    planning = intake.ListMatters(intake_pb2.ListMattersRequest(department="planning"), timeout=10).matters
    assert [m.code for m in planning] == ["150602-GH-0001"]
    matter = intake.GetMatter(intake_pb2.GetMatterRequest(code="150602-GH-0001"), timeout=10).matter
    assert matter.legal_basis and matter.materials and matter.window_group == "B"
    assert all(f.type for f in matter.form_fields)
    assert [b.code for b in intake.ListBundles(intake_pb2.ListBundlesRequest(), timeout=10).bundles] == [COMPANY_BUNDLE]


def test_unknown_matter_and_missing_code_are_typed(intake):
    with pytest.raises(grpc.RpcError) as err:
        intake.GetMatter(intake_pb2.GetMatterRequest(code="NOPE"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert details(err.value, error_details_pb2.ResourceInfo)[0].resource_name == "NOPE"
    with pytest.raises(grpc.RpcError) as err:
        intake.GetMatter(intake_pb2.GetMatterRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("query, first", [
    ("开办企业", COMPANY_BUNDLE),          # the words in another order
    ("营业执照", "150602-GS-0001"),        # the certificate it issues
    ("规划许可", "150602-GH-0001"),
    ("生育", "150602-JS-0001"),
    ("qykb", COMPANY_BUNDLE),             # pinyin initials: 企业开办
    ("150602-ZJ-0001", "150602-ZJ-0001"),  # a code
])
def test_the_kiosk_search_ranks_the_right_matter_first(intake, query, first):
    hits = intake.SearchCatalogue(intake_pb2.SearchCatalogueRequest(query=query), timeout=10).hits
    assert hits and (hits[0].bundle_code or hits[0].matter_code) == first
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_refuses_an_empty_or_long_query(intake):
    for query, limit in (("  ", 0), ("企" * 101, 0), ("企业", 51)):
        with pytest.raises(grpc.RpcError) as err:
            intake.SearchCatalogue(intake_pb2.SearchCatalogueRequest(query=query, limit=limit), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert details(err.value, error_details_pb2.BadRequest)[0].field_violations
    got = intake.SearchCatalogue(intake_pb2.SearchCatalogueRequest(query="火星移民"), timeout=10)
    assert not got.hits


def test_a_refused_submission_has_one_answer_and_a_stored_notice(intake):
    req = company_registration()
    req.fields["registered_capital_fen"] = "abc"
    req.materials.remove("M-GS-ADDRESS")
    with pytest.raises(grpc.RpcError) as err:
        intake.SubmitApplication(req, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = [v.field for b in details(err.value, error_details_pb2.BadRequest) for v in b.field_violations]
    missing = [v.subject for p in details(err.value, error_details_pb2.PreconditionFailure) for v in p.violations]
    (info,) = details(err.value, error_details_pb2.ErrorInfo)
    (text,) = details(err.value, error_details_pb2.LocalizedMessage)
    assert fields == ["fields.registered_capital_fen"] and missing == ["M-GS-ADDRESS"]
    assert info.reason == "INCOMPLETE_APPLICATION" and text.locale == "zh-CN" and "一次性告知" in text.message
    notice = intake.GetNotice(intake_pb2.GetNoticeRequest(notice_id=info.metadata["notice_id"]), timeout=10).notice
    assert [p.subject for p in notice.problems] == ["fields.registered_capital_fen", "M-GS-ADDRESS"]
    assert "住所使用证明【未提交】" in notice.text and notice.applicant_name == req.applicant.name
    with pytest.raises(grpc.RpcError) as again:  # the same request: the same notice
        intake.SubmitApplication(req, timeout=10)
    assert details(again.value, error_details_pb2.ErrorInfo)[0].metadata["notice_id"] == notice.notice_id


def test_the_blank_notice_is_the_published_text(intake):
    blank = intake.GetNotice(intake_pb2.GetNoticeRequest(bundle_code=COMPANY_BUNDLE), timeout=10).notice
    assert not blank.notice_id and not blank.problems and blank.text.startswith("一次性告知书")
    assert {m.code for m in blank.materials} == {m.code for m in load().required_materials(bundle_code=COMPANY_BUNDLE)}
    for bad in (intake_pb2.GetNoticeRequest(), intake_pb2.GetNoticeRequest(notice_id="x", matter_code="y")):
        with pytest.raises(grpc.RpcError) as err:
            intake.GetNotice(bad, timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        intake.GetNotice(intake_pb2.GetNoticeRequest(notice_id="nope"), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
