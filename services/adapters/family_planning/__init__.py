"""Family planning (计生): birth registration on the spot, rules as dated data."""

from services.adapters.family_planning.rules import FamilyPlanning

DEPARTMENT = FamilyPlanning
