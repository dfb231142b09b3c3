"""How ``--help`` shows parameters, in the usual terminal convention.

Typer 0.29 prints every option's type, a flag's included (``--yes <bool>``, which reads as if
the flag took a value), and a required argument in braces (``{job_id}``). Here a flag shows no
type and a required argument its bare name; arguments pass ``metavar`` (``JOB_ID``).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption

_option_type = TyperOption.display_type_rich
_argument_usage = TyperArgument._usage_display_name


def _no_type_for_flags(self: TyperOption, ctx: Any) -> str | None:
    return None if self.is_flag else _option_type(self, ctx)


def _bare_required_argument(self: TyperArgument) -> str:
    shown = _argument_usage(self)
    return shown[1:-1] if self.required and shown.startswith("{") else shown


def plain_help() -> None:
    """Apply these to every ``--help`` of this process (idempotent)."""
    TyperOption.display_type_rich = _no_type_for_flags  # type: ignore[method-assign]
    TyperArgument._usage_display_name = _bare_required_argument  # type: ignore[method-assign]
