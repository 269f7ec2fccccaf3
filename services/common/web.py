"""The pages a person opens in a browser: static files shipped in the package, served as is.

A service mounts its own page (dispatch the console, timeline the desk) with ``mount_page``;
``install`` mounts the shared look (``services/common/web/``: a stylesheet and the
``signin.js`` module) at ``/web``. Only these static mounts are open without a token (see
``auth.Authentication``): they hold no data, and every API call the pages make carries the
token (the ``rd_token`` cookie the sign-in form sets, sent as a bearer header too).
"""

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

SHARED = Path(__file__).parent / "web"
SHARED_AT = "/web"


def mount_page(app: FastAPI, at: str, directory: Path) -> None:
    """Serve ``directory`` at ``at`` (``at/`` answers its ``index.html``), outside the API's
    schema; ``at`` without the trailing slash is redirected there by the router."""
    assert at.startswith("/"), "mount at '/name'"
    assert not at.endswith("/"), "mount at '/name', without the trailing slash"
    app.mount(at, StaticFiles(directory=directory, html=True, check_dir=True), name=at.strip("/"))


def install(app: FastAPI) -> None:
    """Mount the shared stylesheet and sign-in module at ``/web``."""
    mount_page(app, SHARED_AT, SHARED)
