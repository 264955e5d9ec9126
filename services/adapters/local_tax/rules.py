"""Local tax (地税): tax registration under the tax law's rule (services/adapters/taxlaw/)."""

from pathlib import Path

from services.adapters.taxlaw import TaxRegistration


class LocalTax(TaxRegistration):
    code = "local_tax"
    name = "地方税务局"
    migrations = Path(__file__).with_name("migrations")
