"""HTTP error helpers shared by the provider modules (no SDK imports here).

Each SDK module turns its own exceptions into a status, a detail and headers; the ladder from
an HTTP status to Parley's error classes (which decides what the router retries) is here, once.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.errors import (
    AuthenticationFailed,
    BadRequest,
    ProviderError,
    ProviderOverloaded,
    ProviderTimeout,
    RateLimited,
)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """How long the server asked us to wait, in seconds, or None.

    ``retry-after-ms`` (milliseconds, sent by OpenAI and Anthropic) wins over ``retry-after``
    (seconds). An HTTP-date ``retry-after`` is ignored: the router's own backoff applies.
    """
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / scale
        except ValueError:
            continue
        if value >= 0:
            return value
    return None


def error_for_status(
    status: int,
    detail: str,
    *,
    provider: str,
    label: str,
    key_hint: str,
    retry_after: float | None,
) -> ProviderError:
    """The error for an HTTP error status: retryable for 408, 429 and 5xx (529 included),
    final for the rest. Vendor-specific cases (spend limits, error types) come first, in the
    provider's own module."""
    if status == 401:
        return AuthenticationFailed(
            f"{label} rejected the API key. Check {key_hint}.",
            provider=provider,
            status_code=status,
        )
    retryable: dict[int, tuple[type[ProviderError], str]] = {
        429: (RateLimited, f"{label} is rate limiting requests: {detail}"),
        529: (ProviderOverloaded, f"{label} is overloaded: {detail}"),
        408: (ProviderTimeout, f"{label} timed out the request: {detail}"),
    }
    if status in retryable:
        cls, message = retryable[status]
        return cls(message, provider=provider, status_code=status, retry_after=retry_after)
    if status >= 500:
        return ProviderOverloaded(
            f"{label} had a server error ({status}): {detail}",
            provider=provider,
            status_code=status,
            retry_after=retry_after,
        )
    return BadRequest(
        f"{label} rejected the request ({status}): {detail}", provider=provider, status_code=status
    )
