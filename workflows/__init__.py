"""Workflows: deterministic orchestration only; every I/O happens in activities."""
