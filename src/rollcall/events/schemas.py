"""What the events API reads and writes."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from rollcall.participants.names import drawn_only
from rollcall.participants.wordfilter import (
    MAX_BLOCKED_WORD_LENGTH,
    MAX_BLOCKED_WORDS,
    host_pattern,
)

EventStatus = Literal["open", "locked", "closed"]
Admission = Literal["open", "approval"]
Reclaim = Literal["auto", "approval", "off"]
Names = Literal["chosen", "generated"]
NameFilter = Literal["off", "default", "custom"]
TeamMode = Literal["host", "choose"]

MAX_TEAMS = 100


def _shown_text(value: str) -> str:
    """A title or team name: control characters refused; format characters (bidi overrides,
    zero-width) dropped, as from names, so that it shows what it says."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain control characters (tabs, newlines, ...)")
    value = drawn_only(value).strip()
    if not value:
        raise ValueError("must not be empty")
    return value


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_shown_text),
]

TeamId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: TeamId = Field(description="1 to 32 of A-Z a-z 0-9 _ -; what a participant's `team` holds")
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
        AfterValidator(_shown_text),
    ]


def _distinct_teams(teams: list[Team] | None) -> list[Team] | None:
    if teams is not None:
        if len({team.id for team in teams}) != len(teams):
            raise ValueError("two teams have the same id")
        if len({team.name.casefold() for team in teams}) != len(teams):
            raise ValueError("two teams have the same name")
    return teams


def _blocked_words(words: list[str] | None) -> list[str] | None:
    if words is None:
        return None
    kept: list[str] = []
    for written in words:
        if any(unicodedata.category(ch) == "Cc" for ch in written):
            raise ValueError("a blocked word must not contain control characters")
        word = " ".join(written.split())
        if host_pattern(word) is None:
            raise ValueError(f"{word!r} has no letters or digits to match")
        if word not in kept:
            kept.append(word)
    return kept


Teams = Annotated[
    list[Team],
    Field(max_length=MAX_TEAMS, description=f"at most {MAX_TEAMS}; ids and names distinct"),
    AfterValidator(_distinct_teams),
]
BlockedWords = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_BLOCKED_WORD_LENGTH)]],
    Field(
        max_length=MAX_BLOCKED_WORDS,
        description=f"at most {MAX_BLOCKED_WORDS} words the word filter refuses besides the"
        " built-in list: each matches as a whole word, `*word*` anywhere inside a name",
    ),
    AfterValidator(_blocked_words),
]


ADMISSION_DOC = "open: anyone with the link joins; approval: newcomers wait for the host"
ROOM_CHECK_DOC = "newcomers must give the 4-digit code shown on the host's screen"
RECLAIM_DOC = "how a recovery code moves a seat to a new phone: at once, after approval, or never"
NAMES_DOC = "chosen: each participant types a name; generated: the server gives a two-word one"
NAME_FILTER_DOC = (
    "off; default: the built-in list of offensive words and the host's blocked_words;"
    " custom: only the host's blocked_words"
)
TEAM_MODE_DOC = "host: the host assigns teams; choose: the join page asks for one"


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    capacity: int | None = Field(default=None, ge=1, description="defaults to the maximum")
    admission: Admission = Field(default="open", description=ADMISSION_DOC)
    room_check: bool = Field(default=False, description=ROOM_CHECK_DOC)
    reclaim: Reclaim = Field(default="auto", description=RECLAIM_DOC)
    names: Names = Field(default="chosen", description=NAMES_DOC)
    name_filter: NameFilter = Field(default="default", description=NAME_FILTER_DOC)
    blocked_words: BlockedWords = Field(default_factory=list)
    teams: Teams = Field(default_factory=list)
    team_mode: TeamMode = Field(default="host", description=TEAM_MODE_DOC)


class EventUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    capacity: int | None = Field(default=None, ge=1)
    status: EventStatus | None = None
    admission: Admission | None = Field(default=None, description=ADMISSION_DOC)
    room_check: bool | None = Field(default=None, description=ROOM_CHECK_DOC)
    reclaim: Reclaim | None = Field(default=None, description=RECLAIM_DOC)
    names: Names | None = Field(default=None, description=NAMES_DOC)
    name_filter: NameFilter | None = Field(default=None, description=NAME_FILTER_DOC)
    blocked_words: BlockedWords | None = Field(
        default=None, description="replaces the list; names already in the event stay"
    )
    teams: Teams | None = Field(
        default=None, description="replaces the list; members of a team left out lose their team"
    )
    team_mode: TeamMode | None = Field(default=None, description=TEAM_MODE_DOC)


class TeamCount(BaseModel):
    active: int
    online: int


class EventCounts(BaseModel):
    seats_taken: int = Field(description="participants who are neither waiting nor kicked")
    full: bool = Field(
        description="every seat is taken: a newcomer's join is refused (409 `event_full`), or,"
        " with admission `approval`, waits for a seat like any newcomer",
    )
    pending: int = Field(description="participants waiting for the host")
    active: int
    online: int
    away: int
    offline: int
    left: int
    kicked: int
    teams: dict[str, TeamCount] = Field(
        default_factory=dict, description="per team id, in the order of the event's teams"
    )


class Event(BaseModel):
    code: str
    title: str
    capacity: int
    status: EventStatus
    admission: Admission
    room_check: bool
    reclaim: Reclaim
    names: Names
    name_filter: NameFilter
    teams: list[Team]
    team_mode: TeamMode
    created_at: datetime
    updated_at: datetime
    counts: EventCounts
    state: dict[str, Any] = Field(
        description="the event state every phone is shown (PATCH /api/events/{code}/state)"
    )
    state_version: int = Field(description="0 at creation, +1 on each change of state")


class EventCreated(BaseModel):
    event: Event
    host_token: str = Field(description="shown once; keep it, it is stored only as a digest")
    host_url: str
    join_url: str


class NameFilterView(BaseModel):
    name_filter: NameFilter
    blocked_words: list[str] = Field(description="the host's words, as written")


class GeneratedName(BaseModel):
    display_name: str = Field(description="a two-word name free in the event just now")


class RoomCheck(BaseModel):
    code: str = Field(description="the 4 digits a newcomer gives as `room_check`")
    expires_at: datetime = Field(description="when the next code takes over")
    join_url: str = Field(description="the join link with the code in it, for the QR code")
