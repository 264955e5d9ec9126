# mypy: allow-untyped-defs
"""The national tax (国税) department: the tax law's registration (services/adapters/taxlaw/, tested
there) under this department's code, register and result."""

from hall.v1 import approval_pb2
from services.adapters.sdk.settings import division_code
from services.adapters.sdk.testing import envelope, only_decision, request
from services.adapters.taxlaw import samples
from services.adapters.taxlaw.fake_register import InMemoryRegister


def test_registers_the_taxpayer_under_its_own_result(make_core):
    core = make_core("national_tax", register=InMemoryRegister(samples.COMPANIES))
    d = only_decision(core.handle(envelope(request("national_tax", "national_tax", like=samples.approvable("national_tax")))))
    assert (d.outcome, dict(d.results)) == (approval_pb2.OUTCOME_APPROVED,
                                            {"national_tax_registration": division_code() + samples.ORG})
