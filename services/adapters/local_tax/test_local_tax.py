# mypy: allow-untyped-defs
"""The local tax (地税) department: the tax law's registration (tested in
services/adapters/taxlaw/) under this department's code, register and result."""

from services.adapters.sdk.settings import division_code
from services.adapters.taxlaw.samples import ORG, register_sample


def test_registers_the_taxpayer_under_its_own_result(make_core):
    assert register_sample(make_core, "local_tax") == {"local_tax_registration": division_code() + ORG}
