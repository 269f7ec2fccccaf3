"""The auditor's desk: static pages (``desk/``) served at ``/desk/``, outside the API's schema.

The pages hold no data; every API call they make carries the reader's token (the ``rd_token``
cookie, sent as a bearer header too), so the desk shows only what that token may read.
"""

from pathlib import Path

from fastapi import FastAPI

from services.common import web

DESK = Path(__file__).parent / "desk"
DESK_AT = "/desk"


def install(app: FastAPI) -> None:
    """Serve the desk at ``/desk/`` (its ``index.html``) and its assets under ``/desk/...``."""
    web.mount_page(app, DESK_AT, DESK)
