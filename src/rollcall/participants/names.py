"""Display names: how they are cleaned, and the two keys that decide when two are the same.

Two names are the same when their keys are equal (NFKC, whitespace folded, casefolded) or when
their skeletons are (Unicode TS 39 confusables: "Ana" in Latin and "\u0410na" with a Cyrillic A look
alike, so they cannot pass for two people).
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache

from confusable_homoglyphs.utils import path as confusables_path

MAX_NAME_LENGTH = 32

# Letters that draw nothing (Unicode's Default_Ignorable_Code_Point letters and marks): names
# made of them look empty, so they are dropped like format characters.
INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u17b4\u17b5\u034f")

# Marks that wrap right-to-left entries in the confusables data; not part of the character.
_DIRECTION_MARKS = str.maketrans("", "", "\u200e\u200f")


def _drawn(ch: str) -> bool:
    return unicodedata.category(ch) != "Cf" and ch not in INVISIBLE


def drawn_only(text: str) -> str:
    """The text without format characters (bidi controls, zero-width spaces and joiners) and
    invisible fillers: what a reader sees is all there is."""
    return "".join(ch for ch in text if _drawn(ch))


def normalize_display_name(raw: str) -> tuple[str, str]:
    """Return (display name, uniqueness key), or raise ValueError saying what is wrong.

    Control characters are refused before anything else. Then NFKC; format characters (bidi
    controls, zero-width spaces and joiners) and invisible fillers are dropped; whitespace is
    trimmed and folded to single spaces. A name needs at least one visible letter or digit, so
    blank-looking names (U+2800, U+3164, only punctuation) are refused. The key is casefolded.
    """
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise ValueError("the name must not contain control characters (tabs, newlines, ...)")
    drawn = drawn_only(unicodedata.normalize("NFKC", raw))
    name = " ".join(drawn.split())
    if not name:
        raise ValueError("the name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the name must be at most {MAX_NAME_LENGTH} characters")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in name):
        raise ValueError("the name needs at least one visible letter or digit")
    key = unicodedata.normalize("NFKC", name.casefold())
    return name, key


def name_skeleton(name: str) -> str:
    """The name's confusables skeleton: equal for names that look alike.

    TS 39's skeleton (NFD, then each character to its prototype), taken before and after
    casefolding, so that "AIice" (a capital i) and "alice" meet as well as "Ana" and "\u0410na".
    Only single-character look-alikes are mapped ("rn" is not folded into "m").
    """
    prototype = _prototypes()
    mapped = "".join(prototype.get(ch, ch) for ch in unicodedata.normalize("NFD", name))
    folded = unicodedata.normalize("NFD", mapped.casefold())
    return "".join(prototype.get(ch, ch) for ch in folded)


@cache
def _prototypes() -> dict[str, str]:
    """Each character that has look-alikes, to one member of its class (the smallest).

    The classes come from confusable-homoglyphs' copy of Unicode's confusables data, joined
    transitively so that every member of a class maps to the same prototype.
    """
    with open(confusables_path("confusables.json"), encoding="utf-8") as data:
        table: dict[str, list[dict[str, str]]] = json.load(data)
    parent: dict[str, str] = {}

    def root(ch: str) -> str:
        while parent.setdefault(ch, ch) != ch:
            parent[ch] = parent[parent[ch]]
            ch = parent[ch]
        return ch

    for ch, lookalikes in table.items():
        if len(ch) != 1:
            continue
        for lookalike in lookalikes:
            other = lookalike["c"].translate(_DIRECTION_MARKS)
            if len(other) == 1:
                a, b = root(ch), root(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {ch: root(ch) for ch in list(parent)}
