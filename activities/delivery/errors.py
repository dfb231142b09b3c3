"""How a delivery attempt failed: retry it, or give up at once.

Both are expected outcomes, not bugs: they are ``BENIGN`` for Temporal (its worker logs them at
DEBUG, without the WARNING traceback), and the delivery activity logs one line per failed
attempt instead. Any other exception is a bug and keeps Temporal's WARNING with its traceback.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from domain.contract.names import DELIVERY_FAILED, DELIVERY_REFUSED


def refused(message: str) -> ApplicationError:
    """A failure retrying cannot fix (bad target, not configured, 4xx): not retried."""
    return ApplicationError(
        message,
        type=DELIVERY_REFUSED,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )


def failed(message: str) -> ApplicationError:
    """A failure worth retrying (5xx, 429, timeouts, connection errors)."""
    return ApplicationError(message, type=DELIVERY_FAILED, category=ApplicationErrorCategory.BENIGN)
