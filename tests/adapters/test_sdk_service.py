"""The nameko layer of an adapter is thin: the service class hands each message to its
dependency (logic lives in the provider and the core). Tested with nameko's worker_factory."""

from types import SimpleNamespace

from nameko.testing.services import worker_factory

from hall.v1 import approval_pb2
from services.adapters.sdk.service import build_service, department_queue
from services.adapters.sdk.testing import envelope


def test_the_service_hands_each_message_to_the_answering_dependency():
    service_class = build_service(SimpleNamespace(code="quality"))  # type: ignore[arg-type]
    service = worker_factory(service_class)
    message = envelope(approval_pb2.SubApprovalRequest(case_id="C1", step_id="org_code", department="quality"))
    service.handle(message)
    service.answering.process.assert_called_once_with(message)
    assert getattr(service_class, "name") == "quality_adapter"  # noqa: B009 - a class attribute nameko reads


def test_the_queue_is_the_departments_and_takes_its_requests_and_cancels():
    queue = department_queue("quality")
    assert queue.name == "hall.dept.quality" and queue.routing_key == "step.quality.*" and queue.durable
    assert getattr(department_queue("quality", declare=False), "no_declare")  # noqa: B009
