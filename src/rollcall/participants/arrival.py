"""One join attempt from a client address: what the HTTP join and the /ws hello-join share.

The address's rate limits, the unknown-code rule and the batched join are the same whichever
way the phone asks; only how the request body is read, and how the answer travels, differ.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from rollcall.db.pool import borrow
from rollcall.errors import EventNotFound, MalformedRequest, ValidationFailed
from rollcall.events import service as events
from rollcall.participants import service
from rollcall.participants.batch import JoinBatcher
from rollcall.participants.schemas import JoinRequest
from rollcall.ratelimits import RateLimits, event_key


async def join_from(
    address: str,
    code: str,
    read: Callable[[], Awaitable[JoinRequest]],
    *,
    limits: RateLimits,
    pool: asyncpg.Pool[Any],
    joins: JoinBatcher,
) -> service.JoinResult:
    """Join event `code` from `address` with the body `read` gives, under the join rules.

    An unknown code is refused before the body is read (and a bad body of an unknown code is
    a 404 too). Per address, joins of newcomers count against ROLLCALL_LIMIT_JOINS and unknown
    codes against ROLLCALL_LIMIT_GUESSES; wrong room checks and recovery codes count against
    ROLLCALL_LIMIT_GUESSES per (address, event). No pooled connection is held while the join
    waits for its batch.
    """
    normalized = events.normalize_code(code)
    if normalized is None:
        raise await limits.unknown_code(address, code)
    guesses = event_key(address, normalized)
    allowance = await _reserve(limits, address, guesses)
    try:
        try:
            body = await read()
        except (MalformedRequest, ValidationFailed):
            async with borrow(pool) as conn:
                try:
                    await events.get_event(conn, code=normalized)  # an unknown code is a 404 first
                except EventNotFound:
                    raise await limits.unknown_code(address, code) from None
            raise
        try:
            return await service.join(
                joins,
                code=normalized,
                device_id=body.device_id,
                display_name=service.NameChoice(body.display_name, body.suggestion, body.language),
                room_check=body.room_check,
                recovery_code=body.recovery_code,
                team=body.team,
                allowance=allowance,
            )
        except EventNotFound:
            raise await limits.unknown_code(address, code) from None
    finally:
        await _charge(limits, address, guesses, allowance)


async def _reserve(limits: RateLimits, address: str, guesses: str) -> service.JoinAllowance:
    """Hold this attempt's place in the address's join limit, and in its guesses at this
    event (room checks, recovery codes), while it runs."""
    may_join = await limits.joins.reserve(address)
    may_guess = await limits.event_guesses.reserve(guesses)
    return service.JoinAllowance(
        may_join=may_join,
        may_guess=may_guess,
        join_retry_after_s=1 if may_join else await limits.joins.retry_after_s(address),
        guess_retry_after_s=1 if may_guess else await limits.event_guesses.retry_after_s(guesses),
    )


async def _charge(
    limits: RateLimits, address: str, guesses: str, allowance: service.JoinAllowance
) -> None:
    """Count what the attempt turned out to be: a newcomer's join, a wrong guess, or neither."""
    if allowance.may_join:
        await limits.joins.release(address, spend=allowance.counts_as_join)
    if allowance.may_guess:
        await limits.event_guesses.release(guesses, spend=allowance.wrong_guess)
