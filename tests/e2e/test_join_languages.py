"""The join page speaks the reader's language: chosen from the browser's, switchable, and complete.

Each screen is reached once, then drawn in every language through the page's own language menu;
any text still as in English (names, codes and the brand aside) fails the test. Arabic reads right
to left. Screenshots of three languages go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pages import Phone, create_event, roster
from tests.e2e.phone_screens import LOCALES, SCREENS, ScreenMaker, catalog, join

pytestmark = pytest.mark.e2e

BRAND = "rollcall"
# Visible text of the page: each text node of a visible element, and the attributes people hear
# or see (labels, placeholders), and the document's title. The language menu names each language
# in its own words on purpose, so it is left out.
VISIBLE_TEXT = """() => {
    const texts = [document.title];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || parent.closest("select, script, style, noscript")) continue;
        if (!parent.checkVisibility({ visibilityProperty: true })) continue;
        texts.push(node.textContent);
    }
    for (const element of document.body.querySelectorAll("[aria-label], [placeholder], [title]")) {
        if (element.closest("select") || !element.checkVisibility()) continue;
        for (const name of ["aria-label", "placeholder", "title"]) {
            if (element.hasAttribute(name)) texts.push(element.getAttribute(name));
        }
    }
    return texts.map((text) => text.trim()).filter(Boolean);
}"""
NOT_WORDS = re.compile(r"^[\d\s\W]*$")  # numbers, dots, punctuation: the same in any language


def switch_language(page: Page, locale: str) -> None:
    page.locator("#language").select_option(locale)
    expect(page.locator("html")).to_have_attribute("lang", locale)


def english_left(shown: list[str], english: list[str], own: set[str], data: set[str]) -> list[str]:
    """Texts shown in another language that are just as they were in English.

    Allowed: the event's data (its title, a person's name, the code), the brand, numbers, and a
    word the language's own catalog says the same way on purpose ("Offline" in German).
    """

    def only_data(text: str) -> bool:
        for word in sorted(data | {BRAND}, key=len, reverse=True):
            text = text.replace(word, "")
        return bool(NOT_WORDS.match(text))

    return [text for text in shown if text in english and not only_data(text) and text not in own]


def values(messages: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for message in messages.values():
        found |= set(message.values()) if isinstance(message, dict) else {message}
    return found


def test_every_catalog_has_every_key_with_the_same_placeholders() -> None:
    english = catalog("en")
    placeholders = re.compile(r"\{(\w+)\}")
    for locale in LOCALES:
        messages = catalog(locale)
        assert list(messages) == list(english), locale
        for key, message in messages.items():
            forms = message.values() if isinstance(message, dict) else [message]
            english_forms = (
                english[key].values() if isinstance(english[key], dict) else [english[key]]
            )
            wanted = set().union(*(set(placeholders.findall(form)) for form in english_forms))
            for form in forms:
                assert set(placeholders.findall(form)) <= wanted | {"count"}, (locale, key, form)
            if isinstance(message, dict):
                assert "other" in message, (locale, key)


def test_plural_messages_have_every_form_the_language_uses(
    phone: Callable[..., Phone], api: httpx.Client
) -> None:
    """Intl.PluralRules says which forms a language has (Polish: one, few, many, other)."""
    ana = phone()
    ana.open(create_event(api).code)
    for locale in LOCALES:
        categories = ana.page.evaluate(
            "(locale) => new Intl.PluralRules(locale).resolvedOptions().pluralCategories", locale
        )
        for key, message in catalog(locale).items():
            if isinstance(message, dict):
                missing = set(categories) - set(message)
                assert not missing, f"{locale} {key} lacks {sorted(missing)}"


@pytest.mark.parametrize("screen", SCREENS)
def test_each_screen_is_translated_in_every_language(
    screen: str, phone: Callable[..., Phone], api: httpx.Client
) -> None:
    reached = ScreenMaker(phone, api).reach(screen)
    page = reached.phone.page
    english = page.evaluate(VISIBLE_TEXT)
    assert english, f"{screen} shows no text"
    for locale in LOCALES[1:]:
        reached.switch_language(locale)
        shown = page.evaluate(VISIBLE_TEXT)
        left = english_left(shown, english, values(catalog(locale)), reached.data)
        assert not left, f"{screen} in {locale} still says {left}"
        # The words the host's English catalog has, whole, do not hide inside a sentence either.
        long_english = [text for text in values(catalog("en")) if len(text) > 12]
        hidden = [text for text in long_english for line in shown if text in line]
        assert not hidden, f"{screen} in {locale} says {hidden}"
    reached.switch_language("en")
    assert page.evaluate(VISIBLE_TEXT) == english


def test_the_leave_dialog_speaks_the_page_language(
    phone: Callable[..., Phone], api: httpx.Client
) -> None:
    ana = phone()
    join(ana, create_event(api, title="Quiz"))
    english = None
    for locale in LOCALES:
        switch_language(ana.page, locale)
        ana.page.locator(".leave-button").click()
        dialog = ana.page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        texts = dialog.evaluate(
            "(node) => [...node.querySelectorAll('h2, p, button')].map((e) => e.textContent)"
        )
        if english is None:
            english = texts
        else:
            assert not set(texts) & set(english), f"{locale}: {set(texts) & set(english)}"
        dialog.locator("button[value=cancel]").click()
        expect(dialog).to_have_count(0)
    expect(ana.page.locator("[data-screen='joined']")).to_be_visible()


@pytest.mark.parametrize(
    ("browser_locale", "expected"),
    [("de-DE", "de"), ("pt-BR", "pt"), ("ar-EG", "ar"), ("ja-JP", "en")],
)
def test_the_language_comes_from_the_browser_and_a_choice_is_kept(
    browser_locale: str, expected: str, phone: Callable[..., Phone], api: httpx.Client
) -> None:
    ana = phone(locale=browser_locale)
    event = create_event(api)
    ana.open(event.code)
    html = ana.page.locator("html")
    expect(html).to_have_attribute("lang", expected)
    expect(html).to_have_attribute("dir", "rtl" if expected == "ar" else "ltr")
    expect(ana.page.locator("#name")).to_be_visible()
    expect(ana.page.locator("label[for=name]")).to_have_text(catalog(expected)["name.label"])

    switch_language(ana.page, "fr")
    ana.page.reload()
    expect(html).to_have_attribute("lang", "fr")
    expect(ana.page.locator("label[for=name]")).to_have_text("Votre nom")


def test_arabic_reads_right_to_left(phone: Callable[..., Phone], api: httpx.Client) -> None:
    ana = phone(locale="ar")
    event = create_event(api, title="مسابقة الجمعة")
    join(ana, event, "Ana")
    page = ana.page
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    # The brand sits at the start of the top bar: on the right in Arabic.
    brand = page.locator(".brand").bounding_box()
    tools = page.locator(".topbar-tools").bounding_box()
    assert brand and tools and brand["x"] > tools["x"]
    # The score is written as Arabic readers write numbers (Intl.NumberFormat's digits for "ar").
    [ana_id] = [p["id"] for p in roster(api, event)]
    api.patch(
        f"/api/events/{event.code}/participants/{ana_id}",
        json={"state": {"score": 1234}},
        headers=event.host_headers,
    ).raise_for_status()
    written = page.evaluate("new Intl.NumberFormat('ar').format(1234)")
    expect(ana.score).to_have_text(written)


def test_screenshots_of_the_join_page_in_three_languages(
    phone: Callable[..., Phone], api: httpx.Client, screenshots: Path
) -> None:
    """Into artifacts/screenshots/; docs/screenshots/ keeps a copy of each."""
    for locale, title, name in [
        ("de", "Quizabend im Bahnhof", "Jonas"),
        ("es", "Noche de preguntas", "Lucía"),
        ("ar", "مسابقة الجمعة", "ليلى"),
    ]:
        person = phone(locale=locale, device_scale_factor=2)
        join(person, create_event(api, title=title), name)
        person.page.mouse.move(0, 0)
        person.page.screenshot(
            path=str(screenshots / f"join-{locale}-phone.png"), animations="disabled", caret="hide"
        )
