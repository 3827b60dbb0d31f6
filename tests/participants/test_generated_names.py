"""Generated names: the server picks a free two-word name in the page's language."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rollcall.participants import generated
from rollcall.participants.wordfilter import LANGUAGES
from tests.factories import create_event, join, new_device


async def test_thirty_generated_joins_give_thirty_distinct_names(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, names="generated")
    answers = await asyncio.gather(
        *[join(client, event.code, generated_name=True) for _ in range(30)]
    )
    assert [a.status_code for a in answers] == [201] * 30
    names = [a.json()["participant"]["display_name"] for a in answers]
    assert len(set(names)) == 30
    assert all(generated.is_generated(name, "en") for name in names), names


async def test_a_generated_name_is_in_the_page_language(client: httpx.AsyncClient) -> None:
    event = await create_event(client, names="generated")
    for language in LANGUAGES:
        answer = await join(client, event.code, generated_name=True, language=language)
        assert answer.status_code == 201, answer.text
        assert generated.is_generated(answer.json()["participant"]["display_name"], language)


async def test_the_page_suggestion_is_taken_while_free(client: httpx.AsyncClient) -> None:
    event = await create_event(client, names="generated")
    offered = await client.get(
        f"/api/events/{event.code}/generated-name", params={"language": "de"}
    )
    assert offered.status_code == 200
    name = offered.json()["display_name"]
    assert generated.is_generated(name, "de")
    first = await join(client, event.code, generated_name=True, suggestion=name, language="de")
    assert first.json()["participant"]["display_name"] == name
    # Taken now: the next phone that was offered it gets another.
    second = await join(client, event.code, generated_name=True, suggestion=name, language="de")
    assert second.status_code == 201
    assert second.json()["participant"]["display_name"] != name
    # A made-up suggestion is not a generated name: the server draws one instead.
    third = await join(client, event.code, generated_name=True, suggestion="Sneaky Name")
    assert generated.is_generated(third.json()["participant"]["display_name"], "en")


async def test_a_rejoin_keeps_the_generated_name(client: httpx.AsyncClient) -> None:
    event = await create_event(client, names="generated")
    device = new_device()
    first = await join(client, event.code, device_id=device, generated_name=True)
    again = await join(client, event.code, device_id=device, generated_name=True)
    typed = await join(client, event.code, device_id=device, name="Typed anyway")
    assert (again.status_code, typed.status_code) == (200, 200)
    name = first.json()["participant"]["display_name"]
    assert again.json()["participant"]["display_name"] == name
    assert typed.json()["participant"]["display_name"] == name


async def test_the_wrong_kind_of_name_is_409(client: httpx.AsyncClient) -> None:
    chosen = await create_event(client)
    refused = await join(client, chosen.code, generated_name=True)
    assert (refused.status_code, refused.json()["code"]) == (409, "generated_names_off")
    generated_event = await create_event(client, names="generated")
    typed = await join(client, generated_event.code, name="Anything")
    assert (typed.status_code, typed.json()["code"]) == (409, "names_generated")


async def test_a_generated_name_the_host_blocked_is_drawn_again(
    client: httpx.AsyncClient,
) -> None:
    """With a tenth of the nouns blocked, 30 joins all get in, none with a blocked word."""
    blocked = set(generated.words("en").nouns[:5])
    event = await create_event(
        client, names="generated", name_filter="custom", blocked_words=sorted(blocked)
    )
    answers = [await join(client, event.code, generated_name=True) for _ in range(30)]
    assert [a.status_code for a in answers] == [201] * 30
    for answer in answers:
        assert not blocked & set(answer.json()["participant"]["display_name"].split())


async def test_when_every_generated_name_is_blocked_the_join_is_422(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(
        client,
        names="generated",
        name_filter="custom",
        # Every English adjective has one of these vowels (a name of "Quick Finch" got past
        # a, e and o alone, once in a few dozen runs).
        blocked_words=["*a*", "*e*", "*i*", "*o*", "*u*"],
    )
    answer = await join(client, event.code, generated_name=True)
    assert (answer.status_code, answer.json()["code"]) == (422, "name_not_allowed")


@pytest.mark.parametrize(
    "body",
    [
        {"generated_name": True, "display_name": "Both"},
        {"generated_name": False},
        {"display_name": "Ana", "suggestion": "Brave Otter"},
        {"generated_name": True, "language": "xx"},
    ],
)
async def test_bad_generated_name_bodies_are_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    event = await create_event(client, names="generated")
    answer = await client.post(
        f"/api/events/{event.code}/join", json={"device_id": new_device(), **body}
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "validation_error")
