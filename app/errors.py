"""Parley's exception tree. Every error carries a message a user can act on.

    ParleyError
    ├── InvalidInput            bad input from the user; nothing was sent
    ├── NotFound                a conversation or message that does not exist (or is not
    │                           the caller's to see: foreign ids look like unknown ones)
    ├── NotSignedIn             no valid session: sign in first
    │   └── SignInFailed        a wrong email or password, or a disabled account
    ├── Forbidden               signed in, and may see it, but may not do that
    └── ProviderError           anything that went wrong talking to a model
        ├── ProviderUnavailable     not configured, or the model cannot be loaded
        ├── ProviderConnectionError could not reach the provider        (retryable)
        ├── ProviderTimeout         a timeout budget ran out            (retryable)
        ├── RateLimited             429; may carry retry_after          (retryable)
        ├── ProviderOverloaded      5xx / 529 / overloaded_error        (retryable)
        │   └── ModelBusy               the built-in model's queue is full; answered at once
        ├── AuthenticationFailed    bad or missing key                  (final)
        ├── BadRequest              the provider rejected the request   (final)
        ├── StreamInterrupted       the stream broke or was malformed   (retryable)
        └── Refused                 a guard refused the call; nothing was sent (final)
            ├── LimitExceeded           a rate or concurrency limit; says when to retry
            ├── BudgetExceeded          the call could cross a budget; carries the figures
            └── Flagged                 moderation flagged the input; carries the reason

``Refused`` sits under ``ProviderError`` so a refusal travels the same road as any failed call
(``with_error_event``, the chat service's error handling) and is never retried or failed over.
:func:`public_error` turns an unexpected exception into a generic message with a reference id;
the detail goes to the server log only.

SDK-specific exceptions are mapped onto this tree inside each provider's own module.
"""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal

_log = logging.getLogger("parley.errors")


class ParleyError(Exception):
    """Base of every error Parley raises on purpose."""

    user_message: str = "Something went wrong."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.user_message)

    @property
    def message(self) -> str:
        return str(self)


class InvalidInput(ParleyError):
    user_message = "That input is not valid."


class NotFound(ParleyError):
    user_message = "Not found."


class NotSignedIn(ParleyError):
    user_message = "Sign in first."


class SignInFailed(NotSignedIn):
    user_message = "That email and password do not match an account."


class Forbidden(ParleyError):
    user_message = "You are not allowed to do that."


class ProviderError(ParleyError):
    user_message = "The model provider failed."
    retryable: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str = "",
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    user_message = "That model is not available. Check its configuration."


class ProviderConnectionError(ProviderError):
    user_message = "Could not reach the model provider."
    retryable = True


class ProviderTimeout(ProviderError):
    user_message = "The model took too long to answer."
    retryable = True


class RateLimited(ProviderError):
    user_message = "The model provider is rate limiting requests. Try again shortly."
    retryable = True


class ProviderOverloaded(ProviderError):
    user_message = "The model provider is overloaded. Try again shortly."
    retryable = True


class AuthenticationFailed(ProviderError):
    user_message = "The provider rejected the API key. Check the key in your environment."


class BadRequest(ProviderError):
    user_message = "The provider rejected the request."


class StreamInterrupted(ProviderError):
    user_message = "The reply stream broke off."
    retryable = True


class ModelBusy(ProviderOverloaded):
    user_message = "The built-in model is busy with other replies. Try again in a moment."


class Refused(ProviderError):
    """A guard (rate limit, budget, moderation) refused the call before anything was sent."""

    user_message = "That request was refused."


class LimitExceeded(Refused):
    """A rate or concurrency limit. ``retry_after`` (seconds) says when to try again."""

    user_message = "Too many requests. Try again shortly."

    def __init__(self, message: str | None = None, *, retry_after: float, limit: str) -> None:
        super().__init__(message, retry_after=max(0.0, retry_after))
        self.limit = limit  # which limit, e.g. "requests per minute per user"


class BudgetExceeded(Refused):
    """This call's worst case would cross a monthly budget. The figures say by how much."""

    user_message = "This request would go over the monthly budget."

    def __init__(
        self,
        message: str | None = None,
        *,
        scope: str,
        unit: str,
        spent: Decimal,
        limit: Decimal,
        worst_case: Decimal,
    ) -> None:
        super().__init__(message)
        self.scope = scope  # "user" or "project"
        self.unit = unit  # "usd" or "tokens"
        self.spent = spent
        self.limit = limit
        self.worst_case = worst_case


class Flagged(Refused):
    """Moderation flagged the input; ``categories`` says why."""

    user_message = "The message was flagged by moderation and was not sent."

    def __init__(self, message: str | None = None, *, categories: tuple[str, ...]) -> None:
        super().__init__(message)
        self.categories = categories


def public_error(exc: BaseException, *, log: logging.Logger | None = None) -> str:
    """A generic message for an unexpected error, with a reference id; the detail (type,
    text, traceback) goes to the server log under the same id, never to the user."""
    ref = secrets.token_hex(4)
    (log or _log).error("internal error ref=%s", ref, exc_info=exc)
    return f"Something went wrong on the server (reference {ref})."
