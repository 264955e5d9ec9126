"""Sample requests for the conformance tests and this department's tests: the tax law's samples
(services/adapters/taxlaw/samples.py) addressed to this department."""

from services.adapters.taxlaw.samples import for_department

approvable, refusable, neighbours = for_department("national_tax")
