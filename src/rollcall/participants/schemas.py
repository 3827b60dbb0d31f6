"""What the participants API reads and writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollcall import jsonbody
from rollcall.events.schemas import Event
from rollcall.participants import recovery
from rollcall.participants.names import normalize_display_name
from rollcall.presence.service import Presence

ParticipantStatus = Literal["pending", "active", "left", "kicked"]


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: UUID = Field(description="a random UUID the device made once and keeps")
    display_name: str = Field(max_length=256, description="1 to 32 characters once normalised")
    room_check: str | None = Field(
        default=None,
        pattern=r"^[0-9]{4}$",
        description="the 4 digits on the host's screen (or in the QR's link), when the event"
        " has room_check on; a device the event knows never needs them",
    )
    recovery_code: str | None = Field(
        default=None,
        max_length=32,
        description="a participant's recovery code (ABCD-EFGH, any case, dash optional): this"
        " new device takes over that participant's seat",
    )

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

    @field_validator("recovery_code")
    @classmethod
    def _recovery_code(cls, value: str | None) -> str | None:
        if value is not None:
            recovery.number_of(value)  # refuses what cannot be a code
        return value


class Participant(BaseModel):
    id: UUID
    display_name: str
    status: ParticipantStatus
    state: dict[str, Any]
    version: int = Field(description="grows by one on every change of state")
    joined_at: datetime
    reclaims: UUID | None = Field(
        default=None,
        description="a waiting request to move this participant's seat to a new phone",
    )


class RosterEntry(Participant):
    presence: Presence
    last_heartbeat: datetime | None
    seen_event_version: int = Field(
        description="the event state version this participant's phone last said it has shown"
    )
    seen_version: int = Field(
        description="the version of its own state this participant's phone last said it has shown"
    )


class Roster(BaseModel):
    participants: list[RosterEntry]


RECOVERY_CODE_DOC = (
    "ABCD-EFGH: with it, another phone takes over this participant's seat (null while a seat"
    " move waits for the host)"
)


class JoinResponse(BaseModel):
    participant: Participant
    session_token: str
    rejoined: bool = Field(description="the device's participant is back (or moved here)")
    reclaimed: bool = Field(description="a recovery code moved the participant to this device")
    recovery_code: str | None = Field(description=RECOVERY_CODE_DOC)
    heartbeat_interval_s: float


class SessionView(BaseModel):
    participant: Participant
    event: Event
    recovery_code: str | None = Field(description=RECOVERY_CODE_DOC)


class KickRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ban: bool = Field(
        default=True,
        description="true: the device is refused from now on; false: the participant leaves"
        " and may come back",
    )


class KickRecentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    joined_within_s: float = Field(
        gt=0, le=86_400, description="remove everyone who joined in the last this many seconds"
    )
    ban: bool = Field(default=True, description="as for one participant's kick")


class Removed(BaseModel):
    removed: int


class AdmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant_ids: list[UUID] | None = Field(
        default=None, max_length=10_000, description="these waiting participants"
    )
    all: bool = Field(default=False, description="every waiting newcomer (not seat moves)")

    @model_validator(mode="after")
    def _one_of(self) -> AdmitRequest:
        if (self.participant_ids is None) == (not self.all):
            raise ValueError('give either "participant_ids" or "all": true')
        return self


class Admitted(BaseModel):
    admitted: int = Field(description="how many were let in (or moved), in join order")


class RecoveryCodeView(BaseModel):
    recovery_code: str = Field(description="the participant's new code; the old one is dead")


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
        why = jsonbody.unstorable(value)
        if why is not None:
            raise ValueError(f"the state cannot be stored: {why}")
        return value
