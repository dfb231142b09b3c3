"""Key routes (docs/api.md, "Keys and scopes"): an admin key manages its owner's keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from api.deps import CallerDep, NowDep, OwnerDep, SessionDep
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.keys import KeyCreate, KeyCreated, KeyPublic, KeysPublic
from api.services import keys as key_service
from api.services.audit import actor_of
from domain.inputs import Text

router = APIRouter(route_class=JsonRoute, tags=["keys"], responses=ERROR_RESPONSES)

ADMIN = {"x-scope": "admin"}
KeyId = Annotated[Text, Path(description="A key id (`key_…`).")]


@router.get("/keys", response_model=KeysPublic, openapi_extra=ADMIN)
async def list_keys(owner: OwnerDep, session: SessionDep) -> KeysPublic:
    """The owner's keys, newest first (never their secrets)."""
    return await key_service.list_page(session, owner=owner)


# Not under /keys: /keys/{key_id} would also match it.
@router.get("/key", response_model=KeyPublic)
async def current_key(caller: CallerDep, session: SessionDep) -> KeyPublic:
    """The key making the request: its scope, limits and expiry (any scope may ask)."""
    return await key_service.current(session, caller=caller)


@router.post(
    "/keys", status_code=status.HTTP_201_CREATED, response_model=KeyCreated, openapi_extra=ADMIN
)
async def create_key(
    body: KeyCreate, caller: CallerDep, session: SessionDep, now: NowDep
) -> KeyCreated:
    """Create a key of the owner (its secret is shown only in this answer); `replaces` rotates
    one."""
    row, plaintext = await key_service.create(
        session, owner=caller.owner, body=body, now=now, actor=actor_of(caller)
    )
    return key_service.created(row, plaintext)


@router.delete("/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=ADMIN)
async def revoke_key(key_id: KeyId, caller: CallerDep, session: SessionDep) -> Response:
    """Revoke one of the owner's keys: requests with it answer 401 from now on."""
    await key_service.revoke(session, owner=caller.owner, key_id=key_id, actor=actor_of(caller))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
