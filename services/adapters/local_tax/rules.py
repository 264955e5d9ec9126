"""Local tax (地税): tax registration. Rules shared with the other tax department live in services/adapters/taxreg.py."""

from __future__ import annotations

from pathlib import Path

from services.adapters.taxreg import TaxRegistration, registration_model

Registration = registration_model("local_tax")


class LocalTax(TaxRegistration):
    code = "local_tax"
    name = "地方税务局"
    migrations = Path(__file__).with_name("migrations")
    result_key = "local_tax_registration"
    model = Registration
