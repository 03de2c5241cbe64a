"""A Parley process to be killed mid-reply: the crash-safety test runs it as a subprocess.

It builds the chat service from the environment (DATABASE_URL, PARLEY_FAKE_SCRIPT), posts one
message to the scripted model and streams its reply, printing JSON lines: first
``{"reply_id": N}``, then ``{"chars": n}`` (the text streamed so far) every 50 ms. The test
kills it with SIGKILL; nothing here cleans up, as nothing would after a real crash.
"""

from __future__ import annotations

import asyncio
import json
import sys

from app.db.session import migrate
from app.services.wiring import build_chat_service
from app.settings import Settings


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def main() -> None:
    settings = Settings()
    migrate(settings.resolved_database_url)
    service = build_chat_service(settings)
    posted = await service.post_message(None, "a long one, please", model="fake")
    reply_id = posted.reply.id
    say(reply_id=reply_id)
    streaming = asyncio.create_task(service.stream_reply(reply_id))
    while not streaming.done():
        say(chars=len(service.replies.so_far(reply_id).text))
        await asyncio.sleep(0.05)
    say(done=True)


if __name__ == "__main__":
    asyncio.run(main())
