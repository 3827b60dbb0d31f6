"""Request-body guards: size and content type, checked before any route parses a body."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rollcall.errors import PayloadTooLarge, Problem, UnsupportedMediaType

MAX_BODY_BYTES = 64 * 1024
_BODY_METHODS = {b"POST", b"PUT", b"PATCH"}


class BodyGuard:
    """Refuse bodies over MAX_BODY_BYTES (413) and non-JSON bodies on the API (415).

    Counts the bytes as they arrive, so a body without Content-Length is bounded too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"].encode() not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        problem = self._check_headers(scope["path"], headers)
        if problem is not None:
            await _send_problem(problem, send)
            return
        received = 0
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await _send_problem(
                    PayloadTooLarge(f"request bodies are limited to {MAX_BODY_BYTES} bytes"), send
                )

    @staticmethod
    def _check_headers(path: str, headers: dict[bytes, bytes]) -> Problem | None:
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return PayloadTooLarge(f"request bodies are limited to {MAX_BODY_BYTES} bytes")
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        if path.startswith("/api/") and has_body:
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media != b"application/json" and not media.endswith(b"+json"):
                return UnsupportedMediaType(
                    "send the body as JSON with Content-Type: application/json"
                )
        return None


class _BodyTooLarge(Exception):
    pass


async def _send_problem(problem: Problem, send: Send) -> None:
    from rollcall.problems import problem_response

    response = problem_response(problem)
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
