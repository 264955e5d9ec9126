"""Local tax (地税): tax registration. The rule is the tax law's, shared with the other tax
department: services/adapters/taxlaw/."""

from __future__ import annotations

from pathlib import Path

from services.adapters.taxlaw import TaxRegistration, registration_model

Registration = registration_model("local_tax")


class LocalTax(TaxRegistration):
    code = "local_tax"
    name = "地方税务局"
    migrations = Path(__file__).with_name("migrations")
    result_key = "local_tax_registration"
