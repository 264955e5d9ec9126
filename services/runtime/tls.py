"""TLS for gRPC, as configuration: every server and channel of a process reads the same files.

  GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE  this process's certificate (its common name is the
                                         service, e.g. `intake`) and private key
  GRPC_TLS_CA_FILE                       the hall's CA: servers require and verify client
                                         certificates signed by it (mutual TLS), channels
                                         verify servers with it
Unset (development, `make run`): plaintext, and services prove themselves with service tokens
instead. The production overlay mounts the three from the Secret hall-grpc-tls-<service>.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import grpc

from services.runtime.config import ConfigError


@dataclass(frozen=True)
class TlsFiles:
    cert: bytes
    key: bytes
    ca: bytes


def _read(name: str) -> bytes:
    path = os.environ.get(name, "")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise ConfigError(f"{name}={path!r}: {err.strerror}") from None


def configured() -> TlsFiles | None:
    names = ("GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE", "GRPC_TLS_CA_FILE")
    present = [n for n in names if os.environ.get(n)]
    if not present:
        return None
    if len(present) != len(names):
        raise ConfigError(f"TLS needs all of {', '.join(names)}; only {', '.join(present)} set")
    return TlsFiles(*(_read(n) for n in names))


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Mutual TLS: a client without a certificate of the hall's CA is refused at the handshake."""
    return grpc.ssl_server_credentials([(files.key, files.cert)], root_certificates=files.ca,
                                       require_client_auth=True)


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=files.ca, private_key=files.key,
                                        certificate_chain=files.cert)
