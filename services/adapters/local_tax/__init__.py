"""Local tax (地税): tax registration."""

from services.adapters.local_tax.rules import LocalTax

DEPARTMENT = LocalTax
