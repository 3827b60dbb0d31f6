"""Deeply nested JSON is a bad request on every JSON route: never a 500, never a traceback."""

from __future__ import annotations

import logging

import httpx
import pytest

from rollcall import jsonbody
from tests.factories import bearer, create_event, join, new_device

DEPTHS = [40, 900, 1_000, 10_000]  # 10,000 objects deep is just under the 64 KiB body limit


def _lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def _objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _in_field(field: str, nested: str) -> str:
    return '{"' + field + '":' + nested + "}"


BODIES = {
    f"{shape}-{depth}": make(depth)
    for depth in DEPTHS
    for shape, make in (("lists", _lists), ("objects", _objects))
}


async def _routes(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, str], str | None]]:
    """(method, path, headers, field to nest into or None for the whole body)."""
    event = await create_event(client)
    joined = await join(client, event.code, device_id=new_device(), name="Ana")
    token = joined.json()["session_token"]
    participant = joined.json()["participant"]["id"]
    client.cookies.clear()
    return [
        ("POST", "/api/events", {}, None),
        ("POST", "/api/events", {}, "title"),
        ("PATCH", f"/api/events/{event.code}", event.host_headers, None),
        ("PATCH", f"/api/events/{event.code}", event.host_headers, "status"),
        ("POST", f"/api/events/{event.code}/join", {}, None),
        ("POST", f"/api/events/{event.code}/join", {}, "display_name"),
        ("POST", "/api/session/heartbeat", bearer(token), None),
        ("POST", "/api/session/heartbeat", bearer(token), "away"),
        (
            "PATCH",
            f"/api/events/{event.code}/participants/{participant}",
            event.host_headers,
            None,
        ),
        (
            "PATCH",
            f"/api/events/{event.code}/participants/{participant}",
            event.host_headers,
            "state",
        ),
    ]


@pytest.mark.parametrize("body", list(BODIES), ids=list(BODIES))
async def test_nested_json_is_a_bad_request_everywhere(
    client: httpx.AsyncClient, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    nested = BODIES[body]
    for method, path, headers, field in await _routes(client):
        content = nested if field is None else _in_field(field, nested)
        with caplog.at_level(logging.WARNING):
            response = await client.request(
                method,
                path,
                content=content,
                headers={**headers, "Content-Type": "application/json"},
            )
        assert response.status_code in (400, 422), (method, path, field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        code = response.json()["code"]
        assert code == ("malformed_request" if response.status_code == 400 else "validation_error")
        tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        assert not tracebacks, (method, path, field, [r.getMessage() for r in tracebacks])
        caplog.clear()


@pytest.mark.parametrize(
    "text",
    [
        _lists(1_000),
        _objects(1_000),
        _lists(100_000),
        _lists(33),
        _objects(33),
        "{",
        "",
        b"\xff",
        "NaN-ish",
    ],
    ids=[
        "lists-1000",
        "objects-1000",
        "lists-100000",
        "lists-33",
        "objects-33",
        "open",
        "empty",
        "not-utf8",
        "not-json",
    ],
)
def test_loads_refuses_every_bad_shape_as_bad_json(text: str | bytes) -> None:
    with pytest.raises(jsonbody.BadJSON):
        jsonbody.loads(text)


def test_loads_accepts_the_deepest_allowed_nesting() -> None:
    assert jsonbody.depth(jsonbody.loads(_lists(jsonbody.MAX_DEPTH))) == jsonbody.MAX_DEPTH
    assert jsonbody.loads('{"type":"hello"}') == {"type": "hello"}
