"""The pages' message catalogs (static/i18n/<page>/<locale>.json) agree with their English one.

Every page that has catalogs is checked, whoever wrote them: each catalog has exactly the keys
of the page's en.json, each message names the same {placeholders}, a plural message has an
"other" form and only forms Intl.PluralRules knows, and every locale the pages offer
(shared/i18n.js) has a catalog for every page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rollcall.web.routes import STATIC_DIR

CATALOGS = STATIC_DIR / "i18n"
PLURAL_FORMS = {"zero", "one", "two", "few", "many", "other"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _offered_locales() -> list[str]:
    """The LOCALES list of shared/i18n.js, the languages the pages offer."""
    source = (STATIC_DIR / "shared" / "i18n.js").read_text(encoding="utf-8")
    found = re.search(r"export const LOCALES = \[([^\]]*)\]", source)
    assert found, "shared/i18n.js names its LOCALES"
    return re.findall(r'"([a-z-]+)"', found.group(1))


def _pages() -> list[Path]:
    return sorted(path for path in CATALOGS.iterdir() if path.is_dir())


def _catalogs() -> list[tuple[str, str]]:
    return [(page.name, path.stem) for page in _pages() for path in sorted(page.glob("*.json"))]


def _load(page: str, locale: str) -> dict[str, Any]:
    data = json.loads((CATALOGS / page / f"{locale}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{page}/{locale}.json is not an object"
    return data


def _placeholders(message: Any) -> set[str]:
    texts = message.values() if isinstance(message, dict) else [message]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def test_there_are_catalogs() -> None:
    assert {page.name for page in _pages()} >= {"host", "create"}


@pytest.mark.parametrize("page", [page.name for page in _pages()])
def test_every_offered_locale_has_a_catalog(page: str) -> None:
    missing = [
        locale for locale in _offered_locales() if not (CATALOGS / page / f"{locale}.json").exists()
    ]
    assert not missing, f"{page} has no catalog for {missing}"


@pytest.mark.parametrize(("page", "locale"), _catalogs())
def test_a_catalog_has_the_keys_and_placeholders_of_english(page: str, locale: str) -> None:
    english = _load(page, "en")
    catalog = _load(page, locale)
    assert sorted(set(english) - set(catalog)) == [], f"{page}/{locale}.json lacks these keys"
    assert sorted(set(catalog) - set(english)) == [], f"{page}/{locale}.json has keys en lacks"
    for key, message in catalog.items():
        assert _placeholders(message) == _placeholders(english[key]), (
            f"{page}/{locale}.json {key!r} names other placeholders than en.json"
        )
        if isinstance(english[key], dict):
            assert isinstance(message, dict), f"{page}/{locale}.json {key!r} must be plural"
        if isinstance(message, dict):
            assert "other" in message, f"{page}/{locale}.json {key!r} has no 'other' form"
            assert set(message) <= PLURAL_FORMS, f"{page}/{locale}.json {key!r}: {set(message)}"
            assert all(isinstance(text, str) and text for text in message.values()), key
        else:
            assert isinstance(message, str) and message.strip(), (
                f"{page}/{locale}.json {key!r} is empty"
            )
