"""Fees: one window collects fees (一个窗口收费) — quotes and unified receipts in integer fen."""
