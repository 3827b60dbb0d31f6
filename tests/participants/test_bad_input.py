"""Bad input always gets a 4xx problem+json with a stable code, never a 500."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.factories import create_event, join, new_device

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["code"] == code and body["status"] == status and body["detail"]
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": "Ana"}, "device_id"),
        ({"device_id": "not-a-uuid", "display_name": "Ana"}, "device_id"),
        ({"device_id": "00000000-0000-0000-0000-000000000000", "display_name": "Ana"}, "device_id"),
        ({"device_id": 12, "display_name": "Ana"}, "device_id"),
        ({"device_id": "{device}"}, "display_name"),
        ({"device_id": "{device}", "display_name": ""}, "display_name"),
        ({"device_id": "{device}", "display_name": "   "}, "display_name"),
        ({"device_id": "{device}", "display_name": "\u200b\u200b"}, "display_name"),
        ({"device_id": "{device}", "display_name": "x" * 33}, "display_name"),
        ({"device_id": "{device}", "display_name": "Ana\tLima"}, "display_name"),
        ({"device_id": "{device}", "display_name": "Ana\nLima"}, "display_name"),
        ({"device_id": "{device}", "display_name": "Ana\x00"}, "display_name"),
        ({"device_id": "{device}", "display_name": ["Ana"]}, "display_name"),
        ({"device_id": "{device}", "display_name": "Ana", "admin": True}, "admin"),
    ],
)
async def test_bad_join_bodies_name_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    event = await create_event(client)
    body = {k: (new_device() if v == "{device}" else v) for k, v in body.items()}
    response = await client.post(f"/api/events/{event.code}/join", json=body)
    problem = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == [field]  # type: ignore[union-attr]


async def test_a_name_of_32_characters_after_normalising_is_fine(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    response = await join(client, event.code, name="  " + "é" * 32 + "  ")
    assert response.status_code == 201


async def test_unknown_code_is_404_before_the_body_is_looked_at(client: httpx.AsyncClient) -> None:
    for code in ("ZZZZZZ", "nope", "ABC-12", "%20"):
        response = await client.post(
            f"/api/events/{code}/join",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert_problem(response, 404, "event_not_found")
    assert_problem(await client.get("/api/events/ZZZZZZ"), 404, "event_not_found")
    assert_problem(await client.get("/api/events/ZZZZZZ/qr.svg"), 404, "event_not_found")


async def test_malformed_json_wrong_type_and_oversized_bodies(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    url = f"/api/events/{event.code}/join"
    assert_problem(
        await client.post(
            url, content=b'{"device_id": ', headers={"content-type": "application/json"}
        ),
        400,
        "malformed_request",
    )
    assert_problem(
        await client.post(
            url,
            content=b"device_id=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        415,
        "unsupported_media_type",
    )
    assert_problem(await client.post(url, content=b"{}", headers={}), 415, "unsupported_media_type")
    big = json.dumps({"device_id": new_device(), "display_name": "Ana", "pad": "x" * 70_000})
    assert_problem(
        await client.post(url, content=big, headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )

    async def chunked() -> object:
        for _ in range(70):
            yield b" " * 1024

    streamed = await client.post(
        url, content=chunked(), headers={"content-type": "application/json"}
    )
    assert_problem(streamed, 413, "payload_too_large")
    assert_problem(await client.post("/api/events", json=[1, 2]), 422, "validation_error")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"state": [1, 2]}, 422, "validation_error"),
        ({"state": "score"}, 422, "validation_error"),
        ({"state": None}, 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"state": {"blob": "x" * 17_000}}, 413, "state_too_large"),
        ({"state": {"name": "nul\u0000byte"}}, 422, "validation_error"),
        ({"state": {"nul\u0000key": 1}}, 422, "validation_error"),
        ({"state": {"deep": [{"x": "\u0000"}]}}, 422, "validation_error"),
    ],
)
async def test_bad_state_patches(
    client: httpx.AsyncClient, body: dict[str, object], status: int, code: str
) -> None:
    event = await create_event(client)
    joined = (await join(client, event.code)).json()
    path = f"/api/events/{event.code}/participants/{joined['participant']['id']}"
    assert_problem(await client.patch(path, json=body, headers=event.host_headers), status, code)
    after = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    assert after.json()["participants"][0]["state"] == {}, "a refused patch stores nothing"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_a_number_json_has_not_is_refused_in_a_state(
    client: httpx.AsyncClient, number: str
) -> None:
    """Python reads NaN, Infinity and 1e999 (as inf); PostgreSQL's jsonb stores none of them."""
    event = await create_event(client)
    joined = (await join(client, event.code)).json()
    path = f"/api/events/{event.code}/participants/{joined['participant']['id']}"
    answer = await client.patch(
        path,
        content=f'{{"state": {{"score": {number}}}}}',
        headers={**event.host_headers, "content-type": "application/json"},
    )
    assert_problem(answer, 422, "validation_error")


async def test_a_state_patch_that_would_grow_past_16_kib_keeps_the_old_state(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    joined = (await join(client, event.code)).json()
    path = f"/api/events/{event.code}/participants/{joined['participant']['id']}"
    ok = await client.patch(path, json={"state": {"a": "x" * 9000}}, headers=event.host_headers)
    assert ok.status_code == 200
    assert_problem(
        await client.patch(path, json={"state": {"b": "y" * 9000}}, headers=event.host_headers),
        413,
        "state_too_large",
    )
    roster = await client.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    assert roster.json()["participants"][0]["state"] == {"a": "x" * 9000}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "\u0000"}, "title"),
        ({"title": "Quiz\nnight"}, "title"),
        ({"title": "Quiz", "capacity": 0}, "capacity"),
        ({"title": "Quiz", "capacity": 10_001}, "capacity"),
        ({"title": "Quiz", "capacity": "many"}, "capacity"),
    ],
)
async def test_bad_event_bodies(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    problem = assert_problem(await client.post("/api/events", json=body), 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == [field]  # type: ignore[union-attr]


async def test_bad_event_updates_and_ids(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    path = f"/api/events/{event.code}"
    for body in ({"status": "paused"}, {"capacity": -1}, {"capacity": 10_001}, {"colour": "red"}):
        assert_problem(
            await client.patch(path, json=body, headers=event.host_headers), 422, "validation_error"
        )
    assert_problem(
        await client.post(f"{path}/participants/not-a-uuid/kick", headers=event.host_headers),
        422,
        "validation_error",
    )
    assert_problem(
        await client.post(f"{path}/participants/{new_device()}/kick", headers=event.host_headers),
        404,
        "participant_not_found",
    )
    assert_problem(await client.get("/no/such/route"), 404, "not_found")
    assert_problem(await client.put(path, json={}), 405, "method_not_allowed")


async def test_every_route_documents_its_problems(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "Problem" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            problems = [s for s in operation["responses"] if s.startswith(("4", "5"))]
            assert problems, f"{method.upper()} {path} documents no problem"
            for status in problems:
                content = operation["responses"][status].get("content", {})
                assert "application/problem+json" in content, (method, path, status)
