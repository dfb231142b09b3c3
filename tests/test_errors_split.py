"""The plain error hierarchy and the Temporal helpers import without FastAPI."""

from __future__ import annotations

import subprocess
import sys

from temporalio.service import RPCError, RPCStatusCode

from api.core.temporal import is_not_found, missing_ok


def test_worker_side_infrastructure_imports_without_fastapi() -> None:
    code = (
        "import sys, api.core.errors, api.core.temporal, activities.runs\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette'))\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


async def _raise(status: RPCStatusCode) -> str:
    raise RPCError("boom", status, b"")


async def _value() -> str:
    return "here"


async def test_missing_ok_gives_none_only_for_not_found() -> None:
    assert await missing_ok(_value()) == "here"
    assert await missing_ok(_raise(RPCStatusCode.NOT_FOUND)) is None
    try:
        await missing_ok(_raise(RPCStatusCode.UNAVAILABLE))
    except RPCError as exc:
        assert exc.status == RPCStatusCode.UNAVAILABLE
        assert not is_not_found(exc)
    else:
        raise AssertionError("a non-NOT_FOUND error must be raised")
