"""How a delivery attempt failed: retry it, or give up at once."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

DELIVERY_REFUSED = "DeliveryRefused"
DELIVERY_FAILED = "DeliveryFailed"


def refused(message: str) -> ApplicationError:
    """A failure retrying cannot fix (bad target, not configured, 4xx): not retried."""
    return ApplicationError(message, type=DELIVERY_REFUSED, non_retryable=True)


def failed(message: str) -> ApplicationError:
    """A failure worth retrying (5xx, 429, timeouts, connection errors)."""
    return ApplicationError(message, type=DELIVERY_FAILED)
