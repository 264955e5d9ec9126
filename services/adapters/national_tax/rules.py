"""National tax (国税): tax registration under the tax law's rule (services/adapters/taxlaw/)."""

from pathlib import Path

from services.adapters.taxlaw import TaxRegistration


class NationalTax(TaxRegistration):
    code = "national_tax"
    name = "国家税务局"
    migrations = Path(__file__).with_name("migrations")
