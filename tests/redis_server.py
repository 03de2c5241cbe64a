"""The test Redis: its address, and one check that skips a test when none answers (or fails
it, with ``PARLEY_REQUIRE_REDIS`` set, as CI does)."""

from __future__ import annotations

import os

import pytest

REDIS_URL = os.environ.get("PARLEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("PARLEY_REQUIRE_REDIS", "") not in ("", "0", "false")


def require_redis() -> str:
    """The test Redis's URL, once it answers a PING; else skip the test, or fail it when
    ``PARLEY_REQUIRE_REDIS`` is set."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except Exception as exc:
        reason = f"Redis at {REDIS_URL} is not reachable: {exc}"
        if REQUIRE_REDIS:
            pytest.fail(f"PARLEY_REQUIRE_REDIS is set but {reason}")
        pytest.skip(reason)
    finally:
        client.close()
    return REDIS_URL
