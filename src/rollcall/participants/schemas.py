"""What the participants API reads and writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rollcall import jsonbody
from rollcall.events.schemas import Event, TeamId
from rollcall.participants import recovery
from rollcall.participants.names import normalize_display_name
from rollcall.participants.wordfilter import LANGUAGES
from rollcall.presence.service import Presence

ParticipantStatus = Literal["pending", "active", "left", "kicked"]
Language = Literal[LANGUAGES]  # type: ignore[valid-type]

DISPLAY_NAME_DOC = "1 to 32 characters once normalised"


def _display_name(value: str | None) -> str | None:
    return None if value is None else normalize_display_name(value)[0]


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: UUID = Field(description="a random UUID the device made once and keeps")
    generated_name: bool = Field(
        default=False,
        description="in place of display_name, in an event whose names are generated: the"
        " server picks a free two-word name",
    )
    display_name: str | None = Field(
        default=None,
        max_length=256,
        validate_default=True,
        description=f"{DISPLAY_NAME_DOC}; required unless generated_name is true",
    )
    suggestion: str | None = Field(
        default=None,
        max_length=64,
        description="with generated_name: the name the page offered (GET …/generated-name);"
        " taken when still free, else the server picks another",
    )
    language: Language = Field(
        default="en", description="with generated_name: the language of the name's words"
    )
    team: TeamId | None = Field(
        default=None,
        description="the team a newcomer chooses, in an event whose team_mode is choose",
    )
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
    def _normalized(cls, value: str | None, info: ValidationInfo) -> str | None:
        generated_name = info.data.get("generated_name", False)
        if value is None and not generated_name:
            raise ValueError('give a name, or "generated_name": true where names are generated')
        if value is not None and generated_name:
            raise ValueError('give either a name or "generated_name": true, not both')
        return _display_name(value)

    @model_validator(mode="after")
    def _suggestion_with_generated(self) -> JoinRequest:
        if self.suggestion is not None and not self.generated_name:
            raise ValueError('"suggestion" goes with "generated_name": true')
        return self

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
    team: str | None = Field(default=None, description="the id of the participant's team")
    has_phone: bool = Field(
        default=True,
        description="false for a seat the host made for someone without a phone, until a"
        " phone takes it with its recovery code",
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


class ParticipantPatch(BaseModel):
    """What the host changes of a participant: any of state, name and team, all at once."""

    model_config = ConfigDict(extra="forbid")

    state: dict[str, Any] | None = Field(
        default=None, description="a JSON merge patch (RFC 7396) of the state"
    )
    display_name: str | None = Field(
        default=None,
        max_length=256,
        description=f"a new name ({DISPLAY_NAME_DOC}); the event's name rules apply",
    )
    team: TeamId | None = Field(
        default=None, description="one of the event's team ids, or null for no team"
    )

    @field_validator("display_name")
    @classmethod
    def _normalized(cls, value: str | None) -> str | None:
        return _display_name(value)

    @model_validator(mode="after")
    def _something(self) -> ParticipantPatch:
        if not self.model_fields_set & {"state", "display_name", "team"}:
            raise ValueError('give at least one of "state", "display_name" and "team"')
        if "state" in self.model_fields_set and self.state is None:
            raise ValueError('"state" must be an object')
        if "display_name" in self.model_fields_set and self.display_name is None:
            raise ValueError('"display_name" must be a name')
        return self

    @property
    def team_given(self) -> bool:
        """Whether the body says a team (null included: out of every team)."""
        return "team" in self.model_fields_set

    @field_validator("state")
    @classmethod
    def _storable(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _storable_state(value)


class SeatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(max_length=256, description=DISPLAY_NAME_DOC)
    team: TeamId | None = Field(default=None, description="one of the event's team ids")

    @field_validator("display_name")
    @classmethod
    def _normalized(cls, value: str) -> str:
        return normalize_display_name(value)[0]


class SeatCreated(BaseModel):
    participant: Participant
    recovery_code: str = Field(
        description="with it, a phone takes this seat (join with `recovery_code`); give it to"
        " the person, or show them its QR (…/participants/{id}/recovery-qr.svg)"
    )


class BalanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    all: bool = Field(
        default=False,
        description="false: only active participants without a team get one; true: everyone"
        " active may move (as few as can be) so that sizes differ by at most one",
    )


class Balanced(BaseModel):
    assigned: int = Field(description="participants whose team changed")
    sizes: dict[str, int] = Field(description="active participants per team id, after")


def _storable_state(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse what PostgreSQL's jsonb or a later json.dumps could not take: say so now."""
    why = jsonbody.unstorable(value)
    if why is not None:
        raise ValueError(f"the state cannot be stored: {why}")
    return value
