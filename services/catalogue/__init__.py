"""The public catalogue of matters and bundles: data in data/catalogue.json, rules in loader.py."""

from services.catalogue.loader import Catalogue, CatalogueError, Plan, PlanStep, limit_unit, load, load_versions

__all__ = ["Catalogue", "CatalogueError", "Plan", "PlanStep", "limit_unit", "load", "load_versions"]
