"""The platform services' process (intake, router, fees, audit): the runtime's ServiceProcess
with the suite's facts that the runtime does not know: the service's default port, its
migrations, and the departments whose queues the broker layout holds."""

from __future__ import annotations

from pathlib import Path

from services.adapters import registry
from services.catalogue import Catalogue
from services.ports import PLATFORM_PORTS
from services.runtime.config import ConfigError
from services.runtime.process import ServiceProcess

SERVICES = Path(__file__).resolve().parent


def process(service: str) -> ServiceProcess:
    return ServiceProcess(service, default_grpc_port=PLATFORM_PORTS[service],
                          migrations=SERVICES / service / "migrations", departments=registry.codes())


def check_departments(catalogue: Catalogue) -> None:
    """Every department a matter names has an adapter in the registry (else its steps would have
    no queue to go to): the service refuses to start otherwise."""
    missing = sorted(set(catalogue.departments) - set(registry.codes()))
    if missing:
        raise ConfigError(f"the catalogue names departments the registry ({registry.registry_file()}) "
                          f"does not list: {', '.join(missing)}")
