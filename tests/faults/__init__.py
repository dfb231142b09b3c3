"""Fault cases with real processes (see README.md here); run with ``make faults``."""
