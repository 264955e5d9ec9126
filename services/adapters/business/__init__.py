"""Business registration (工商): company names, licences and unified social credit codes."""

from services.adapters.business.rules import BusinessRegistration

DEPARTMENT = BusinessRegistration
