"""Generated names: a friendly adjective and animal in the page's language ("Brave Otter").

The words are data (words/generated/<language>.json: the two lists and their order in that
language, in a form that agrees in gender), chosen so that no combination is refused by the
default filter (a test tries them all). The server draws a name at random; the database decides
whether it is free, and a taken one is drawn again (participants.service.join).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from uuid import UUID

from rollcall.db.pool import DB
from rollcall.participants.names import name_skeleton, normalize_display_name
from rollcall.participants.wordfilter import LANGUAGES

DEFAULT_LANGUAGE = "en"
SUGGESTION_DRAWS = 8

NUMBERED_AFTER = 2
"""Draws of two words before a number is added ("Brave Otter 27"): an event of thousands can
have most of a language's combinations taken, and a join must still find a free name at once."""


@dataclass(frozen=True)
class Words:
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    adjective_first: bool

    def name(self, adjective: str, noun: str) -> str:
        return f"{adjective} {noun}" if self.adjective_first else f"{noun} {adjective}"

    def names(self) -> list[str]:
        """Every name these words make."""
        return [self.name(a, n) for a in self.adjectives for n in self.nouns]


@cache
def words(language: str) -> Words:
    """The words of a page language (English for any other)."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    resource = files("rollcall.participants").joinpath("words", "generated", f"{language}.json")
    data = json.loads(resource.read_text(encoding="utf-8"))
    return Words(
        adjectives=tuple(data["adjectives"]),
        nouns=tuple(data["nouns"]),
        adjective_first=data["order"] == "adjective noun",
    )


def draw(language: str, attempt: int = 0, avoid: frozenset[str] = frozenset()) -> str:
    """A random name, of words not in `avoid` while some are left; from the NUMBERED_AFTER-th
    attempt on, with a number after it."""
    chosen = words(language)
    adjectives = [a for a in chosen.adjectives if a not in avoid] or chosen.adjectives
    nouns = [n for n in chosen.nouns if n not in avoid] or chosen.nouns
    name = chosen.name(secrets.choice(adjectives), secrets.choice(nouns))
    if attempt >= NUMBERED_AFTER:
        name = f"{name} {secrets.randbelow(9_000) + 1_000}"
    return name


def is_generated(name: str, language: str) -> bool:
    """Whether the name is one of this language's two-word names (a page's suggestion)."""
    chosen = words(language)
    first, _, second = name.partition(" ")
    adjective, noun = (first, second) if chosen.adjective_first else (second, first)
    return adjective in chosen.adjectives and noun in chosen.nouns


async def suggest(conn: DB, *, event_id: UUID, language: str) -> str:
    """A name for the join page to offer: free in the event just now, as far as a few draws go.

    Only a suggestion: the join decides (a name taken meanwhile is drawn again there).
    """
    drawn = list(dict.fromkeys(draw(language) for _ in range(SUGGESTION_DRAWS)))
    keys = [normalize_display_name(name)[1] for name in drawn]
    taken = await conn.fetch(
        """
        SELECT n.name FROM unnest($2::text[], $3::text[], $4::text[]) AS n(name, key, skeleton)
        WHERE EXISTS (SELECT 1 FROM event_participants AS p WHERE p.event_id = $1
                      AND (p.name_key = n.key OR p.name_skeleton = n.skeleton))
        """,
        event_id,
        drawn,
        keys,
        [name_skeleton(name) for name in drawn],
    )
    taken_names = {row["name"] for row in taken}
    return next((name for name in drawn if name not in taken_names), drawn[0])
