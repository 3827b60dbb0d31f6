"""What the live channel's API reads and writes: event state, actions, receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from rollcall import jsonbody
from rollcall.presence.service import Presence

MAX_EVENT_STATE_BYTES = 64 * 1024
MAX_ACTION_DATA_BYTES = 4 * 1024
ACTION_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
ACTION_NAME_PATTERN = r"^[a-z0-9_.-]{1,32}$"
MAX_ACTIONS_LISTED = 1000


def _storable(value: Any, what: str) -> Any:
    why = jsonbody.unstorable(value)
    if why is not None:
        raise ValueError(f"{what} cannot be stored: {why}")
    return value


class EventStatePatch(BaseModel):
    """`{"patch": {...}, "expect_version": N}`, or the merge patch itself as the whole body.

    A body whose members are exactly `patch` and `expect_version` is the first form; any other
    object is a merge patch (so a patch that sets state keys of those two names uses the first).
    """

    model_config = ConfigDict(extra="forbid")

    patch: dict[str, Any] = Field(description="a JSON merge patch (RFC 7396) of the event state")
    expect_version: StrictInt | None = Field(
        default=None,
        ge=0,
        description="apply only on this version, else 412 version_conflict (as If-Match does)",
    )

    @model_validator(mode="before")
    @classmethod
    def _plain_or_wrapped(cls, data: Any) -> Any:
        if isinstance(data, dict) and set(data) != {"patch", "expect_version"}:
            return {"patch": data}
        return data

    @field_validator("patch")
    @classmethod
    def _patch_storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _storable(value, "the state")  # type: ignore[no-any-return]


class EventState(BaseModel):
    state: dict[str, Any]
    version: int = Field(description="the event's state_version after this change")


class ActionRequest(BaseModel):
    """An action a phone sends: POST /api/session/actions, or `action` on /ws."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=ACTION_ID_PATTERN,
        description="chosen by the phone, 1-64 of A-Z a-z 0-9 _ . : -; the same id from the"
        " same participant is stored once (the first one stands)",
    )
    name: str = Field(pattern=ACTION_NAME_PATTERN, description="1-32 of a-z 0-9 _ . -")
    data: Any = Field(default=None, description="any JSON value, at most 4 KiB")

    @field_validator("data")
    @classmethod
    def _data_storable(cls, value: Any) -> Any:
        return _storable(value, "data")


class ActionAck(BaseModel):
    id: str
    seq: int = Field(description="the action's place in the event's host stream")
    duplicate: bool = Field(description="this id was stored before: seq is the first one's")


class Action(BaseModel):
    """A stored action, as the host reads it (and as `participant.action` carries it)."""

    seq: int
    participant_id: UUID
    id: str
    name: str
    data: Any
    at: datetime


class ActionList(BaseModel):
    actions: list[Action]
    next_since: int = Field(description="pass as `since` for the actions after these")


class Receipts(BaseModel):
    """How many active participants have shown the current event state."""

    event_version: int = Field(description="the event's current state_version")
    seen: int = Field(description="active participants who reported this version (or later)")
    of: int = Field(description="active participants")


class Behind(BaseModel):
    id: UUID
    display_name: str
    presence: Presence
    seen_event_version: int


class ReceiptsView(Receipts):
    behind: list[Behind] = Field(
        description="active participants who have not reported the current version: online"
        " first, then away, then offline, each in join order"
    )
