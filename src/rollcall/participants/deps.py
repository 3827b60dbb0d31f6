"""Route dependencies for participants: the live session a request's token belongs to."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rollcall.auth import session_token
from rollcall.participants.service import Session, session_for_token
from rollcall.runtime import Conn


async def _session(request: Request, conn: Conn) -> Session:
    return await session_for_token(conn, token=session_token(request))


ParticipantSession = Annotated[Session, Depends(_session)]
"""The participant's live session (bearer token or cookie), or 401 invalid_token."""
