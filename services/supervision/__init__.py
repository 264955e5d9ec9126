"""Supervision (电子监察): the deadline ledger of every case and step, and the warning ladder."""
