"""Audit: an append-only, hash-chained record of every call and message, per case."""
