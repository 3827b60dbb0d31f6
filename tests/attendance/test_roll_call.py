"""The roll call through the API: who is in it, what it says of each, and its CSV."""

from __future__ import annotations

import asyncio
import contextvars
import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from rollcall.app import create_app
from rollcall.attendance import service
from rollcall.runtime import runtime_of
from rollcall.settings import Settings
from tests.factories import HostedEvent, bearer, create_event, join, new_device

COLUMNS = [
    "id",
    "display_name",
    "status",
    "team",
    "first_joined_at",
    "last_seen_at",
    "left_at",
    "online_s",
    "away_s",
    "offline_s",
    "connections",
    "reclaims",
]


async def roll(client: httpx.AsyncClient, event: HostedEvent, **params: str) -> dict[str, Any]:
    answer = await client.get(
        f"/api/events/{event.code}/attendance", params=params, headers=event.host_headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    data: dict[str, Any] = answer.json()
    return data


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["display_name"]: entry for entry in data["participants"]}


def at(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text} has no zone"
    return moment


async def test_a_leaver_a_removed_and_a_moved_participant_each_show_right(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    await join(client, event.code, name="Stayer")
    leaver = (await join(client, event.code, name="Leaver")).json()
    kicked = (await join(client, event.code, name="Kicked")).json()
    mover = (await join(client, event.code, name="Mover")).json()

    before_leave = datetime.now(UTC)
    gone = await client.delete("/api/session", headers=bearer(leaver["session_token"]))
    assert gone.status_code == 204
    kick = await client.post(
        f"/api/events/{event.code}/participants/{kicked['participant']['id']}/kick",
        headers=event.host_headers,
    )
    assert kick.status_code == 200
    after_leave = datetime.now(UTC)
    moved = await join(client, event.code, recovery_code=mover["recovery_code"])
    assert moved.status_code == 200 and moved.json()["reclaimed"] is True

    first = await roll(client, event)
    assert [p["display_name"] for p in first["participants"]] == [
        "Stayer",
        "Leaver",
        "Kicked",
        "Mover",
    ], "one row each, in join order"
    rows = by_name(first)
    assert [list(row) for row in rows.values()] == [COLUMNS] * 4
    assert rows["Stayer"]["status"] == "active" and rows["Stayer"]["left_at"] is None
    assert rows["Leaver"]["status"] == "left" and rows["Kicked"]["status"] == "kicked"
    for name in ("Leaver", "Kicked"):
        assert before_leave <= at(rows[name]["left_at"]) <= after_leave
    assert rows["Mover"]["status"] == "active" and rows["Mover"]["left_at"] is None
    assert rows["Mover"]["id"] == mover["participant"]["id"], "the seat moved, the row stayed"
    assert {name: row["reclaims"] for name, row in rows.items()} == {
        "Stayer": 0,
        "Leaver": 0,
        "Kicked": 0,
        "Mover": 1,
    }
    assert all(row["team"] is None for row in rows.values())
    assert all(row["connections"] == 0 for row in rows.values()), "no socket was opened"
    assert first["event"]["code"] == event.code
    generated = at(first["generated_at"])
    for row in rows.values():
        joined = at(row["first_joined_at"])
        assert at(row["last_seen_at"]) >= joined
        span = (generated - joined).total_seconds()
        counted = row["online_s"] + row["away_s"] + row["offline_s"]
        if row["left_at"] is None:
            assert counted == pytest.approx(span, abs=0.2), row
        else:
            assert counted == pytest.approx(
                (at(row["left_at"]) - joined).total_seconds(), abs=0.2
            ), "nothing counted after leaving"

    again = by_name(await roll(client, event))
    for name in ("Leaver", "Kicked"):
        assert again[name]["online_s"] == rows[name]["online_s"], "a leaver's time stands still"
    assert again["Stayer"]["online_s"] >= rows["Stayer"]["online_s"]


async def test_waiting_and_turned_away_participants_only_with_include_pending(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client, admission="approval")
    admitted = (await join(client, event.code, name="Admitted")).json()["participant"]
    waiting = (await join(client, event.code, name="Waiting")).json()["participant"]
    denied = (await join(client, event.code, name="Denied")).json()["participant"]
    assert {p["status"] for p in (admitted, waiting, denied)} == {"pending"}
    base = f"/api/events/{event.code}/participants"
    answer = await client.post(f"{base}/{admitted['id']}/admit", headers=event.host_headers)
    assert answer.status_code == 200
    answer = await client.post(f"{base}/{denied['id']}/deny", headers=event.host_headers)
    assert answer.status_code == 200

    plain = await roll(client, event)
    assert [p["display_name"] for p in plain["participants"]] == ["Admitted"]
    everyone = by_name(await roll(client, event, include="pending"))
    assert list(everyone) == ["Admitted", "Waiting", "Denied"]
    assert everyone["Waiting"]["status"] == "pending"
    assert everyone["Denied"]["status"] == "kicked"
    for name in ("Waiting", "Denied"):
        row = everyone[name]
        assert row["online_s"] == row["away_s"] == row["offline_s"] == 0, "waiting is not attending"


async def test_the_csv_is_safe_for_spreadsheets_and_one_record_a_participant(
    client: httpx.AsyncClient,
) -> None:
    event = await create_event(client)
    names = [
        '=HYPERLINK("http://x.io","Hi")',
        "+41 Bea",
        "-Cy",
        "@Dee",
        'Ed, "the" Great',
        "Zoë 🎉 Ünal",
        "Plain",
    ]
    for name in names:
        assert (await join(client, event.code, name=name)).status_code == 201

    answer = await client.get(
        f"/api/events/{event.code}/attendance?format=csv", headers=event.host_headers
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="attendance-{event.code}.csv"'
    )
    text = answer.content.decode("utf-8")
    assert text.endswith("\r\n") and "\r\n" in text[:200], "CRLF between records"
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert records[0] == COLUMNS
    assert len(records) == 1 + len(names)
    shown = [dict(zip(COLUMNS, record, strict=True)) for record in records[1:]]
    assert [row["display_name"] for row in shown] == [
        '\'=HYPERLINK("http://x.io","Hi")',
        "'+41 Bea",
        "'-Cy",
        "'@Dee",
        'Ed, "the" Great',
        "Zoë 🎉 Ünal",
        "Plain",
    ]
    assert '"\'=HYPERLINK(""http://x.io"",""Hi"")"' in text, "RFC 4180 quoting"

    data = await roll(client, event)
    for row, entry in zip(shown, data["participants"], strict=True):
        assert row["id"] == entry["id"] and row["status"] == "active"
        assert row["team"] == "" and row["left_at"] == ""
        assert at(row["first_joined_at"]) == at(entry["first_joined_at"])
        assert float(row["online_s"]) >= 0 and row["connections"] == "0"

    by_accept = await client.get(
        f"/api/events/{event.code}/attendance",
        headers={**event.host_headers, "Accept": "text/csv, application/json;q=0.5"},
    )
    assert by_accept.headers["content-type"].startswith("text/csv")
    assert by_accept.text.splitlines()[0] == ",".join(COLUMNS)
    by_default = await client.get(
        f"/api/events/{event.code}/attendance", headers={**event.host_headers, "Accept": "*/*"}
    )
    assert by_default.headers["content-type"] == "application/json"


async def test_bad_input_is_a_problem_never_a_server_error(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    other = await create_event(client)
    path = f"/api/events/{event.code}/attendance"
    cases = [
        ("/api/events/ZZZZZZ/attendance", {}, event.host_headers, 404, "event_not_found"),
        ("/api/events/not-a-code/attendance", {}, event.host_headers, 404, "event_not_found"),
        (path, {}, {}, 401, "invalid_token"),
        (path, {}, other.host_headers, 401, "invalid_token"),
        (path, {}, bearer("not-a-token"), 401, "invalid_token"),
        (path, {"format": "xlsx"}, event.host_headers, 422, "validation_error"),
        (path, {"format": ""}, event.host_headers, 422, "validation_error"),
        (path, {"include": "everyone"}, event.host_headers, 422, "validation_error"),
        # the code and the token are checked before the format
        ("/api/events/ZZZZZZ/attendance", {"format": "xlsx"}, {}, 404, "event_not_found"),
        (path, {"format": "xlsx"}, {}, 401, "invalid_token"),
    ]
    for url, params, headers, status, code in cases:
        answer = await client.get(url, params=params, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (url, params)
        assert answer.headers["content-type"] == "application/problem+json"
    answer = await client.get(path, params={"format": "xlsx"}, headers=event.host_headers)
    assert answer.json()["errors"][0]["field"] == "query.format"


async def test_a_closed_event_counts_up_to_its_close(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    await join(client, event.code, name="Ana", device_id=new_device())
    closing = await client.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    )
    assert closing.status_code == 200
    closed_by = datetime.now(UTC)
    first = await roll(client, event)
    again = await roll(client, event)
    assert first["participants"] == again["participants"], "nothing counts after the close"
    ana = first["participants"][0]
    counted = timedelta(seconds=ana["online_s"] + ana["offline_s"] + ana["away_s"])
    assert at(ana["first_joined_at"]) + counted <= closed_by + timedelta(seconds=0.1)


async def test_a_client_that_reads_slowly_holds_no_database_connection(
    settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the answer waits for its reader, the request holds no pooled connection: neither
    the route's own nor a page's (each page borrows one only while it is read)."""
    monkeypatch.setattr(service, "PAGE_ROWS", 2)  # five participants: three pages
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        runtime = runtime_of(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rollcall.test") as c:
            event = await create_event(c)
            for n in range(5):
                await join(c, event.code, name=f"Reader {n}")

        # Connections the request borrowed and has not given back: its tasks (the route's,
        # and the one that streams the answer) run in its context; the background loops not.
        ours: contextvars.ContextVar[bool] = contextvars.ContextVar("ours", default=False)
        held = 0
        borrow = runtime.pool.acquire

        def counted(*args: Any, **kwargs: Any) -> Any:
            inner = borrow(*args, **kwargs)

            class Counted:
                async def __aenter__(self) -> Any:
                    nonlocal held
                    conn = await inner.__aenter__()
                    held += ours.get()
                    return conn

                async def __aexit__(self, *exc: Any) -> Any:
                    nonlocal held
                    held -= ours.get()
                    return await inner.__aexit__(*exc)

            return Counted()

        monkeypatch.setattr(runtime.pool, "acquire", counted)
        chunks: list[bytes] = []
        while_waiting: list[int] = []
        answered = asyncio.Event()

        async def slow_reader(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                chunks.append(message["body"])
                while_waiting.append(held)
                await asyncio.sleep(0.05)  # the client takes its time with each chunk

        requested = False

        async def request() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/api/events/{event.code}/attendance",
            "raw_path": f"/api/events/{event.code}/attendance".encode(),
            "query_string": b"format=csv",
            "headers": [
                (b"host", b"rollcall.test"),
                (b"authorization", f"Bearer {event.host_token}".encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("rollcall.test", 80),
        }
        ours.set(True)
        await asyncio.wait_for(app(scope, request, slow_reader), 10)
        ours.set(False)
        answered.set()
    text = b"".join(chunks).decode()
    assert len(text.strip().split("\r\n")) == 1 + 5
    assert len(while_waiting) == 3, "a chunk a page"
    assert set(while_waiting) == {0}, f"connections held while the reader read: {while_waiting}"
