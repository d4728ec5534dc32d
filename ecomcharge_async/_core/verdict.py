"""The one retry verdict: may a failed request be sent again, and how long to wait.

The retry middleware, the bulk import's pause and its reconciliation all ask
these functions, so a status or an error means the same thing everywhere.
"""

from __future__ import annotations

from typing import Literal

from .errors import APIConnectionError, APIError, ConnectError
from .http import Response

#: Methods that may be replayed after an ambiguous failure (RFC 9110 idempotent methods).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: Statuses that mean the request was not processed: retried for every method.
RETRIED_FOR_EVERY_METHOD = frozenset({408, 429, 503})
#: Statuses after which the request may have been processed: retried only if idempotent.
RETRIED_IF_IDEMPOTENT = frozenset({500, 502, 504})

#: `retry`: surely not processed, safe to send again whatever the method.
#: `unclear`: may have been processed: replay only an idempotent request, check
#: (reconcile) before sending a create again. `final`: sending again won't help.
Verdict = Literal["retry", "unclear", "final"]

Outcome = Response | BaseException


def verdict(outcome: Outcome) -> Verdict:
    """What a failed attempt (a non-2xx answer, or an error) means for sending it again."""
    status = outcome.status if isinstance(outcome, Response | APIError) else None
    if status is not None:
        if status in RETRIED_FOR_EVERY_METHOD:
            return "retry"
        return "unclear" if status in RETRIED_IF_IDEMPOTENT else "final"
    if isinstance(outcome, ConnectError):
        return "retry"  # the request surely never left
    return "unclear" if isinstance(outcome, APIConnectionError) else "final"


def is_retryable(method: str, outcome: Outcome) -> bool:
    """Whether this kind of failure may be retried for `method`, limits aside."""
    found = verdict(outcome)
    return found == "retry" or (found == "unclear" and method.upper() in IDEMPOTENT_METHODS)


def is_transient(outcome: Outcome) -> bool:
    """Whether this failure is worth a retry for some method (for a GET it is)."""
    return verdict(outcome) != "final"


def waits_too_long(server_wait: float | None, max_retry_after: float) -> bool:
    """A server's Retry-After above `max_retry_after`: not retried, the failure stands.

    The one meaning of `max_retry_after`, for the retry middleware and bulk imports.
    """
    return server_wait is not None and server_wait > max_retry_after
