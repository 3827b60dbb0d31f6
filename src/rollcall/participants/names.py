"""Display names: how they are cleaned, and the key that decides when two are the same."""

from __future__ import annotations

import unicodedata

MAX_NAME_LENGTH = 32


def normalize_display_name(raw: str) -> tuple[str, str]:
    """Return (display name, uniqueness key), or raise ValueError saying what is wrong.

    Control characters are refused before anything else. Then NFKC, whitespace trimmed and
    folded to single spaces. The key is casefolded and ignores invisible format characters
    (zero-width spaces and the like), so "Ana" and "A\u200bna" cannot pass for two people.
    """
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise ValueError("the name must not contain control characters (tabs, newlines, ...)")
    name = " ".join(unicodedata.normalize("NFKC", raw).split())
    visible = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")
    if not visible.strip():
        raise ValueError("the name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the name must be at most {MAX_NAME_LENGTH} characters")
    key = unicodedata.normalize("NFKC", " ".join(visible.split()).casefold())
    return name, key
