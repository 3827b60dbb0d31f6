"""The word filter: which names an event refuses, however they are spelled.

A name and every blocked word are folded alike: the name is cut into words at separators
(anything but letters, digits, marks, "@" and "$"); each word is casefolded, taken to its
confusables skeleton (names.name_skeleton: a Greek or Cyrillic look-alike is its Latin letter),
stripped of accents, and the usual digit and symbol swaps are undone (0/o, 1/i/l, 3/e, 4/a, 5/s,
7/t, @/a, $/s: "1", "l" and "i" all become "i").

A blocked word matches as a whole word, or, marked so, anywhere inside the name:

- whole word: one of the name's words, words written apart ("bad word" for "badword"), or a
  word spelled out letter by letter ("B a d w o r d"). A lone initial is never joined to its
  neighbours, so "Ana L" is not "anal". This is what keeps "class", "Scunthorpe" and "Dickens"
  in: most offensive words are also parts of innocent ones.
- inside: anywhere in the name with its separators removed. Only for words that are part of no
  innocent word (the host writes them as `*word*`; the built-in list marks a few in policy.json).

Folded, a name is one string, its *forms* (name_forms), and each blocked word one *pattern*:
" word " for a whole word, "word" for inside. A pattern matches when it occurs in the forms, in
Python (`in`) as in SQL (`LIKE '%pattern%'`), so the database checks the host's words under the
event lock with the same rule (rollcall_name_refused, revision names_seats_teams).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

from rollcall.participants.names import name_skeleton

MAX_BLOCKED_WORDS = 500
MAX_BLOCKED_WORD_LENGTH = 64

# The languages of the pages, whose built-in lists make the default filter.
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "ar")

_SWAPS = str.maketrans({"0": "o", "1": "i", "l": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                        "@": "a", "$": "s"})  # fmt: skip
_KEPT_SYMBOLS = frozenset("@$")
_FORMS_MARK = "|"  # between the words and the name without separators


def _is_separator(ch: str) -> bool:
    return unicodedata.category(ch)[0] not in "LNM" and ch not in _KEPT_SYMBOLS


@lru_cache(maxsize=16_384)
def _fold(ch: str) -> str | None:
    """One character folded (None: a separator). Each character folds on its own: the
    skeleton, casefolding and decomposition all work character by character, and the marks
    whose order decomposition could change are dropped."""
    if _is_separator(ch):
        return None
    mapped = unicodedata.normalize("NFD", name_skeleton(ch).casefold())
    plain = "".join(part for part in mapped if unicodedata.category(part) != "Mn")
    return plain.translate(_SWAPS)


def folded_words(text: str) -> list[str]:
    """The text's words, each folded; separators dropped."""
    words: list[str] = []
    current: list[str] = []
    for ch in unicodedata.normalize("NFKC", text):
        folded = _fold(ch)
        if folded is None:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(folded)
    if current:
        words.append("".join(current))
    return [word for word in words if word]


def _groups(words: list[str]) -> list[str]:
    """Words, with each run of two or more single letters joined into one ("b a d" is "bad")."""
    groups: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        if len(run) >= 2:
            groups.append("".join(run))
        elif run:
            groups.append(run[0])
        run = []
        if word:
            groups.append(word)
    return groups


def _whole_words(words: list[str]) -> set[str]:
    """Every string the name can be read as a whole word: see the module's docstring."""
    groups = _groups(words)
    found = set(words)
    for start, first in enumerate(groups):
        if len(first) == 1:  # a lone letter stands alone
            found.add(first)
            continue
        joined = ""
        for group in groups[start:]:
            if len(group) == 1:
                break
            joined += group
            found.add(joined)
    # A word spelled out letter by letter may have more letters around it: "x b a d w o r d".
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        for i in range(len(run)):
            for j in range(i + 2, len(run) + 1):
                found.add("".join(run[i:j]))
        run = []
    return found


def name_forms(name: str) -> str:
    """The name folded for matching: " word word … |compact" (see the module's docstring)."""
    words = folded_words(name)
    whole = sorted(_whole_words(words))
    return " " + " ".join(whole) + " " + _FORMS_MARK + "".join(words)


@dataclass(frozen=True)
class Pattern:
    """One blocked word, folded: `text` occurs in the forms of every name it refuses."""

    text: str

    @property
    def whole(self) -> bool:
        return self.text.startswith(" ")


def pattern_of(word: str, *, inside: bool = False) -> Pattern | None:
    """The pattern of a blocked word; None when nothing of it is left once folded."""
    compact = "".join(folded_words(word))
    if not compact:
        return None
    return Pattern(compact if inside else f" {compact} ")


def host_pattern(entry: str) -> Pattern | None:
    """A host's blocked word: `*word*` matches inside names, anything else as a whole word."""
    stripped = entry.strip()
    inside = len(stripped) > 2 and stripped.startswith("*") and stripped.endswith("*")
    return pattern_of(stripped[1:-1] if inside else stripped, inside=inside)


def refuses(forms: str, patterns: Iterable[str]) -> bool:
    return any(pattern in forms for pattern in patterns)


class WordList:
    """Patterns, split for speed: whole words as a set, the few inside patterns as a list."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        kept = set(patterns)
        self.whole = frozenset(p.text.strip() for p in kept if p.whole)
        self.inside = tuple(sorted(p.text for p in kept if not p.whole))
        # One search for all of them (literal alternatives), not one `in` each.
        self._inside = re.compile("|".join(map(re.escape, self.inside))) if self.inside else None

    def refuses(self, forms: str) -> bool:
        """The same answer as refuses(forms, every pattern's text), faster for a long list."""
        words, _, compact = forms.rpartition(_FORMS_MARK)
        if not self.whole.isdisjoint(words.split()):
            return True
        return self._inside is not None and self._inside.search(compact) is not None


def _data(*parts: str) -> object:
    resource = files("rollcall.participants").joinpath("words", *parts)
    return json.loads(resource.read_text(encoding="utf-8"))


@cache
def builtin_list() -> WordList:
    """The default filter: the LDNOOBW lists of the nine page languages, as policy.json says.

    One list for every event whatever its phones' languages: a name is read by the whole room.
    """
    policy = _data("policy.json")
    assert isinstance(policy, dict)
    allowed = {"".join(folded_words(word)) for word in policy["allowed"]}
    inside = {"".join(folded_words(word)) for word in policy["inside"]}
    patterns: list[Pattern] = []
    for language in LANGUAGES:
        entries = _data("blocked", f"{language}.json")
        assert isinstance(entries, list)
        for entry in entries:
            compact = "".join(folded_words(entry))
            if compact and compact not in allowed:
                found = pattern_of(entry, inside=compact in inside)
                assert found is not None
                patterns.append(found)
    return WordList(patterns)


def builtin_refuses(name: str) -> bool:
    """Whether the default filter refuses this name."""
    return builtin_list().refuses(name_forms(name))
