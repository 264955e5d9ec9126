"""Planning (规划): construction planning permits checked against the parcel's zoning."""

from services.adapters.planning.rules import Planning

DEPARTMENT = Planning
