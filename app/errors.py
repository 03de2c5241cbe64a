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
        ├── AuthenticationFailed    bad or missing key                  (final)
        ├── BadRequest              the provider rejected the request   (final)
        └── StreamInterrupted       the stream broke or was malformed   (retryable)

SDK-specific exceptions are mapped onto this tree inside each provider's own module.
"""

from __future__ import annotations


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
