"""Tax registration as the law has it (税收征收管理法 第十五条), shared by national tax (国税) and
local tax (地税): one law, two departments, two registers. Each tax department's folder holds
its code, name, register table and migrations; the rule lives here once."""

from services.adapters.taxlaw.registration import TaxRegistration, create_registration_table, registration_model

__all__ = ["TaxRegistration", "create_registration_table", "registration_model"]
