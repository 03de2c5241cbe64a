"""The pure rules of credentials: the session cookie and its token, email addresses,
display names, password rules and hashing parameters, and the account pages' messages."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.errors import InvalidInput, ParleyError, SignInFailed

SESSION_COOKIE = "parley_session"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # Argon2 takes any length; this bounds the work one request can ask for


def default_hasher() -> PasswordHash:
    """Argon2id with OWASP's minimum (19 MiB, 2 passes, 1 lane). pwdlib's default (64 MiB,
    3 passes, 4 lanes) took 1.7 s to hash and 1.1 s to verify on the shared 2-core machine
    (load ~15); this took 0.17 s and 0.16 s. Hashes made with other parameters still verify,
    and are upgraded at the next login."""
    return PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1),))


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

# What the account pages may say, by the code the HTTP routes put in ``?error=``. Pages show
# only these texts, so a crafted link cannot put words on a Parley page.
AUTH_ERRORS: dict[str, str] = {
    "signin": SignInFailed.user_message,
    "signin-needed": "Sign in first.",
    "disabled": "That account is disabled.",
    "email": "Enter an email address like name@example.com.",
    "short": f"Choose a password of at least {MIN_PASSWORD} characters.",
    "long": f"Choose a password of at most {MAX_PASSWORD} characters.",
    "same": "Choose a password that is not your email address.",
    "mismatch": "The two passwords differ. Type the same password twice.",
    "taken": "An account with that email already exists. Log in instead.",
    "closed": "Sign-up is closed here. Ask an admin for an account.",
    "invite": "Sign-up needs a valid invitation code from an admin.",
    "current": "The current password is not right.",
    "unverified": "Your identity provider has not verified that email.",
    "no-email": "Your identity provider did not share an email address.",
    "oidc": "Single sign-on failed. Try again, or sign in with your password.",
    "origin": "That form came from another site, so it was refused. Try again from here.",
    "large": "That form is too large. Shorten what you typed.",
    "failed": "That did not work. Try again.",
    # With ?retry=<seconds> the page says how long (app/guards/login.py's limited_message).
    "limited": "Too many failed sign-in attempts. For your account's safety, wait a little, "
    "then try again.",
}
_CODES = {text: code for code, text in AUTH_ERRORS.items()}


def error_code(exc: ParleyError) -> str:
    """The ``?error=`` code for an account error (``failed`` for anything unexpected)."""
    return _CODES.get(exc.message, "failed")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_from_cookie_header(cookie_header: str | None) -> str | None:
    """The session token in a ``Cookie`` header, or None. Tolerant of malformed cookies
    (a bad neighbour must not sign the user out), strict about the token's own shape."""
    if not cookie_header:
        return None
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and 20 <= len(value) <= 100 and value.isascii():
            return value
    return None


def normalise_email(email: str) -> str:
    cleaned = unicodedata.normalize("NFKC", email).strip().lower()
    if len(cleaned) > 254 or not _EMAIL.fullmatch(cleaned):
        raise InvalidInput(AUTH_ERRORS["email"])
    return cleaned


def clean_display_name(name: str, email: str) -> str:
    """Printable text of at most 100 characters; the email's local part when empty."""
    cleaned = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return (cleaned or email.split("@", 1)[0])[:100]


def check_password(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(AUTH_ERRORS["short"])
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(AUTH_ERRORS["long"])
    if password.strip().lower() == email:
        raise InvalidInput(AUTH_ERRORS["same"])
