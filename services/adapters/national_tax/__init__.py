"""National tax (国税): tax registration."""

from services.adapters.national_tax.rules import NationalTax

DEPARTMENT = NationalTax
