"""What the join and admission functions answer: every word, named once.

`rollcall_join_many` (db/functions/) answers each join with a `JoinOutcome`, `rollcall_admit`
each participant it was asked about with an `AdmitOutcome`. tests/test_architecture.py fails
when those functions write a word that is not here, or no longer write one that is.
"""

from __future__ import annotations

from enum import StrEnum

from rollcall import metrics


class JoinOutcome(StrEnum):
    """One join's outcome, in the order the join rules are applied (rejoins first)."""

    JOINED = "joined"
    PENDING = "pending"  # waiting for the host (admission 'approval')
    REJOINED = "rejoined"
    RECLAIMED = "reclaimed"  # a recovery code moved a seat to this device
    RECLAIM_PENDING = "reclaim_pending"  # ... once the host agrees
    NOT_FOUND = "not_found"
    CLOSED = "closed"
    BANNED = "banned"
    RECOVERY_INVALID = "recovery_invalid"
    RECLAIM_DISABLED = "reclaim_disabled"
    JOIN_LIMITED = "join_limited"  # the address's join limit, decided before the call
    LOCKED = "locked"
    GUESS_LIMITED = "guess_limited"  # the address's wrong-code limit
    ROOM_CHECK_FAILED = "room_check_failed"
    FULL = "full"
    NAMES_GENERATED = "names_generated"
    GENERATED_NAMES_OFF = "generated_names_off"
    NAME_NOT_ALLOWED = "name_not_allowed"
    TEAM_CHOICE_OFF = "team_choice_off"
    TEAM_NOT_FOUND = "team_not_found"
    NAME_TAKEN = "name_taken"
    RETRY = "retry"  # the device raced itself, or a recovery code collided: run it again


# A participant came out of it (in a seat, waiting, or asking for a seat).
ADMITTED = frozenset(
    {
        JoinOutcome.JOINED,
        JoinOutcome.PENDING,
        JoinOutcome.REJOINED,
        JoinOutcome.RECLAIMED,
        JoinOutcome.RECLAIM_PENDING,
    }
)
REJOINED = frozenset({JoinOutcome.REJOINED, JoinOutcome.RECLAIMED})
# Attempts of a device new to the event without a recovery code: what the join limit counts.
NEWCOMER = frozenset(
    {
        JoinOutcome.JOINED,
        JoinOutcome.PENDING,
        JoinOutcome.LOCKED,
        JoinOutcome.FULL,
        JoinOutcome.NAME_TAKEN,
        JoinOutcome.ROOM_CHECK_FAILED,
        JoinOutcome.NAME_NOT_ALLOWED,
        JoinOutcome.NAMES_GENERATED,
        JoinOutcome.GENERATED_NAMES_OFF,
        JoinOutcome.TEAM_CHOICE_OFF,
        JoinOutcome.TEAM_NOT_FOUND,
    }
)
WRONG_GUESSES = frozenset({JoinOutcome.ROOM_CHECK_FAILED, JoinOutcome.RECOVERY_INVALID})
# A drawn name the event will not have: draw another.
REDRAWN = frozenset({JoinOutcome.NAME_TAKEN, JoinOutcome.NAME_NOT_ALLOWED})


class AdmitOutcome(StrEnum):
    """What admitting one waiting participant came to."""

    ADMITTED = "admitted"
    MOVED = "moved"  # a seat request: the seat moved to the waiting device
    NOT_FOUND = "not_found"
    NOT_PENDING = "not_pending"
    FULL = "full"
    CLOSED = "closed"
    BANNED = "banned"


# Known label values start at zero, so that dashboards and rate() see them before they happen
# (the rarer outcomes appear when first counted).
for _outcome in (
    JoinOutcome.JOINED,
    JoinOutcome.PENDING,
    JoinOutcome.REJOINED,
    JoinOutcome.RECLAIMED,
    JoinOutcome.NAME_TAKEN,
    JoinOutcome.FULL,
    JoinOutcome.LOCKED,
    JoinOutcome.CLOSED,
    JoinOutcome.BANNED,
    JoinOutcome.ROOM_CHECK_FAILED,
    JoinOutcome.JOIN_LIMITED,
):
    metrics.JOINS.labels(outcome=_outcome)
