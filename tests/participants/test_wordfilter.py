"""The word filter: folding, whole words and inside words, the built-in list, the host's words."""

from __future__ import annotations

import json
from importlib.resources import files

import httpx
import pytest

from rollcall.participants import generated
from rollcall.participants.wordfilter import (
    LANGUAGES,
    builtin_list,
    builtin_refuses,
    folded_words,
    host_pattern,
    name_forms,
)
from tests.factories import create_event, join


def host_refuses(entry: str, name: str) -> bool:
    pattern = host_pattern(entry)
    assert pattern is not None
    return pattern.text in name_forms(name)


@pytest.mark.parametrize(
    "name",
    [
        "badword",
        "BADWORD",
        "B a d w o r d",
        "b.a.d.w.o.r.d",
        "b4dw0rd",
        "BAD W0RD",
        "bad_word",
        "b\u03b1dword",  # Greek small alpha
        "B\u0391DWORD",  # Greek capital Alpha
        "b\u0430dword",  # Cyrillic a
        "b@dword",
        "Mr b a d w o r d",
        "badword!!",
    ],
)
def test_a_blocked_word_is_refused_however_it_is_spelled(name: str) -> None:
    assert host_refuses("badword", name)


@pytest.mark.parametrize("name", ["badwords", "Abadword", "bad", "bad wordy", "Ana"])
def test_a_whole_word_does_not_match_inside_other_words(name: str) -> None:
    assert not host_refuses("badword", name)


def test_an_inside_word_matches_anywhere() -> None:
    assert host_refuses("*badword*", "Mybadwordname")
    assert host_refuses("*badword*", "my-b4d-w0rd-name")
    assert not host_refuses("*badword*", "bad one word")


def test_digit_and_symbol_swaps_fold_to_letters() -> None:
    assert folded_words("0 1 l I 3 4 5 7 @ $") == ["o", "i", "i", "i", "e", "a", "s", "t", "a", "s"]


@pytest.mark.parametrize(
    "name",
    ["Scunthorpe", "Dickens", "class act", "Title", "Cocktail", "Assassin", "Ana L", "Analyst"],
)
def test_the_scunthorpe_problem_innocent_names_pass_the_default_filter(name: str) -> None:
    assert not builtin_refuses(name)


@pytest.mark.parametrize("name", ["Anita", "Regina", "Bitte", "Con Amor", "Pippa", "Dick"])
def test_ordinary_words_and_given_names_of_the_page_languages_pass(name: str) -> None:
    assert not builtin_refuses(name)


@pytest.mark.parametrize(
    "name", ["shit", "Sh1t", "S H I T", "fuckface", "arschloch", "Connard", "kurwa", "cazzo"]
)
def test_the_default_filter_refuses_offensive_names(name: str) -> None:
    assert builtin_refuses(name)


def test_every_policy_entry_names_a_word_of_the_lists() -> None:
    """policy.json speaks of list entries only: a typo there would silently change nothing."""
    words = files("rollcall.participants").joinpath("words")
    policy = json.loads(words.joinpath("policy.json").read_text(encoding="utf-8"))
    entries = set()
    for language in LANGUAGES:
        listed = json.loads(words.joinpath("blocked", f"{language}.json").read_text("utf-8"))
        entries |= {"".join(folded_words(entry)) for entry in listed}
    for word in [*policy["inside"], *policy["allowed"]]:
        assert "".join(folded_words(word)) in entries, word


def test_the_fast_list_answers_as_the_patterns_do() -> None:
    """WordList.refuses is `pattern in forms` for every pattern, as the database matches."""
    wordlist = builtin_list()
    patterns = [f" {word} " for word in wordlist.whole] + list(wordlist.inside)
    for name in ["Shit happens", "B a d", "x fuck y", "Ana L", "Player 12", "pen is", "kurwa mac"]:
        forms = name_forms(name)
        assert wordlist.refuses(forms) == any(p in forms for p in patterns), name


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_generated_name_is_refused_or_too_long(language: str) -> None:
    """Every combination of every language's words goes through the default filter."""
    names = generated.words(language).names()
    assert len(names) >= 1_500
    refused = [name for name in names if builtin_refuses(name)]
    assert refused == []
    assert max(len(name) for name in names) <= 32


async def test_the_database_refuses_a_blocked_word_in_every_spelling(
    client: httpx.AsyncClient,
) -> None:
    """The done-when's four spellings, through the API: 422 name_not_allowed, word never said."""
    event = await create_event(client, name_filter="custom", blocked_words=["badword"])
    for name in ["badword", "B a d w o r d", "b4dw0rd", "b\u03b1dword"]:
        refused = await join(client, event.code, name=name)
        assert refused.status_code == 422, (name, refused.text)
        problem = refused.json()
        assert problem["code"] == "name_not_allowed"
        assert "badword" not in refused.text.lower() and name not in refused.text
    assert (await join(client, event.code, name="Good word")).status_code == 201


async def test_off_custom_and_default(client: httpx.AsyncClient) -> None:
    off = await create_event(client, name_filter="off", blocked_words=["badword"])
    custom = await create_event(client, name_filter="custom", blocked_words=["badword"])
    default = await create_event(client, blocked_words=["badword"])
    assert default.body["event"]["name_filter"] == "default"
    events = (off, custom, default)
    for name, expected in [("badword", (201, 422, 422)), ("Sh1t", (201, 201, 422))]:
        got = tuple([(await join(client, e.code, name=name)).status_code for e in events])
        assert got == expected, name


async def test_a_new_filter_leaves_names_already_in(client: httpx.AsyncClient) -> None:
    event = await create_event(client, name_filter="off")
    assert (await join(client, event.code, name="Badword Bob")).status_code == 201
    changed = await client.patch(
        f"/api/events/{event.code}",
        json={"name_filter": "custom", "blocked_words": ["badword"]},
        headers=event.host_headers,
    )
    assert changed.status_code == 200
    roster = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    assert [p["display_name"] for p in roster.json()["participants"]] == ["Badword Bob"]
    assert (await join(client, event.code, name="Badword Ben")).status_code == 422


async def test_the_host_reads_the_words_and_phones_do_not(client: httpx.AsyncClient) -> None:
    event = await create_event(client, blocked_words=["badword", "*worse*", "badword"])
    read = await client.get(f"/api/events/{event.code}/name-filter", headers=event.host_headers)
    assert read.json() == {"name_filter": "default", "blocked_words": ["badword", "*worse*"]}
    public = await client.get(f"/api/events/{event.code}")
    assert "badword" not in public.text and "blocked_words" not in public.json()
    assert (await client.get(f"/api/events/{event.code}/name-filter")).status_code == 401


@pytest.mark.parametrize(
    "words",
    [[f"word{n}" for n in range(501)], ["!!!"], ["x" * 65], ["bad\nword"], "badword"],
)
async def test_bad_blocked_words_are_422(client: httpx.AsyncClient, words: object) -> None:
    event = await create_event(client)
    for response in [
        await client.post("/api/events", json={"title": "x", "blocked_words": words}),
        await client.patch(
            f"/api/events/{event.code}", json={"blocked_words": words}, headers=event.host_headers
        ),
    ]:
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_error"
        assert response.json()["errors"][0]["field"].startswith("blocked_words")


async def test_five_hundred_words_are_allowed(client: httpx.AsyncClient) -> None:
    words = [f"word{n}" for n in range(500)]
    event = await create_event(client, name_filter="custom", blocked_words=words)
    assert (await join(client, event.code, name="w0rd499")).status_code == 422
    assert (await join(client, event.code, name="word500")).status_code == 201
