"""Credentials: random bearer tokens, kept only as SHA-256 digests, read from header or cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

SESSION_COOKIE = "rollcall_session"
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


def session_token(request: Request) -> str | None:
    """A participant's token: the Authorization header first, else the page's HttpOnly cookie."""
    return bearer_token(request) or request.cookies.get(SESSION_COOKIE) or None
