"""National tax (国税): tax registration. The rule is the tax law's, shared with the other tax
department: services/adapters/taxlaw/."""

from __future__ import annotations

from pathlib import Path

from services.adapters.taxlaw import TaxRegistration, registration_model

Registration = registration_model("national_tax")


class NationalTax(TaxRegistration):
    code = "national_tax"
    name = "国家税务局"
    migrations = Path(__file__).with_name("migrations")
    result_key = "national_tax_registration"
