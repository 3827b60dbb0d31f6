"""Names people see: no hidden characters, no blank names, no look-alikes side by side."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.factories import create_event, join


async def test_format_characters_are_stripped_from_the_name_shown(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    response = await join(client, event.code, name="\u202eAna\u200d Lima\u2066")
    assert response.status_code == 201
    assert response.json()["participant"]["display_name"] == "Ana Lima"


@pytest.mark.parametrize(
    "name", ["\u2800", "\u3164", "\u3164\u3164", "\uffa0", "!!!", "...", "👍👍", "\u2800 \u3164 -"]
)
async def test_a_name_with_no_visible_letter_or_digit_is_refused(
    client: httpx.AsyncClient, name: str
) -> None:
    event = await create_event(client)
    response = await join(client, event.code, name=name)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "display_name"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Ana", "\u0410na"),  # Cyrillic capital A
        ("ana", "\u0430na"),  # Cyrillic small a
        ("Alice", "AIice"),  # a capital i for the l
        ("Oscar", "\u039fscar"),  # Greek capital omicron
        ("Bob", "\u0392ob"),  # Greek capital beta
    ],
)
async def test_look_alike_names_collide(client: httpx.AsyncClient, first: str, second: str) -> None:
    event = await create_event(client)
    assert (await join(client, event.code, name=first)).status_code == 201
    taken = await join(client, event.code, name=second)
    assert taken.status_code == 409
    assert taken.json()["code"] == "name_taken"


async def test_devices_racing_for_look_alike_names_get_one_seat(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    spellings = ["Ana", "\u0410na", "\u0410n\u0430", "ANA", "\u0430na"] * 4
    answers = await asyncio.gather(*(join(client, event.code, name=n) for n in spellings))
    assert sorted(a.status_code for a in answers) == [201] + [409] * (len(spellings) - 1)


async def test_different_names_still_pass(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    for name in ("Ana", "Ána", "Anna", "Анна", "안나", "Ana 2"):
        response = await join(client, event.code, name=name)
        assert response.status_code == 201, name
