"""Delivery routes: the caller's webhook signing secret, the dev outbox."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Limit, Offset, OwnerDep, SessionDep, StateDep
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.delivery import OutboxPage
from api.services.delivery import WebhookSecret, outbox_page, webhook_secret

router = APIRouter(
    route_class=JsonRoute, prefix="/delivery", tags=["delivery"], responses=ERROR_RESPONSES
)


# A secret: not for a read key (docs/api.md, "Keys and scopes").
@router.get("/webhook-secret", response_model=WebhookSecret, openapi_extra={"x-scope": "write"})
async def get_webhook_secret(owner: OwnerDep, state: StateDep) -> WebhookSecret:
    """The secret that signs your `webhook:` deliveries (verify `X-Agent-Scheduler-Signature`)."""
    return webhook_secret(state.settings, owner)


@router.get("/outbox", response_model=OutboxPage)
async def get_outbox(
    owner: OwnerDep, state: StateDep, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> OutboxPage:
    """Deliveries kept instead of sent because their provider is not configured (only when the
    server sets `DEV_OUTBOX`, as `agent-scheduler dev` does), rendered per channel."""
    return await outbox_page(session, state.settings, owner=owner, limit=limit, offset=offset)
