"""The pages: `/` to create an event, `/host/{code}` for the host, `/j/{code}` for phones; and
`/sdk/rollcall.js`, the JavaScript SDK other pages import.

Each page is a folder under static/ (create/, host/, join/) with its HTML file, its stylesheet and
its JavaScript modules; what the pages share is in static/shared/; no build step. The server fills
in only the event's join URL, which follows ROLLCALL_PUBLIC_URL exactly as the QR code does.
"""

from __future__ import annotations

import html
import os
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from rollcall.events.links import join_url, public_base
from rollcall.runtime import AppSettings

STATIC_DIR = Path(__file__).parent / "static"

# Scripts, styles and images come only from rollcall itself; the pages talk only to it.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


class RevalidatedStaticFiles(StaticFiles):
    """Static files that the browser checks (ETag) before each use, so an upgrade shows at once."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.endswith(".html"):
            # The pages are templates, served at their own addresses with their own headers.
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


router = APIRouter(include_in_schema=False)
router.mount("/static", RevalidatedStaticFiles(directory=STATIC_DIR), name="static")
# The SDK's entry is /sdk/rollcall.js; its modules import each other relatively, and what they
# share with the pages from /static/shared/.
router.mount("/sdk", RevalidatedStaticFiles(directory=STATIC_DIR / "sdk"), name="sdk")


@cache
def _template(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def _page(name: str, **values: str) -> HTMLResponse:
    text = _template(name)
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value))
    return HTMLResponse(text, headers=PAGE_HEADERS)


@router.get("/")
async def create_page() -> HTMLResponse:
    return _page("create/index.html")


@router.get("/host/{code}")
async def host_page(code: str, request: Request, settings: AppSettings) -> HTMLResponse:
    return _page("host/index.html", join_url=join_url(public_base(settings, request), code.upper()))


@router.get("/j/{code}")
async def join_page(code: str) -> HTMLResponse:
    return _page("join/index.html")
