"""Actions over HTTP: stored once per (participant, id), in seq order, and who may act."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from rollcall.settings import Settings
from tests.factories import HostedEvent, bearer, create_event, join
from tests.participants.test_bad_input import assert_problem

ACTIONS = "/api/session/actions"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with actions limited to 5 a second per participant."""
    return settings.model_copy(update={"limit_actions": "5/second"})


async def player(client: httpx.AsyncClient, event: HostedEvent) -> dict[str, Any]:
    joined: dict[str, Any] = (await join(client, event.code)).json()
    return joined


async def act(
    client: httpx.AsyncClient, token: str, action_id: str, name: str = "answer", data: Any = None
) -> httpx.Response:
    body = {"id": action_id, "name": name, "data": data}
    return await client.post(ACTIONS, json=body, headers=bearer(token))


async def listed(client: httpx.AsyncClient, event: HostedEvent, **query: Any) -> dict[str, Any]:
    answer = await client.get(
        f"/api/events/{event.code}/actions", params=query, headers=event.host_headers
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def stored_actions(database_url: str, event: HostedEvent) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM actions AS a JOIN events AS e ON e.id = a.event_id"
            " WHERE e.code = $1",
            event.code,
        )
    finally:
        await conn.close()
    return count


async def test_an_action_is_stored_once_and_a_repeat_gets_the_first_seq(
    client: httpx.AsyncClient, database_url: str
) -> None:
    event = await create_event(client)
    ana = await player(client, event)
    first = await act(client, ana["session_token"], "q1", data={"choice": "B"})
    assert first.status_code == 201, first.text
    assert first.json() == {"id": "q1", "seq": first.json()["seq"], "duplicate": False}
    again = await act(client, ana["session_token"], "q1", data={"choice": "C"})
    assert again.status_code == 200
    assert again.json() == {"id": "q1", "seq": first.json()["seq"], "duplicate": True}

    [stored] = (await listed(client, event))["actions"]
    assert stored["data"] == {"choice": "B"}, "the first one stands"
    assert stored["participant_id"] == ana["participant"]["id"]
    assert (stored["id"], stored["name"], stored["seq"]) == ("q1", "answer", first.json()["seq"])
    assert await stored_actions(database_url, event) == 1


async def test_a_crowd_of_repeats_at_once_stores_one(
    client: httpx.AsyncClient, database_url: str
) -> None:
    event = await create_event(client)
    ana = await player(client, event)
    answers = await asyncio.gather(*(act(client, ana["session_token"], "tap") for _ in range(5)))
    assert sorted(answer.status_code for answer in answers) == [200, 200, 200, 200, 201]
    assert len({answer.json()["seq"] for answer in answers}) == 1
    assert await stored_actions(database_url, event) == 1


async def test_ids_are_each_participants_own_and_seqs_follow_the_host_stream(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    ana, bo = await player(client, event), await player(client, event)
    a1 = (await act(client, ana["session_token"], "q1")).json()
    b1 = (await act(client, bo["session_token"], "q1")).json()
    assert not a1["duplicate"] and not b1["duplicate"]
    await client.patch(f"/api/events/{event.code}/state", json={"q": 2}, headers=event.host_headers)
    a2 = (await act(client, ana["session_token"], "q2", name="vote")).json()
    # Two joins, then the actions and the state change, each the next seq of the event's log.
    assert [a1["seq"], b1["seq"], a2["seq"]] == [3, 4, 6]

    everything = await listed(client, event)
    assert [a["seq"] for a in everything["actions"]] == [3, 4, 6]
    assert everything["next_since"] == 6
    page = await listed(client, event, since=3, limit=1)
    assert [a["seq"] for a in page["actions"]] == [4] and page["next_since"] == 4
    assert (await listed(client, event, since=6))["actions"] == []
    assert (await listed(client, event, since=6))["next_since"] == 6
    assert [a["seq"] for a in (await listed(client, event, name="vote"))["actions"]] == [6]


async def test_a_waiting_participant_may_not_act_yet(client: httpx.AsyncClient) -> None:
    event = await create_event(client, admission="approval")
    waiting = await player(client, event)
    assert waiting["participant"]["status"] == "pending"
    assert_problem(await act(client, waiting["session_token"], "q1"), 403, "participant_pending")
    admitted = await client.post(
        f"/api/events/{event.code}/participants/{waiting['participant']['id']}/admit",
        headers=event.host_headers,
    )
    assert admitted.status_code == 200
    assert (await act(client, waiting["session_token"], "q1")).status_code == 201


async def test_a_session_that_ended_may_not_act(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    kicked, left, stays = [await player(client, event) for _ in range(3)]
    await client.post(
        f"/api/events/{event.code}/participants/{kicked['participant']['id']}/kick",
        headers=event.host_headers,
    )
    await client.delete("/api/session", headers=bearer(left["session_token"]))
    assert_problem(await act(client, kicked["session_token"], "q1"), 401, "invalid_token")
    assert_problem(await act(client, left["session_token"], "q1"), 401, "invalid_token")
    assert_problem(await client.post(ACTIONS, json={"id": "q1", "name": "a"}), 401, "invalid_token")

    # Closing the event ends every session: its tokens are refused like any other.
    assert (await act(client, stays["session_token"], "q1")).status_code == 201
    await client.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    )
    assert_problem(await act(client, stays["session_token"], "q2"), 401, "invalid_token")
    assert_problem(await act(client, stays["session_token"], "q1"), 401, "invalid_token")
    assert [a["id"] for a in (await listed(client, event))["actions"]] == ["q1"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"id": "", "name": "answer"}, 422, "validation_error"),
        ({"id": "x" * 65, "name": "answer"}, 422, "validation_error"),
        ({"id": "q 1", "name": "answer"}, 422, "validation_error"),
        ({"id": "q/1", "name": "answer"}, 422, "validation_error"),
        ({"id": 1, "name": "answer"}, 422, "validation_error"),
        ({"name": "answer"}, 422, "validation_error"),
        ({"id": "q1", "name": "Answer"}, 422, "validation_error"),
        ({"id": "q1", "name": "x" * 33}, 422, "validation_error"),
        ({"id": "q1", "name": ""}, 422, "validation_error"),
        ({"id": "q1"}, 422, "validation_error"),
        ({"id": "q1", "name": "answer", "data": "x" * 5000}, 413, "action_too_large"),
        ({"id": "q1", "name": "answer", "data": {"t": "nul\u0000"}}, 422, "validation_error"),
        ({"id": "q1", "name": "answer", "score": 3}, 422, "validation_error"),
        ([1], 422, "validation_error"),
    ],
)
async def test_bad_actions_are_refused_and_store_nothing(
    client: httpx.AsyncClient, database_url: str, body: object, status: int, code: str
) -> None:
    event = await create_event(client)
    ana = await player(client, event)
    answer = await client.post(ACTIONS, json=body, headers=bearer(ana["session_token"]))
    assert_problem(answer, status, code)
    assert await stored_actions(database_url, event) == 0


async def test_the_largest_action_and_the_longest_id_are_taken(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    ana = await player(client, event)
    data = "x" * (4096 - 2)  # a JSON string of 4096 bytes, quotes included
    answer = await act(client, ana["session_token"], "Aa0_.:-" + "z" * 57, "a.b_c-d", data)
    assert answer.status_code == 201, answer.text
    [stored] = (await listed(client, event))["actions"]
    assert stored["data"] == data


async def test_a_number_json_has_not_is_refused_as_action_data(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    ana = await player(client, event)
    answer = await client.post(
        ACTIONS,
        content='{"id": "q1", "name": "answer", "data": NaN}',
        headers={**bearer(ana["session_token"]), "content-type": "application/json"},
    )
    assert_problem(answer, 422, "validation_error")


async def test_past_the_limit_actions_get_429_and_store_nothing(
    client: httpx.AsyncClient, database_url: str
) -> None:
    event = await create_event(client)
    ana, bo = await player(client, event), await player(client, event)
    for n in range(5):
        assert (await act(client, ana["session_token"], f"a{n}")).status_code == 201
    limited = await act(client, ana["session_token"], "a5")
    assert_problem(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert (await act(client, bo["session_token"], "b0")).status_code == 201, "per participant"
    assert await stored_actions(database_url, event) == 6


@pytest.mark.parametrize(
    "query",
    [{"since": -1}, {"limit": 0}, {"limit": 1001}, {"name": "Answer"}, {"since": "x"}],
)
async def test_bad_action_queries_are_refused(
    client: httpx.AsyncClient, query: dict[str, object]
) -> None:
    event = await create_event(client)
    answer = await client.get(
        f"/api/events/{event.code}/actions", params=query, headers=event.host_headers
    )
    assert_problem(answer, 422, "validation_error")


async def test_only_the_host_lists_actions(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    ana = await player(client, event)
    path = f"/api/events/{event.code}/actions"
    assert_problem(await client.get(path), 401, "invalid_token")
    assert_problem(
        await client.get(path, headers=bearer(ana["session_token"])), 401, "invalid_token"
    )
