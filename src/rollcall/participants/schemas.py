"""What the participants API reads and writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rollcall import jsonbody
from rollcall.events.schemas import Event
from rollcall.participants.names import normalize_display_name
from rollcall.presence.service import Presence

ParticipantStatus = Literal["active", "left", "kicked"]


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: UUID = Field(description="a random UUID the device made once and keeps")
    display_name: str = Field(max_length=256, description="1 to 32 characters once normalised")

    @field_validator("device_id")
    @classmethod
    def _not_nil(cls, value: UUID) -> UUID:
        if value.int == 0:
            raise ValueError("the nil UUID is not a device id; make one with crypto.randomUUID()")
        return value

    @field_validator("display_name")
    @classmethod
    def _normalized(cls, value: str) -> str:
        return normalize_display_name(value)[0]


class Participant(BaseModel):
    id: UUID
    display_name: str
    status: ParticipantStatus
    state: dict[str, Any]
    version: int = Field(description="grows by one on every change of state")
    joined_at: datetime


class RosterEntry(Participant):
    presence: Presence
    last_heartbeat: datetime | None


class Roster(BaseModel):
    participants: list[RosterEntry]


class JoinResponse(BaseModel):
    participant: Participant
    session_token: str
    rejoined: bool
    heartbeat_interval_s: float


class SessionView(BaseModel):
    participant: Participant
    event: Event


class HeartbeatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    away: bool | None = Field(default=None, description="true: the page is hidden; false: back")


class HeartbeatResponse(BaseModel):
    server_time: datetime
    heartbeat_interval_s: float


class StatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: dict[str, Any] = Field(description="a JSON merge patch (RFC 7396) of the state")

    @field_validator("state")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Refuse what PostgreSQL's jsonb or a later json.dumps could not take: say so now."""
        if jsonbody.depth(value) > jsonbody.MAX_DEPTH:
            raise ValueError(f"the state must not nest more than {jsonbody.MAX_DEPTH} levels deep")
        if _has_nul(value):
            raise ValueError("keys and strings in the state must not contain the NUL character")
        return value


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
