"""Hooks: signed event triggers of a job (docs/api.md, "Hooks").

A hook is an id and a secret. ``POST /hooks/{id}`` needs no API key: the delivery proves it
knows the secret, either by an HMAC-SHA256 of its raw body (``X-Signature-256: sha256=<hex>``,
GitHub's scheme; GitHub's own ``X-Hub-Signature-256`` is read too) or by sending the secret as
``Authorization: Bearer <secret>``. Both are compared in constant time. The secret is stored
as it is (an HMAC cannot be checked against a hash of its key).

A valid delivery starts a run through the same path as ``POST /jobs/{id}/trigger``
(:meth:`JobService.trigger_once`), with trigger ``hook`` and the body as the run's ``input``:
its JSON value, or its text when it is not JSON. A delivery id (``Idempotency-Key``,
``X-Delivery-Id`` or ``X-GitHub-Delivery``, the first sent) is claimed per hook through the
``Idempotency-Key`` machinery (:mod:`api.services.idempotency`), so a redelivery answers the
run the first delivery started, however many arrive at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from api.core.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServiceError,
    Unauthorized,
)
from api.core.index import hooks as store
from api.core.index.audit import Actor
from api.core.index.models import Hook
from api.schemas.hooks import HookCreated, HookPublic, HookRunAccepted, HooksPublic
from api.services.idempotency import (
    KEY_MAX_LENGTH,
    KEY_PATTERN,
    NO_FINGERPRINT,
    Idempotency,
    KeyedAnswer,
    request_fingerprint,
)
from api.services.jobs import JobService
from domain.ids import new_id
from domain.limits import MAX_DATA_DEPTH, depth, storable, storable_text

# The largest delivery body read (413 past it, before the rest is read).
MAX_BYTES = 256 * 1024
# A job has at most this many hooks (one per sender is the use).
MAX_HOOKS_PER_JOB = 20
SIGNATURE_HEADERS = ("X-Signature-256", "X-Hub-Signature-256")
# The first of these a delivery sends is its delivery id.
DELIVERY_HEADERS = ("Idempotency-Key", "X-Delivery-Id", "X-GitHub-Delivery")
_KEY = re.compile(KEY_PATTERN)


class PayloadTooLarge(ServiceError):
    code, status = "payload_too_large", 413


def signature(secret: str, body: bytes) -> str:
    """The ``X-Signature-256`` value of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(sent: str, expected: str) -> bool:
    return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode())


def authentic(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether a delivery carries a valid signature of ``body`` or the secret as a bearer."""
    expected = signature(secret, body)
    signed = [headers[name] for name in SIGNATURE_HEADERS if name in headers]
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else ""
    return any(_same(sent.strip().lower(), expected) for sent in signed) or (
        bool(bearer) and _same(bearer, secret)
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def delivery_input(body: bytes) -> Any:
    """The run's ``input`` of a delivery body: its JSON value, or its text (UTF-8, invalid bytes
    replaced) when it is not JSON; None for an empty body. Text no index can store (NUL, lone
    surrogates, NaN) is replaced as in a run's data.

    Raises:
        Invalid: JSON nested deeper than a run keeps.
    """
    if not body.strip():
        return None
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return storable_text(body.decode("utf-8", "replace"))[0]
    if depth(value) > MAX_DATA_DEPTH:
        raise Invalid(f"The delivery's JSON is nested more than {MAX_DATA_DEPTH} levels deep")
    return storable(value)[0]


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """The delivery's id: the first of ``DELIVERY_HEADERS`` sent, or None.

    Raises:
        Invalid: The id is not 1–255 printable ASCII characters.
    """
    for name in DELIVERY_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if len(value) > KEY_MAX_LENGTH or not _KEY.fullmatch(value):
            raise Invalid.field(name, "1 to 255 printable ASCII characters, no space at the ends")
        return value
    return None


Urls = Callable[[str], str]
"""The absolute URL of a path under the API (``/hooks/…``, ``/jobs/…``)."""


@dataclass
class HookService:
    """An owner's hooks, through the owner's jobs."""

    jobs: JobService
    urls: Urls

    async def create(self, job_id: str) -> HookCreated:
        """Make a hook of the owner's job; its secret is in this answer only.

        Raises:
            Forbidden: The caller's key has the limit ``no_trigger`` (a hook starts runs).
        """
        job = await self.jobs.owned(job_id)
        limits = self.jobs.guard.limits
        if limits is not None and limits.no_trigger:
            raise Forbidden("This key's limit no_trigger forbids making hooks: they start runs")
        if len(await store.list_hooks(self.jobs.session, job_id=job.id)) >= MAX_HOOKS_PER_JOB:
            raise Conflict(f"Job {job.id} already has {MAX_HOOKS_PER_JOB} hooks; delete one first")
        hook = Hook(
            id=new_id("hk", 16),
            job_id=job.id,
            owner=self.jobs.owner,
            secret="hks_" + secrets.token_urlsafe(32),
            created_at=self.jobs.now,
        )
        public = self.public(hook)
        await self.jobs.record("hook.create", job.id, target_id=hook.id)
        await store.add_hook(self.jobs.session, hook=hook)
        return HookCreated(**public.model_dump(), secret=hook.secret)

    async def list(self, job_id: str) -> HooksPublic:
        """The hooks of the owner's job (no secrets)."""
        job = await self.jobs.owned(job_id)
        rows = await store.list_hooks(self.jobs.session, job_id=job.id)
        return HooksPublic(hooks=[self.public(row) for row in rows], count=len(rows))

    async def delete(self, hook_id: str) -> None:
        """Remove the owner's hook: deliveries to it are 404 from now on."""
        hook = await store.get_hook(self.jobs.session, hook_id=hook_id, owner=self.jobs.owner)
        if hook is None:
            raise NotFound(f"Hook {hook_id} not found")
        await self.jobs.record("hook.delete", hook.job_id, target_id=hook.id)
        if not await store.delete_hook(self.jobs.session, hook_id=hook_id, owner=self.jobs.owner):
            raise NotFound(f"Hook {hook_id} not found")

    def public(self, hook: Hook) -> HookPublic:
        """The API view of a hook."""
        return HookPublic(
            id=hook.id,
            job_id=hook.job_id,
            url=self.urls(f"/hooks/{hook.id}"),
            created_at=hook.created_at,
        )


@dataclass
class HookDelivery:
    """One delivery to a hook: the raw body and headers as they arrived."""

    hook_id: str
    body: bytes
    headers: Mapping[str, str]
    path: str
    now: datetime
    wait_seconds: float

    async def deliver(
        self, session: Any, jobs_of: Callable[[str], JobService], urls: Urls
    ) -> KeyedAnswer | BaseModel:
        """Check the delivery and start its run (or find the run its id started).

        Args:
            session: The index session.
            jobs_of: The job operations of an owner (the hook's).
            urls: Absolute URLs under the API.

        Raises:
            NotFound: No such hook. Unauthorized: No valid signature or bearer secret.
            PayloadTooLarge: The body is over ``MAX_BYTES``. Conflict: The job is paused.
            Invalid: A bad delivery id, or JSON nested too deeply.
        """
        hook = await store.get_hook(session, hook_id=self.hook_id)
        if hook is None:
            raise NotFound(f"Hook {self.hook_id} not found")
        if not authentic(hook.secret, self.body, self.headers):
            raise Unauthorized(
                "Bad signature: send 'X-Signature-256: sha256=<hex HMAC-SHA256 of the body "
                "with the hook's secret>' or 'Authorization: Bearer <hook secret>'"
            )
        if len(self.body) > MAX_BYTES:
            raise PayloadTooLarge(f"The delivery body is over {MAX_BYTES} bytes")
        key = delivery_id(self.headers)
        value = delivery_input(self.body)
        jobs = jobs_of(hook.owner)
        jobs.actor = Actor("hook", hook.id)

        async def start(resource_id: str | None) -> tuple[HookRunAccepted, bool]:
            job = await jobs.owned(hook.job_id)
            if job.status == "paused":
                raise Conflict(f"Job {job.id} is paused; resume it to run it from its hooks")
            run_id, found = await jobs.trigger_once(
                job.id, resource_id=resource_id, trigger="hook", input=value
            )
            url = urls(f"/jobs/{job.id}/runs/{run_id}")
            return HookRunAccepted(run_id=run_id, job_id=job.id, run_url=url), found

        once = Idempotency(
            session=session,
            # Keyed per hook: two senders' ids never meet, nor an owner's own keys.
            owner=f"hook:{hook.id}",
            key=key,
            fingerprint=NO_FINGERPRINT
            if key is None
            else request_fingerprint("POST", self.path, self.body),
            now=self.now,
            wait_seconds=self.wait_seconds,
        )
        return await once.run(202, start)
