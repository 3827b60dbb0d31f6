"""Credentials: random bearer tokens, kept only as SHA-256 digests, read from header or cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from fastapi import Request, Response

SESSION_COOKIE = "rollcall_session"
SECURE_SESSION_COOKIE = "__Host-" + SESSION_COOKIE
"""Under https: the browser keeps a `__Host-` cookie only if it is Secure, host-only and for
the path /, so no sibling subdomain or plain-http page can plant or overwrite it."""
SESSION_COOKIE_MAX_AGE_S = 7 * 24 * 3600
TOKEN_BYTES = 32  # 256 random bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(digest(given), digest(expected))


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer …`, or None when the header is absent or not Bearer."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def cookie_token(cookies: Mapping[str, str]) -> str | None:
    """The session cookie's token, under either name (the `__Host-` one first)."""
    return cookies.get(SECURE_SESSION_COOKIE) or cookies.get(SESSION_COOKIE) or None


def session_token(request: Request) -> str | None:
    """A participant's token: the Authorization header first, else the page's HttpOnly cookie."""
    return bearer_token(request) or cookie_token(request.cookies)


def set_session_cookie(response: Response, token: str, *, https: bool) -> None:
    """The page's session cookie: HttpOnly, SameSite=Strict; under https Secure and `__Host-`."""
    response.set_cookie(
        SECURE_SESSION_COOKIE if https else SESSION_COOKIE,
        token,
        max_age=SESSION_COOKIE_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=https,
    )


def delete_session_cookie(response: Response, *, https: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    if https:
        response.delete_cookie(
            SECURE_SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=True
        )
