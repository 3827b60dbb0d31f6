"""Event state over HTTP: versions, merge patches, If-Match, and the bad input around them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.factories import create_event, join
from tests.participants.test_bad_input import assert_problem

NESTED: object = 1
for _ in range(40):
    NESTED = [NESTED]


def state_path(code: str) -> str:
    return f"/api/events/{code}/state"


async def read_state(client: httpx.AsyncClient, code: str) -> tuple[dict[str, Any], int]:
    event = (await client.get(f"/api/events/{code}")).json()
    return event["state"], event["state_version"]


async def test_an_event_starts_at_version_0_and_each_patch_is_the_next_version(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    assert event.body["event"]["state"] == {} and event.body["event"]["state_version"] == 0
    first = await client.patch(
        state_path(event.code),
        json={"question": {"id": "q1", "text": "6 x 7?"}, "phase": "asking"},
        headers=event.host_headers,
    )
    assert first.status_code == 200, first.text
    assert first.json() == {
        "state": {"question": {"id": "q1", "text": "6 x 7?"}, "phase": "asking"},
        "version": 1,
    }
    assert first.headers["etag"] == '"1"'
    second = await client.patch(
        state_path(event.code),
        json={"question": {"text": "7 x 8?"}, "phase": None},  # RFC 7396: null removes
        headers=event.host_headers,
    )
    assert second.json() == {"state": {"question": {"id": "q1", "text": "7 x 8?"}}, "version": 2}
    assert await read_state(client, event.code) == ({"question": {"id": "q1", "text": "7 x 8?"}}, 2)


async def test_if_match_applies_only_on_that_version_else_412_version_conflict(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    path, host = state_path(event.code), event.host_headers
    assert (await client.patch(path, json={"round": 1}, headers=host)).json()["version"] == 1

    # Two hosts read version 1; the first change wins, the second learns it lost.
    won = await client.patch(path, json={"round": 2}, headers={**host, "If-Match": '"1"'})
    assert won.status_code == 200 and won.json()["version"] == 2
    lost = await client.patch(path, json={"round": 9}, headers={**host, "If-Match": '"1"'})
    problem = assert_problem(lost, 412, "version_conflict")
    assert problem["version"] == 2
    wrapped = await client.patch(
        path, json={"patch": {"round": 9}, "expect_version": 1}, headers=host
    )
    assert assert_problem(wrapped, 412, "version_conflict")["version"] == 2
    assert await read_state(client, event.code) == ({"round": 2}, 2), "nothing of the losers"

    again = await client.patch(
        path, json={"patch": {"round": 3}, "expect_version": 2}, headers=host
    )
    assert again.json() == {"state": {"round": 3}, "version": 3}
    starred = await client.patch(path, json={"round": 4}, headers={**host, "If-Match": "*"})
    assert starred.json()["version"] == 4


async def test_concurrent_patches_each_get_their_own_version_and_all_count(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    answers = await asyncio.gather(
        *(
            client.patch(state_path(event.code), json={f"k{n}": n}, headers=event.host_headers)
            for n in range(10)
        )
    )
    assert sorted(answer.json()["version"] for answer in answers) == list(range(1, 11))
    state, version = await read_state(client, event.code)
    assert version == 10 and state == {f"k{n}": n for n in range(10)}


async def test_with_if_match_concurrent_patches_of_one_version_make_one_change(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    answers = await asyncio.gather(
        *(
            client.patch(
                state_path(event.code),
                json={"winner": n},
                headers={**event.host_headers, "If-Match": '"0"'},
            )
            for n in range(8)
        )
    )
    assert sorted(answer.status_code for answer in answers) == [200] + [412] * 7
    assert (await read_state(client, event.code))[1] == 1


async def test_a_patch_that_would_grow_the_state_past_64_kib_keeps_the_old_one(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    path, host = state_path(event.code), event.host_headers
    assert (await client.patch(path, json={"a": "x" * 40_000}, headers=host)).status_code == 200
    too_big = await client.patch(path, json={"b": "y" * 30_000}, headers=host)
    assert_problem(too_big, 413, "state_too_large")
    assert await read_state(client, event.code) == ({"a": "x" * 40_000}, 1)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ([1, 2], 422, "validation_error"),
        ("question", 422, "validation_error"),
        ({"patch": [1], "expect_version": 1}, 422, "validation_error"),
        ({"patch": {"a": 1}, "expect_version": -1}, 422, "validation_error"),
        ({"patch": {"a": 1}, "expect_version": "1"}, 422, "validation_error"),
        ({"patch": {"a": 1}, "expect_version": True}, 422, "validation_error"),
        ({"text": "nul\u0000"}, 422, "validation_error"),
        ({"deep": NESTED}, 422, "validation_error"),
        ({"blob": "x" * 70_000}, 413, "payload_too_large"),
    ],
)
async def test_bad_state_patches_store_nothing(
    client: httpx.AsyncClient, body: object, status: int, code: str
) -> None:
    event = await create_event(client)
    answer = await client.patch(state_path(event.code), json=body, headers=event.host_headers)
    assert_problem(answer, status, code)
    assert await read_state(client, event.code) == ({}, 0)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e999"])
async def test_a_number_json_has_not_is_refused_in_the_event_state(
    client: httpx.AsyncClient, number: str
) -> None:
    event = await create_event(client)
    answer = await client.patch(
        state_path(event.code),
        content=f'{{"score": {number}}}',
        headers={**event.host_headers, "content-type": "application/json"},
    )
    assert_problem(answer, 422, "validation_error")


@pytest.mark.parametrize("if_match", ['W/"1"', "one", '"1", "2"', '"-1"'])
async def test_an_if_match_that_names_no_version_is_refused(
    client: httpx.AsyncClient, if_match: str
) -> None:
    event = await create_event(client)
    answer = await client.patch(
        state_path(event.code), json={"a": 1}, headers={**event.host_headers, "If-Match": if_match}
    )
    assert_problem(answer, 422, "validation_error")
    assert await read_state(client, event.code) == ({}, 0)


async def test_only_the_host_changes_the_state_and_a_closed_event_keeps_its_own(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    path = state_path(event.code)
    assert_problem(await client.patch(path, json={"a": 1}), 401, "invalid_token")
    player = (await join(client, event.code)).json()["session_token"]
    as_player = {"Authorization": f"Bearer {player}"}
    assert_problem(await client.patch(path, json={"a": 1}, headers=as_player), 401, "invalid_token")
    assert_problem(
        await client.patch(state_path("ZZZZZZ"), json={"a": 1}, headers=event.host_headers),
        404,
        "event_not_found",
    )
    await client.patch(path, json={"a": 1}, headers=event.host_headers)
    await client.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    )
    assert_problem(
        await client.patch(path, json={"a": 2}, headers=event.host_headers), 410, "event_closed"
    )
    assert await read_state(client, event.code) == ({"a": 1}, 1)
