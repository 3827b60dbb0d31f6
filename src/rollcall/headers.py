"""Security headers on every HTTP response, added by one small pure-ASGI middleware.

- `X-Content-Type-Options: nosniff` everywhere: a browser never guesses a type.
- `Cache-Control: no-store` on every API answer that does not say otherwise: they carry
  credentials (the host token, session tokens) and live state that no cache should keep.
- `Strict-Transport-Security` when the request came over https (directly, or through a proxy
  whose forwarded headers are trusted), so the browser never tries plain http again.

Pure ASGI on purpose: BaseHTTPMiddleware runs each request in a task of its own and copies
the body through a stream.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS_MAX_AGE_S = 365 * 24 * 3600

_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")
_HSTS = (b"strict-transport-security", f"max-age={HSTS_MAX_AGE_S}".encode())


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = [_NOSNIFF]
        if scope["path"].startswith("/api/"):
            wanted.append(_NO_STORE)
        if scope.get("scheme") == "https":
            wanted.append(_HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in wanted if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
