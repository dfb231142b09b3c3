"""Delivery routes: the caller's webhook signing secret."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import OwnerDep, StateDep
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute
from api.services.delivery import WebhookSecret, webhook_secret

router = APIRouter(
    route_class=JsonRoute, prefix="/delivery", tags=["delivery"], responses=ERROR_RESPONSES
)


@router.get("/webhook-secret", response_model=WebhookSecret)
async def get_webhook_secret(owner: OwnerDep, state: StateDep) -> WebhookSecret:
    """The secret that signs your `webhook:` deliveries (verify `X-Agent-Scheduler-Signature`)."""
    return webhook_secret(state.settings, owner)
