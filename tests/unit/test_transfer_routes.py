"""The export download route through a real ASGI client: the owner gets JSON and Markdown,
another user and nobody get the same 404 as an unknown id, before any byte of the file."""

from __future__ import annotations

import json

from sqlalchemy import Engine
from starlette.applications import Starlette

from app.services.accounts import SESSION_COOKIE, AccountService
from app.services.transfer import TransferService
from app.web.auth_routes import auth_app
from app.web.transfer import export_url, transfer_app
from tests.unit.test_accounts import service
from tests.unit.test_auth_routes import browser, sign_up
from tests.unit.test_transfer import build_tree, project_of


async def test_exports_reach_only_their_readers(engine: Engine) -> None:
    accounts: AccountService = service(engine)
    transfer = TransferService(engine)
    web = Starlette(
        routes=[
            *auth_app(lambda: accounts, allowed_origins=lambda: ()).routes,
            *transfer_app(lambda: transfer, lambda: accounts).routes,
        ]
    )
    with browser(web) as ada, browser(web) as bob, browser(web) as nobody:
        sign_up(ada, "ada@example.com")
        sign_up(bob, "bob@example.com")
        ada_p = await accounts.resolve(ada.cookies[SESSION_COOKIE])
        assert ada_p is not None
        conversation_id = build_tree(engine, ada_p)
        project = project_of(ada_p)
        urls = [
            export_url("conversation", conversation_id, "json"),
            export_url("project", project, "json"),
            export_url("all", fmt="json"),
        ]
        for url in urls:
            response = ada.get(url)
            assert response.status_code == 200, url
            assert response.headers["content-type"] == "application/json"
            assert response.headers["content-disposition"].startswith("attachment; filename=")
            (exported,) = response.json()["conversations"]
            assert exported["id"] == conversation_id and len(exported["messages"]) == 5
        markdown = ada.get(export_url("conversation", conversation_id, "md"))
        assert markdown.status_code == 200 and markdown.text.startswith("# Tides")

        missing = ada.get(export_url("conversation", "0" * 32, "json"))
        assert missing.status_code == 404
        for other in (bob, nobody):
            for url in urls[:2]:
                response = other.get(url)
                assert (response.status_code, response.text) == (404, missing.text)
        assert nobody.get(urls[2]).status_code == 404
        assert json.loads(bob.get(urls[2]).text)["conversations"] == []
        for bad in ("/_parley/export/all.exe", "/_parley/export/user/x.json", "/_parley/export/x"):
            assert ada.get(bad).status_code == 404
