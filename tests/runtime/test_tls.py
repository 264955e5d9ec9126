"""Mutual TLS as configuration (services/runtime/tls.py): with GRPC_TLS_* set, a server takes only
clients with a certificate of the hall's CA, a service is who its certificate names (no token
needed), a person still needs a token, and the kubelet's plaintext probe reaches health alone."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from hall.v1 import department_pb2, department_pb2_grpc
from services.runtime import auth
from services.runtime.grpc_client import channel
from services.runtime.grpc_server import GrpcServer, add_servicer
from tests.support import tokens
from tests.support.ports import free_port


def _cert(name: str, issuer_key, issuer_name, key, *, ca: bool = False):
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path, monkeypatch):
    """A CA and a certificate for each of `router` (the server) and `web` (a client); this process
    is the server's and, with `as_client`, the client's."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hall test CA")])
    ca = _cert("hall test CA", ca_key, ca_name, ca_key, ca=True)
    (tmp_path / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name in ("router", "web", "counter-a01"):
        key = ec.generate_private_key(ec.SECP256R1())
        (tmp_path / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (tmp_path / f"{name}.crt").write_bytes(_cert(name, ca_key, ca_name, key).public_bytes(serialization.Encoding.PEM))

    def use(name: str) -> None:
        monkeypatch.setenv("GRPC_TLS_CERT_FILE", str(tmp_path / f"{name}.crt"))
        monkeypatch.setenv("GRPC_TLS_KEY_FILE", str(tmp_path / f"{name}.key"))
        monkeypatch.setenv("GRPC_TLS_CA_FILE", str(tmp_path / "ca.crt"))

    return use


class Register(department_pb2_grpc.BusinessRegisterServiceServicer):
    def GetCompany(self, request, context):
        raise NotImplementedError

    def GetCompanies(self, request, context):
        caller = auth.current()
        return department_pb2.GetCompaniesResponse(companies={"caller": department_pb2.Company(
            credit_code=caller.subject if caller else "")})


def test_mutual_tls_names_the_service_and_refuses_a_client_without_a_certificate(pki, monkeypatch):
    pki("router")
    health_port = free_port()
    monkeypatch.setenv("GRPC_HEALTH_PORT", str(health_port))
    srv = GrpcServer(0, lambda s: [add_servicer(s, Register(), department_pb2_grpc)], audit=None, grace_s=1.0)
    srv.start()
    try:
        pki("web")
        target = f"localhost:{srv.port}"
        with channel(target, token="") as ch:  # a service: its certificate, no token
            got = department_pb2_grpc.BusinessRegisterServiceStub(ch).GetCompanies(
                department_pb2.GetCompaniesRequest(), timeout=10)
            assert got.companies["caller"].credit_code == "svc:web"
        with channel(target, token=tokens.clerk()) as ch:  # a person behind it: the token decides
            with pytest.raises(grpc.RpcError) as clerk:
                department_pb2_grpc.BusinessRegisterServiceStub(ch).GetCompanies(
                    department_pb2.GetCompaniesRequest(), timeout=10)
            assert clerk.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with grpc.secure_channel(target, grpc.ssl_channel_credentials(
                root_certificates=Path(os.environ["GRPC_TLS_CA_FILE"]).read_bytes())) as bare:
            with pytest.raises(grpc.RpcError) as nocert:
                department_pb2_grpc.BusinessRegisterServiceStub(bare).GetCompanies(
                    department_pb2.GetCompaniesRequest(), timeout=5)
            assert nocert.value.code() == grpc.StatusCode.UNAVAILABLE
        pki("counter-a01")  # a counter PC's certificate opens the connection, not the door
        with channel(target, token="") as ch:
            with pytest.raises(grpc.RpcError) as device:
                department_pb2_grpc.BusinessRegisterServiceStub(ch).GetCompanies(
                    department_pb2.GetCompaniesRequest(), timeout=10)
            assert device.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with grpc.insecure_channel(f"127.0.0.1:{health_port}") as probe:  # the kubelet's probe
            status = health_pb2_grpc.HealthStub(probe).Check(health_pb2.HealthCheckRequest(), timeout=5).status
            assert status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.RpcError) as only_health:
                department_pb2_grpc.BusinessRegisterServiceStub(probe).GetCompanies(
                    department_pb2.GetCompaniesRequest(), timeout=5)
            assert only_health.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        srv.stop()
