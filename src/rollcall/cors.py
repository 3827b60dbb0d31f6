"""Other sites' apps (ROLLCALL_ALLOWED_ORIGINS): CORS on the API and the SDK, never the cookie.

A page of a listed origin loads the SDK's modules from rollcall (a browser fetches module
scripts with CORS) and calls the API with its bearer token. Its requests reach no route with
rollcall's session cookie: the Cookie header is dropped, and the answers allow no credentials,
so the page cannot act as the browser's rollcall session. An unlisted origin gets no CORS
headers: its preflight reaches the app as any OPTIONS does, and the browser refuses the call.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rollcall.settings import Settings

CORS_PATHS = ("/api/", "/sdk/", "/static/shared/")
"""The API, and the SDK's modules with the shared ones they import."""
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REQUEST_HEADERS = ("Authorization", "Content-Type")
EXPOSED_HEADERS = ("Retry-After", "WWW-Authenticate")
"""What a problem answer carries besides its body (problems.py), readable by the app."""
PREFLIGHT_MAX_AGE_S = 600


def listed_origins(settings: Settings) -> frozenset[str]:
    return frozenset(filter(None, settings.allowed_origins.split(",")))


def app_origin(headers: Mapping[str, str], scheme: str, origins: frozenset[str]) -> str | None:
    """The request's Origin when it is a listed app's, not rollcall's own page's; else None."""
    origin = headers.get("origin")
    if origin is None or origin.lower() not in origins:
        return None
    own_scheme = "https" if scheme in ("https", "wss") else "http"
    if origin.lower() == f"{own_scheme}://{headers.get('host', '')}".lower():
        return None
    return origin


def _without_cookies(scope: Scope) -> Scope:
    return {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"cookie"]}


class AppOrigins:
    """CORS for listed origins on CORS_PATHS (Starlette's middleware), with their cookies dropped."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.origins = listed_origins(settings)
        self.cors = CORSMiddleware(
            app,
            allow_origins=sorted(self.origins),
            allow_methods=METHODS,
            allow_headers=REQUEST_HEADERS,
            allow_credentials=False,
            expose_headers=EXPOSED_HEADERS,
            max_age=PREFLIGHT_MAX_AGE_S,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.origins or scope["type"] != "http" or not scope["path"].startswith(CORS_PATHS):
            await self.app(scope, receive, send)
            return
        if app_origin(Headers(scope=scope), scope["scheme"], self.origins) is None:
            await self.app(scope, receive, _varying(send))
            return
        await self.cors(_without_cookies(scope), receive, send)


def _varying(send: Send) -> Send:
    """Say `Vary: Origin` on an answer without CORS headers too: a cache that kept it for
    rollcall's own page must not hand it to a listed app, whose browser would refuse it."""

    async def send_varying(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(raw=list(message.get("headers", ())))
            headers.add_vary_header("Origin")
            message = {**message, "headers": headers.raw}
        await send(message)

    return send_varying
