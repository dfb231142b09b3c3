"""Liveness probe: the one route without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The process answers."""

    status: str = "ok"


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Answer while the process is up (no dependency is checked)."""
    return Health()
