"""gRPC bootstrap: health, reflection, typed errors, and a graceful stop that lets calls finish."""

import threading
import time

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from hall.v1 import router_pb2, router_pb2_grpc
from services.router.servicer import RouterServicer
from services.runtime.errors import NotFound
from services.runtime.grpc_client import channel
from services.runtime.grpc_server import GrpcServer, add_servicer
from tests.support import tokens


class SlowEngine:
    """Stands in for the router's engine: ListIncidents takes a while, GetCase finds nothing."""

    def __init__(self):
        self.entered = threading.Event()

    def incidents(self):
        self.entered.set()
        time.sleep(1.0)
        return []

    def case(self, case_id):
        raise NotFound(f"case {case_id} not found", resource_type="hall.v1.Case", resource_name=case_id)


@pytest.fixture
def server():
    engine = SlowEngine()
    servicer = RouterServicer(engine)  # type: ignore[arg-type]
    srv = GrpcServer(0, lambda s: [add_servicer(s, servicer, router_pb2_grpc)], audit=None,
                     grace_s=5.0, service="test")
    srv.start()
    yield srv, engine
    srv.stop()


def test_typed_errors_carry_details(server):
    srv, _ = server
    with channel(f"127.0.0.1:{srv.port}", token=tokens.operator()) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetCase(router_pb2.GetCaseRequest(case_id="C404"), timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        info = error_details_pb2.ResourceInfo()
        status = rpc_status.from_call(err.value)  # type: ignore[arg-type]
        assert status.details[0].Unpack(info) and info.resource_name == "C404"
        with pytest.raises(grpc.RpcError) as err:
            stub.GetCase(router_pb2.GetCaseRequest(), timeout=5)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_stop_reports_not_serving_and_lets_the_call_in_flight_finish(server):
    srv, engine = server
    result = {}
    with channel(f"127.0.0.1:{srv.port}", token=tokens.operator()) as ch:
        stub = router_pb2_grpc.RouterServiceStub(ch)
        health = health_pb2_grpc.HealthStub(ch)
        assert health.Check(health_pb2.HealthCheckRequest(service="hall.v1.RouterService"),
                            timeout=5).status == health_pb2.HealthCheckResponse.SERVING

        def call():
            result["response"] = stub.ListIncidents(router_pb2.ListIncidentsRequest(), timeout=10)

        caller = threading.Thread(target=call)
        caller.start()
        assert engine.entered.wait(5)
        stopper = threading.Thread(target=srv.stop)
        stopper.start()
        time.sleep(0.2)
        assert srv.health._server_status[""] == health_pb2.HealthCheckResponse.NOT_SERVING
        caller.join(10)
        stopper.join(10)
    assert "response" in result  # finished normally during the grace period


class Records:
    """Stands in for the audit emitter: keeps the call records."""

    service = "test"

    def __init__(self):
        self.records = []

    def record(self, **fields):
        self.records.append(fields)


def test_a_call_made_for_several_cases_is_recorded_in_each_cases_timeline():
    from hall.v1 import department_pb2, department_pb2_grpc
    from services.runtime.grpc_server import served_case

    class Register(department_pb2_grpc.BusinessRegisterServiceServicer):
        def GetCompany(self, request, context):
            raise NotImplementedError

        def GetCompanies(self, request, context):
            for q in request.queries:
                served_case(q.case_id, q.actor_id, "OK" if q.credit_code == "known" else "NOT_FOUND")
            return department_pb2.GetCompaniesResponse()

    audit = Records()
    srv = GrpcServer(0, lambda s: [add_servicer(s, Register(), department_pb2_grpc)], audit=audit,  # type: ignore[arg-type]
                     grace_s=1.0, service="test")
    srv.start()
    try:
        with channel(f"127.0.0.1:{srv.port}", token=tokens.service("adapter-national_tax")) as ch:
            department_pb2_grpc.BusinessRegisterServiceStub(ch).GetCompanies(department_pb2.GetCompaniesRequest(queries=[
                department_pb2.CompanyQuery(credit_code="known", case_id="C1", actor_id="clerk-1"),
                department_pb2.CompanyQuery(credit_code="other", case_id="C2")]), timeout=5)
    finally:
        srv.stop()
    method = "/hall.v1.BusinessRegisterService/GetCompanies"
    assert [(r["operation"], r.get("case_id"), r.get("actor_id"), r["outcome"]) for r in audit.records] == [
        (method, None, None, "OK"), (method, "C1", "clerk-1", "OK"), (method, "C2", "", "NOT_FOUND")]
    with pytest.raises(RuntimeError):
        served_case("C3")  # outside a call there is no call to record
