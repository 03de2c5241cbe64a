"""``python -m app.db.migrate [upgrade|revision MESSAGE]``: apply or write migrations."""

from __future__ import annotations

import sys

from alembic import command

from app.db.session import alembic_config, migrate
from app.settings import get_settings


def main(argv: list[str]) -> int:
    url = get_settings().resolved_database_url
    if not argv or argv[0] == "upgrade":
        migrate(url)
        return 0
    if argv[0] == "revision" and len(argv) == 2:
        migrate(url)
        command.revision(alembic_config(url), message=argv[1], autogenerate=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
