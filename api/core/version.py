"""The version of agent-scheduler: the installed package's, set once in ``pyproject.toml``."""

from __future__ import annotations

from importlib.metadata import version

VERSION = version("agent-scheduler")
