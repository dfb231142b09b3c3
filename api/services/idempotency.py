"""Idempotent requests: the first answer to an owner's ``Idempotency-Key``, replayed.

``POST /jobs``, ``POST /jobs/{job_id}/trigger`` and ``POST /chains`` take the header. The key is
claimed in the index (a row per owner and key, inserted before the request runs), so a retry
reaching another API replica, or arriving after a restart, finds it too:

- same key, same request (method, path, JSON body): the stored answer, with
  ``Idempotent-Replayed: true``; while the first is still in progress the retry waits for it
  (up to ``AGENT_SCHEDULER_IDEMPOTENCY_WAIT_SECONDS``, default 20), then gets a 409;
- same key, another request: a 409;
- only 2xx answers are stored: a refusal (4xx) releases the key, so a corrected request runs;
- a request that failed after it may have acted (5xx, a request cut short) leaves the key bound
  to it, and a claim whose request vanished (its API process died) is taken over by the same
  request after ``LEASE_SECONDS``. Either way the retry runs under the first attempt's resource
  id (the claim's ``resource_id``), so it completes what the first attempt left (the job's
  schedule, the run's row) instead of making a second job, run or chain;
- keys expire 24 hours after their first use: the tick deletes them, and a request with an
  expired key runs as new.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import Conflict, ServiceError
from api.core.index import idempotency as store
from domain.ids import new_id

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
# A key's first answer is replayed for this long after the key was first used.
KEY_TTL = timedelta(hours=24)
# Longer than any request may take (the 30 s request deadline): a claim older than this with no
# answer belongs to a request that will never answer.
LEASE_SECONDS = 60.0
# Printable ASCII, 1–255 characters, no space at either end (HTTP would strip it).
KEY_PATTERN = r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"
KEY_MAX_LENGTH = 255

Action = Callable[[str | None], Awaitable[tuple[BaseModel, bool]]]
"""A keyed request's work: given its resource id (None without a key), its answer and whether
it found the resource already made by an earlier attempt (the answer is then a replay)."""


def _number(text: str) -> int | float:
    """A JSON number written with a fraction or an exponent, as an int if it is one by value
    (``60.0``, ``6e1``), so that it prints as ``60`` does."""
    number = float(text)
    return int(number) if number.is_integer() else number


def _by_value(value: object) -> object:
    """``value`` with its numbers by value: read again through the JSON parser (rather than
    walked here, so a body as deeply nested as the route could read is read as deep)."""
    return json.loads(json.dumps(value), parse_float=_number)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(method: str, path: str, text: str) -> str:
    # A lone surrogate ("\ud800" in the JSON) is hashed as it is, not refused: any other text
    # encodes as it always has.
    return hashlib.sha256(f"{method} {path}\n{text}".encode("utf-8", "surrogatepass")).hexdigest()


def fingerprint(method: str, path: str, body: object | bytes) -> str:
    """What makes two requests "the same" (docs/api.md, "Idempotent requests"): method, path
    and the body's JSON value, as a SHA-256 hex digest.

    Two bodies are the same JSON value whatever their key order and whitespace, the escapes in
    their strings (``"\\u00e9"`` is ``"é"``), and the way they write a number (``60``, ``60.0``
    and ``6e1`` are one number, as the API reads them); ``"60"`` and ``true`` are not numbers.
    A body the route did not read (``bytes``) counts by its JSON value too, or by its text if it
    is not JSON.
    """
    if isinstance(body, bytes):
        try:
            value = json.loads(body, parse_float=_number)
        except (ValueError, RecursionError):
            return _digest(method, path, body.decode("utf-8", "replace"))
    else:
        value = _by_value(body)
    return _digest(method, path, _canonical(value))


def _legacy_fingerprint(method: str, path: str, body: object | bytes) -> str:
    """The fingerprint as the version before stored it: numbers as written, and a body the
    route did not read by its text."""
    if isinstance(body, bytes):
        return _digest(method, path, body.decode("utf-8", "replace"))
    return _digest(method, path, _canonical(body))


@dataclass(frozen=True)
class Fingerprint:
    """A request's fingerprint, and every one that a stored key's request equal to it may carry.

    Keys live 24 hours, so keys claimed before the fingerprint counted numbers by value are
    still stored after an upgrade, under the legacy fingerprint: the same request retried then
    must replay (or, if its claim was abandoned, take it over), not get a false 409. Its legacy
    fingerprint is the one it had then, so either is accepted; a new claim stores ``current``.
    The legacy one differs only for a body with a number like ``60.0`` or a body the route did
    not read; a stored ``60.0`` retried as ``60`` stays a 409, as it was before. (The fallback
    can go once no key is older than the upgrade, 24 hours on.)
    """

    current: str
    legacy: str

    @property
    def accepted(self) -> tuple[str, ...]:
        """The fingerprints a stored key of this same request may have."""
        return (self.current,) if self.legacy == self.current else (self.current, self.legacy)

    def matches(self, stored: str) -> bool:
        """Whether a key stored with ``stored`` was claimed by this same request."""
        return stored in self.accepted


# What a request without a key carries: it is never compared.
NO_FINGERPRINT = Fingerprint(current="", legacy="")


def request_fingerprint(method: str, path: str, body: object | bytes) -> Fingerprint:
    """The fingerprint of a request: ``body`` is its JSON as the route read it, else the raw
    bytes it was sent with."""
    return Fingerprint(
        current=fingerprint(method, path, body), legacy=_legacy_fingerprint(method, path, body)
    )


@dataclass(frozen=True)
class KeyedAnswer:
    """The answer to a keyed request: its status and JSON body as first sent; ``replayed`` when
    it is that first answer again (or the resource an earlier attempt made)."""

    status_code: int
    body: str
    replayed: bool


def _json_text(value: object) -> str:
    """``value`` as the answer's JSON body: compact, no NaN, and text UTF-8 can carry (a lone
    surrogate fails here, as sending it would, before it is stored)."""
    text = json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    )
    return text.encode("utf-8").decode()


@dataclass
class Idempotency:
    """One request's ``Idempotency-Key`` (``key`` None: the header was not sent)."""

    session: AsyncSession
    owner: str
    key: str | None
    fingerprint: Fingerprint
    now: datetime
    wait_seconds: float = 20.0

    async def run(self, status_code: int, action: Action) -> KeyedAnswer | BaseModel:
        """Run ``action`` once for the key: its answer (a model without a key, else the answer as
        stored under ``status_code``), or the first answer to the key.

        Raises:
            Conflict: The key was used for another request, or its first request is still in
                progress after ``wait_seconds``.
        """
        if self.key is None:
            return (await action(None))[0]
        claim = await self._claim(self.key)
        if isinstance(claim, KeyedAnswer):
            return claim
        try:
            result, found = await action(claim)
        except ServiceError as error:
            # Refused (4xx) before acting: the key is free for a corrected request. A 5xx may
            # have acted: the key stays with this request, for its retry to finish.
            await self._release(self.key, refused=error.status < 500)
            raise
        except BaseException:
            await self._release(self.key, refused=False)
            raise
        answer = KeyedAnswer(
            status_code, _json_text(result.model_dump(mode="json", by_alias=True)), replayed=found
        )
        await store.store_answer(
            self.session,
            owner=self.owner,
            key=self.key,
            status_code=status_code,
            response=answer.body,
        )
        await self.session.commit()
        return answer

    async def _claim(self, key: str) -> KeyedAnswer | str:
        """Claim the key (its resource id), or the first answer to it."""
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.02
        while True:
            # A fresh claim's resource id: a random id's suffix (``job_<resource id>``).
            fresh = new_id("r", 16).removeprefix("r_")
            claimed = await store.claim_key(
                self.session,
                owner=self.owner,
                key=key,
                fingerprint=self.fingerprint.current,
                now=self.now,
                resource_id=fresh,
            ) or await store.take_over_key(
                self.session,
                owner=self.owner,
                key=key,
                fingerprint=self.fingerprint.current,
                accepted=self.fingerprint.accepted,
                now=self.now,
                expired_before=self.now - KEY_TTL,
                abandoned_before=self.now - timedelta(seconds=LEASE_SECONDS),
                resource_id=fresh,
            )
            if claimed:
                await self.session.commit()
                return claimed
            row = await store.key_record(self.session, owner=self.owner, key=key)
            # Give the connection back while waiting: the first request may need it.
            await self.session.commit()
            if row is None:
                continue  # released or expired meanwhile: claim it again
            if not self.fingerprint.matches(row.fingerprint):
                raise Conflict(
                    f"{HEADER} '{key}' was already used for a different request "
                    "(another method, path or body) in the last 24 hours; use a new key"
                )
            if row.status_code is not None:
                return KeyedAnswer(row.status_code, row.response, replayed=True)
            if time.monotonic() > deadline:
                raise Conflict(
                    f"A request with {HEADER} '{key}' is still in progress; "
                    "retry it with the same key later"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)

    async def _release(self, key: str, *, refused: bool) -> None:
        """Free the key (``refused``), or leave it to this request's retry at once."""
        try:
            await self.session.rollback()
            if refused:
                await store.release_key(self.session, owner=self.owner, key=key)
            else:
                abandoned = self.now - timedelta(seconds=LEASE_SECONDS + 1)
                await store.abandon_key(self.session, owner=self.owner, key=key, since=abandoned)
            await self.session.commit()
        except Exception as error:  # noqa: BLE001 - the lease expires instead
            log.warning("could not release %s '%s': %s", HEADER, key, error)
