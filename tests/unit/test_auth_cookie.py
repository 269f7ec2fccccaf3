"""Where a request's token is read: the bearer header first, else the browser's cookie; and
which paths are open without one (the pages' static files, never the API)."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.auth import TOKEN_COOKIE, Authentication, token_of
from services.common.web import mount_page


def _scope(*headers: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
    }


def test_the_bearer_header_is_read() -> None:
    assert token_of(_scope(("authorization", "Bearer abc.def"))) == "abc.def"


def test_the_cookie_is_read_without_a_header() -> None:
    scope = _scope(("cookie", f"theme=dark; {TOKEN_COOKIE}=tok.123; other=x"))
    assert token_of(scope) == "tok.123"


def test_the_header_wins_over_the_cookie_in_any_order() -> None:
    assert (
        token_of(_scope(("cookie", f"{TOKEN_COOKIE}=from-cookie"), ("authorization", "Bearer h")))
        == "h"
    )
    assert (
        token_of(_scope(("authorization", "Bearer h"), ("cookie", f"{TOKEN_COOKIE}=from-cookie")))
        == "h"
    )


def test_another_scheme_is_not_taken_for_a_token_even_with_a_cookie() -> None:
    scope = _scope(("authorization", "Basic dXNlcg=="), ("cookie", f"{TOKEN_COOKIE}=c"))
    assert token_of(scope) is None


@pytest.mark.parametrize(
    "cookie", ["", "theme=dark", f"{TOKEN_COOKIE}=", f"{TOKEN_COOKIE}=  ", f"x{TOKEN_COOKIE}=t"]
)
def test_no_token_without_the_cookie(cookie: str) -> None:
    assert token_of(_scope(("cookie", cookie))) is None
    assert token_of(_scope()) is None


class _NoTokens:
    async def find(self, token_id: str) -> None:
        return None


def _app(tmp_path: Path) -> FastAPI:
    (tmp_path / "index.html").write_text("<!doctype html><title>page</title>")
    app = FastAPI()
    app.state.runtime = SimpleNamespace(tokens=_NoTokens())

    @app.get("/v1/secret")
    async def secret() -> dict[str, str]:
        return {"secret": "yes"}

    mount_page(app, "/page", tmp_path)
    app.add_middleware(Authentication, api=app)
    return app


async def test_only_the_static_mount_is_open(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=_app(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/page/")
        assert page.status_code == 200
        assert "<title>page</title>" in page.text
        assert (await client.get("/page/missing.js")).status_code == 404
        assert (await client.get("/v1/secret")).status_code == 401
        assert (await client.get("/page/../v1/secret")).status_code in (401, 404)
        assert (await client.get("/page", follow_redirects=True)).status_code == 200
        assert (await client.get("/pages/")).status_code == 401
        assert (await client.post("/page/")).status_code == 401
        refused = await client.get("/v1/secret", headers={"cookie": f"{TOKEN_COOKIE}=rd_x.nope"})
        assert refused.status_code == 401
        assert refused.json()["detail"] == "invalid token"
