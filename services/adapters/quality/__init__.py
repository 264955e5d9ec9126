"""Quality and technical supervision (质监): organisation code certificates (GB 11714)."""

from services.adapters.quality.rules import QualityInspection

DEPARTMENT = QualityInspection
