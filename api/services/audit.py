"""The audit log (docs/api.md, "Audit log"): who a change is recorded as, and the owner's
events read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.core.index import audit as store
from api.core.index.audit import Actor
from api.schemas.audit import AuditEventPublic, AuditEventsPublic
from api.services.access import Caller

# Fields a change always touches, which say nothing of what was changed.
_BOOKKEEPING = frozenset({"updated_at", "next_run_at"})


def actor_of(caller: Caller | None) -> Actor:
    """A key's caller as an actor; no caller (a call inside the system) is the system."""
    if caller is None:
        return Actor("system", "api")
    return Actor("key", caller.key_id, caller.key_name, caller.transport)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields that changed, each as ``{"before": …, "after": …}``."""
    return {
        field: {"before": before.get(field), "after": value}
        for field, value in after.items()
        if field not in _BOOKKEEPING and before.get(field) != value
    }


@dataclass
class AuditService:
    """The audit events of one owner."""

    session: AsyncSession
    owner: str

    async def list(
        self,
        *,
        job_id: str | None,
        actor: str | None,
        action: str | None,
        since: datetime | None,
        limit: int,
        offset: int,
    ) -> AuditEventsPublic:
        """A page of the owner's events, newest first."""
        rows, count = await store.list_events(
            self.session,
            owner=self.owner,
            job_id=job_id,
            actor=actor,
            action=action,
            since=since,
            limit=limit,
            offset=offset,
        )
        return AuditEventsPublic(
            events=[AuditEventPublic.model_validate(row, from_attributes=True) for row in rows],
            count=count,
        )
