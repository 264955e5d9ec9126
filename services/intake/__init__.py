"""Intake: the single window (一个窗口受理)."""
