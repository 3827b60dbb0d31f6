"""rollcall_join_many, one batch, ends exactly where rollcall_join one join at a time ends.

Each case runs the same joins twice, into twin events set up alike: once as one batch of
rollcall_join_many, once one by one through rollcall_join, in the batch's order. Outcomes,
participant rows, seats, seq and the event log must agree, including when the joins of one
batch depend on each other (the same device twice, equal names, the last seats). The batches
are long enough for both of the function's ways: ordinary joins as one set, rare ones one by one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from rollcall.db import schema
from rollcall.events.service import new_code
from rollcall.participants.names import name_skeleton, normalize_display_name
from rollcall.participants.wordfilter import builtin_list, name_forms

ROOM_CHECK_S = 30.0

Conn = psycopg.Connection[dict[str, Any]]


@dataclass(frozen=True)
class Join:
    device: int
    name: str
    event: int = 0  # which of the case's events
    room_check: str | None = None  # "right" or "wrong": the 4 digits the phone gives
    reclaim: str | None = None  # the name of the participant whose recovery code is given
    may_join: bool = True
    may_guess: bool = True
    team: str | None = None  # the team the phone chose
    generated: bool = False  # the server drew the name


@dataclass(frozen=True)
class Setting:
    capacity: int = 100
    admission: str = "open"
    status: str = "open"
    room_check: bool = False
    reclaim: str = "auto"
    before: Sequence[Join] = ()  # joined one by one before the batch
    kicked: Sequence[str] = ()  # names of those then kicked
    names: str = "chosen"
    name_filter: str = "off"
    blocked: Sequence[str] = ()  # folded patterns, as events.blocked_patterns holds them
    teams: Sequence[str] = ()  # team ids
    team_mode: str = "host"


@dataclass
class World:
    """One side of the comparison: its events (one per Setting), made alike."""

    codes: list[str] = field(default_factory=list)
    ids: list[UUID] = field(default_factory=list)
    tokens: dict[bytes, str] = field(default_factory=dict)  # token digest: which join sent it


def device(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


@pytest.fixture
def conn(database_url: str) -> Iterator[Conn]:
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as c:
        yield c


def make_world(conn: Conn, settings: Sequence[Setting]) -> World:
    world = World()
    for setting in settings:
        row = conn.execute(
            "INSERT INTO events (code, title, capacity, host_token_hash, admission, reclaim)"
            " VALUES (%s, 'batch twin', %s, %s, %s, %s) RETURNING id",
            (new_code(), setting.capacity, new_code(), setting.admission, setting.reclaim),
        ).fetchone()
        assert row is not None
        world.ids.append(row["id"])
        world.codes.append(
            conn.execute("SELECT code FROM events WHERE id = %s", (row["id"],)).fetchone()["code"]
        )
    for index, setting in enumerate(settings):
        conn.execute(
            "UPDATE events SET names = %s, name_filter = %s, blocked_patterns = %s,"
            " teams = %s::jsonb, team_mode = %s WHERE id = %s",
            (
                setting.names,
                setting.name_filter,
                list(setting.blocked),
                json.dumps([{"id": team, "name": team.title()} for team in setting.teams]),
                setting.team_mode,
                world.ids[index],
            ),
        )
        before = [replace(j, event=index) for j in setting.before]
        assert {r["outcome"] for r in one_by_one(conn, world, before)} <= {"joined", "pending"}
        for name in setting.kicked:
            conn.execute(
                "UPDATE event_participants SET status = 'kicked' WHERE event_id = %s"
                " AND display_name = %s",
                (world.ids[index], name),
            )
        conn.execute(
            "UPDATE events SET status = %s, room_check = %s WHERE id = %s",
            (setting.status, setting.room_check, world.ids[index]),
        )
    return world


def arguments(conn: Conn, world: World, joins: Sequence[Join]) -> list[list[Any]]:
    """rollcall_join_many's arrays for these joins, resolved in this world."""
    columns: list[list[Any]] = [[] for _ in range(14)]
    for position, j in enumerate(joins, start=1):
        name, key = normalize_display_name(j.name)
        room_check = None
        if j.room_check is not None:
            room_check = conn.execute(
                "SELECT rollcall_room_check(hmac_key,"
                " floor(extract(epoch FROM now()) / %s)::bigint) AS c FROM events WHERE id = %s",
                (ROOM_CHECK_S, world.ids[j.event]),
            ).fetchone()["c"]
            if j.room_check == "wrong":
                room_check = f"{(int(room_check) + 1) % 10000:04d}"
        digest = None
        if j.reclaim is not None:
            found = conn.execute(
                "SELECT recovery_digest FROM event_participants WHERE event_id = %s"
                " AND display_name = %s AND reclaim_of IS NULL",
                (world.ids[j.event], j.reclaim),
            ).fetchone()
            digest = found["recovery_digest"] if found else hashlib.sha256(b"no one").digest()
        label = f"{len(world.tokens)}: join {position} of device {j.device}"
        token = hashlib.sha256(f"{world.codes[0]} {label}".encode()).digest()
        world.tokens[token] = label
        values = [world.codes[j.event], device(j.device), name, key, name_skeleton(name)]
        values += [token, room_check, digest, j.may_join, j.may_guess]
        forms = name_forms(name)
        values += [j.generated, forms, builtin_list().refuses(forms), j.team]
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return columns


RESULT = "ord, outcome, id, display_name, status, reclaims, recovery_number, team"


def in_one_batch(conn: Conn, world: World, joins: Sequence[Join]) -> list[dict[str, Any]]:
    columns = arguments(conn, world, joins)
    return conn.execute(
        f"SELECT {RESULT} FROM rollcall_join_many(%s::text[], %s::uuid[], %s::text[],"
        " %s::text[], %s::text[], %s::bytea[], %s::text[], %s::bytea[], %s::boolean[],"
        " %s::boolean[], %s, %s::boolean[], %s::text[], %s::boolean[], %s::text[])",
        (*columns[:10], ROOM_CHECK_S, *columns[10:]),
    ).fetchall()


def one_by_one(
    conn: Conn, world: World, joins: Sequence[Join], function: str = "rollcall_join"
) -> list[dict[str, Any]]:
    """The joins one after the other; `function` other than rollcall_join is an earlier
    revision's twin, which takes the first eleven inputs and knows no teams."""
    columns = arguments(conn, world, joins)
    current = function == "rollcall_join"
    inputs = columns if current else columns[:10]
    result = RESULT if current else RESULT.replace(", team", ", NULL AS team")
    placeholders = ", ".join(["%s"] * (len(inputs) + 1))
    results = []
    for position in range(len(joins)):
        row = conn.execute(
            f"SELECT {position + 1} AS {result} FROM {function}({placeholders})",
            (
                *(column[position] for column in inputs[:10]),
                ROOM_CHECK_S,
                *(column[position] for column in inputs[10:]),
            ),
        ).fetchone()
        assert row is not None
        results.append(row)
    return results


def seen(conn: Conn, world: World, results: list[dict[str, Any]]) -> dict[str, Any]:
    """What a user could notice, with the random parts (ids, codes, times) taken out."""
    events = []
    devices: dict[UUID, str] = {}
    for event_id in world.ids:
        rows = conn.execute(
            "SELECT id, device_id::text AS device, display_name, name_key, name_skeleton, status,"
            " team,"
            " session_token_hash, recovery_generation, reclaim_of IS NOT NULL AS request,"
            " recovery_digest IS NOT NULL AS has_code"
            " FROM event_participants WHERE event_id = %s",
            (event_id,),
        ).fetchall()
        for row in rows:
            devices[row["id"]] = row["device"]
            row["session_token_hash"] = world.tokens.get(row["session_token_hash"])
        event = conn.execute(
            "SELECT seq, seats_taken FROM events WHERE id = %s", (event_id,)
        ).fetchone()
        log = conn.execute(
            "SELECT seq, message FROM event_log WHERE event_id = %s ORDER BY seq", (event_id,)
        ).fetchall()
        events.append((event, rows, log))

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: plain(v)
                for k, v in value.items()
                if k not in ("joined_at", "last_heartbeat", "name_key")
            }
        if isinstance(value, str) and value in devices.values():
            return value
        if isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
            return devices.get(UUID(value), "gone")
        if isinstance(value, UUID):
            return devices.get(value, "gone")
        return value

    return {
        "events": [
            (
                event,
                sorted(
                    str(plain({k: v for k, v in r.items() if k != "id"}))
                    for r in rows
                    if not r["request"]
                )
                + sorted(str(r["status"]) + "request" for r in rows if r["request"]),
                [(entry["seq"], plain(entry["message"])) for entry in log],
            )
            for event, rows, log in events
        ],
        "results": sorted(
            (
                r["ord"],
                r["outcome"],
                plain(r["id"]) if r["id"] else None,
                r["display_name"],
                r["status"],
                r["reclaims"] is not None,
                r["recovery_number"] is not None,
                r["team"],
            )
            for r in results
        ),
    }


def codes_match(conn: Conn, results: list[dict[str, Any]]) -> None:
    """Every recovery number handed out is the one stored (as its digest) for that participant."""
    for r in results:
        if r["recovery_number"] is None:
            continue
        stored = conn.execute(
            "SELECT recovery_digest = sha256(int8send(%s::bigint)) AS same"
            " FROM event_participants WHERE id = %s",
            (r["recovery_number"], r["id"]),
        ).fetchone()
        assert stored is not None and stored["same"], r


def compare(conn: Conn, settings: Sequence[Setting], joins: Sequence[Join]) -> dict[str, Any]:
    batch_world = make_world(conn, settings)
    serial_world = make_world(conn, settings)
    batch = in_one_batch(conn, batch_world, joins)
    serial = one_by_one(conn, serial_world, joins)
    assert sorted(r["ord"] for r in batch) == list(range(1, len(joins) + 1))
    codes_match(conn, batch)
    codes_match(conn, serial)
    batched, sequential = seen(conn, batch_world, batch), seen(conn, serial_world, serial)
    assert batched == sequential
    return batched


def outcomes(view: dict[str, Any]) -> list[str]:
    return [result[1] for result in view["results"]]


def test_a_batch_of_new_devices_is_many_joins(conn: Conn) -> None:
    view = compare(conn, [Setting()], [Join(n, f"Phone {n}") for n in range(1, 41)])
    assert outcomes(view) == ["joined"] * 40
    (event, _, log) = view["events"][0]
    assert (event["seq"], event["seats_taken"]) == (40, 40)
    assert [seq for seq, _ in log] == list(range(1, 41))


def test_the_same_device_twice_rejoins_what_the_first_made(conn: Conn) -> None:
    joins = [Join(4, "Di"), Join(5, "Ed"), Join(6, "Flo"), Join(1, "Ada"), Join(2, "Bo")]
    joins += [Join(1, "Ada again"), Join(1, "Ada"), Join(3, "Cy")]
    view = compare(conn, [Setting()], joins)
    assert outcomes(view) == ["joined"] * 5 + ["rejoined", "rejoined", "joined"]


def test_a_device_whose_first_try_failed_tries_again_as_new(conn: Conn) -> None:
    setting = Setting(before=[Join(9, "Taken")])
    joins = [Join(5, "Ivy"), Join(6, "Jo"), Join(7, "Kai"), Join(1, "Taken"), Join(1, "Free")]
    joins += [Join(2, "Free"), Join(9, "x"), Join(3, "Gil"), Join(4, "Hal"), Join(9, "y")]
    view = compare(conn, [setting], joins)
    assert outcomes(view) == ["joined"] * 3 + ["name_taken", "joined", "name_taken", "rejoined"] + [
        "joined",
        "joined",
        "rejoined",
    ]


def test_equal_and_look_alike_names_the_first_wins(conn: Conn) -> None:
    joins = [Join(1, "Zoe"), Join(2, "ZOE"), Join(3, "Z\u043e\u0435"), Join(4, "Zo")]
    view = compare(conn, [Setting()], joins)
    assert outcomes(view) == ["joined", "name_taken", "name_taken", "joined"]


def test_the_event_fills_up_within_the_batch(conn: Conn) -> None:
    setting = Setting(capacity=4, before=[Join(90, "Early"), Join(91, "Kicked")], kicked=["Kicked"])
    joins = [
        Join(1, "Ann"),
        Join(2, "Early"),  # name taken while seats are left
        Join(3, "Ben"),  # the last seat
        Join(4, "Cat"),  # full
        Join(5, "Ann"),  # would be name_taken, but the seats are gone first
        Join(90, "Early"),  # a rejoin needs no seat
        Join(91, "Kicked"),  # banned comes before full
        Join(6, "Dan", may_join=False),  # so does the join limit
        Join(3, "Ben"),  # the device that took the last seat rejoins
        Join(7, "Eve"),
    ]
    view = compare(conn, [setting], joins)
    assert outcomes(view) == [
        "joined",
        "name_taken",
        "joined",
        "full",
        "full",
        "rejoined",
        "banned",
        "join_limited",
        "rejoined",
        "full",
    ]
    assert view["events"][0][0]["seats_taken"] == 4


def test_seats_running_out_between_rare_joins(conn: Conn) -> None:
    setting = Setting(capacity=3, before=[Join(90, "Old")])
    joins = [Join(1, "A"), Join(1, "A"), Join(2, "B"), Join(2, "B"), Join(3, "C"), Join(3, "C")]
    view = compare(conn, [setting], joins)
    assert outcomes(view) == ["joined", "rejoined", "joined", "rejoined", "full", "full"]


def test_a_full_event_refuses_every_new_device(conn: Conn) -> None:
    setting = Setting(capacity=1, before=[Join(90, "Only")])
    joins = [Join(1, "A"), Join(90, "Only"), Join(2, "Only"), Join(3, "Zed")]
    view = compare(conn, [setting], joins)
    assert outcomes(view) == ["full", "rejoined", "full", "full"]


def test_with_approval_joins_wait_without_seats_and_keep_waiting(conn: Conn) -> None:
    setting = Setting(capacity=1, admission="approval", before=[Join(90, "Waiting")])
    joins = [Join(4, "D"), Join(5, "E"), Join(1, "A"), Join(2, "B"), Join(90, "Waiting")]
    joins += [Join(1, "A"), Join(3, "A")]
    view = compare(conn, [setting], joins)
    assert outcomes(view) == ["pending"] * 4 + ["rejoined", "rejoined", "name_taken"]
    assert view["events"][0][0]["seats_taken"] == 0


def test_locked_room_check_and_limits(conn: Conn) -> None:
    locked = Setting(status="locked", before=[Join(90, "Inside")])
    checked = Setting(room_check=True, before=[Join(91, "Known")])
    joins = [
        Join(1, "A"),
        Join(90, "Inside"),
        Join(2, "B", event=1),
        Join(3, "C", event=1, room_check="right"),
        Join(4, "D", event=1, room_check="wrong"),
        Join(5, "E", event=1, room_check="right", may_guess=False),
        Join(6, "F", event=1, room_check="right", may_join=False),
        Join(91, "Known", event=1),
        Join(7, "G", may_join=False),
        Join(8, "H"),
    ]
    view = compare(conn, [locked, checked], joins)
    assert outcomes(view) == [
        "locked",
        "rejoined",
        "room_check_failed",
        "joined",
        "room_check_failed",
        "guess_limited",
        "join_limited",
        "rejoined",
        "join_limited",
        "locked",
    ]


def test_seat_reclaims_in_the_middle_of_a_batch(conn: Conn) -> None:
    setting = Setting(
        capacity=4, before=[Join(90, "Pat"), Join(91, "Kim"), Join(92, "Gone")], kicked=["Gone"]
    )
    joins = [
        Join(1, "Pat", reclaim="Pat"),  # the seat moves to device 1
        Join(90, "Pat"),  # the old phone is a stranger now: its name is taken
        Join(1, "Pat"),  # the new phone rejoins
        Join(2, "Kim", reclaim="Pat"),  # Pat's code was used: it died
        Join(3, "X", reclaim="Gone"),  # a kicked participant's seat stays kicked
        Join(4, "Y", reclaim="Nobody"),
        Join(5, "Z", reclaim="Kim", may_guess=False),
        Join(91, "Kim", reclaim="Pat"),  # a known device just rejoins
        Join(6, "New"),  # the last seat: the reclaims took none
        Join(7, "Newer"),
    ]
    view = compare(conn, [setting], joins)
    assert outcomes(view) == [
        "reclaimed",
        "name_taken",
        "rejoined",
        "recovery_invalid",
        "banned",
        "recovery_invalid",
        "guess_limited",
        "rejoined",
        "joined",
        "full",
    ]


def test_reclaim_with_approval_and_off(conn: Conn) -> None:
    approval = Setting(reclaim="approval", before=[Join(90, "Pat")])
    off = Setting(reclaim="off", before=[Join(91, "Kim")])
    joins = [
        Join(1, "Pat", reclaim="Pat"),
        Join(1, "Pat"),  # the waiting request's device rejoins; it keeps waiting
        Join(2, "Kim", event=1, reclaim="Kim"),
        Join(3, "Lou", event=1),
    ]
    view = compare(conn, [approval, off], joins)
    assert outcomes(view) == ["reclaim_pending", "rejoined", "reclaim_disabled", "joined"]


def test_teams_the_word_filter_and_kinds_of_names_in_a_batch(conn: Conn) -> None:
    """The new inputs keep the batch's guarantee: refusals, teams and names as one by one."""
    choose = Setting(
        teams=("red", "blue"),
        team_mode="choose",
        name_filter="default",
        blocked=("% badword %", "%worse%"),
        before=[Join(90, "Known", team="red")],
    )
    hosted = Setting(
        teams=("red",), names="generated", before=[Join(91, "Gen One", generated=True)]
    )
    joins = [
        Join(1, "Ana", team="red"),
        Join(2, "Bo", team="blue"),
        Join(3, "Cy"),  # no team: fine
        Join(4, "Di", team="green"),  # no such team
        Join(5, "b4dw0rd"),  # the host's word
        Join(6, "Sh1t"),  # the built-in list
        Join(7, "Muchworsename"),  # an inside word
        Join(8, "Ana", team="blue"),  # name taken, after the team checked out
        Join(90, "Known", team="blue"),  # a rejoin keeps its team
        Join(1, "Ana", team="blue"),  # the same device again, in the batch: a rejoin
        Join(9, "Typed", event=1),  # typed where names are generated
        Join(10, "Gen Two", event=1, generated=True),
        Join(11, "Gen Three", event=1, generated=True, team="red"),  # the host assigns teams
        Join(12, "Gen One", event=1, generated=True),  # taken
        Join(13, "Eve", generated=True),  # generated where names are chosen
        Join(14, "Fay", team="red"),
    ]
    view = compare(conn, [choose, hosted], joins)
    assert outcomes(view) == [
        "joined",
        "joined",
        "joined",
        "team_not_found",
        "name_not_allowed",
        "name_not_allowed",
        "name_not_allowed",
        "name_taken",
        "rejoined",
        "rejoined",
        "names_generated",
        "joined",
        "team_choice_off",
        "name_taken",
        "generated_names_off",
        "joined",
    ]
    teams = [result[-1] for result in view["results"]]
    assert teams[:3] == ["red", "blue", None] and teams[8:10] == ["red", "red"]


def test_closed_and_unknown_events(conn: Conn) -> None:
    closed = Setting(status="closed", before=[Join(90, "In")])
    batch_world = make_world(conn, [closed, Setting()])
    joins = [Join(1, "A"), Join(90, "In"), Join(2, "B", event=1)]
    columns = arguments(conn, batch_world, joins)
    columns[0][2] = "ZZZZZZ" if batch_world.codes[1] != "ZZZZZZ" else "YYYYYY"
    rows = conn.execute(
        "SELECT ord, outcome FROM rollcall_join_many(%s::text[], %s::uuid[], %s::text[],"
        " %s::text[], %s::text[], %s::bytea[], %s::text[], %s::bytea[], %s::boolean[],"
        " %s::boolean[], %s) ORDER BY ord",
        (*columns[:10], ROOM_CHECK_S),  # as the previous release calls it: no new inputs
    ).fetchall()
    assert [r["outcome"] for r in rows] == ["closed", "closed", "not_found"]


def test_a_batch_of_unknown_codes_only(conn: Conn) -> None:
    world = make_world(conn, [Setting()])
    joins = [Join(1, "A"), Join(2, "B")]
    columns = arguments(conn, world, joins)
    columns[0] = ["ZZZZZZ" if world.codes[0] != "ZZZZZZ" else "YYYYYY"] * 2
    rows = conn.execute(
        "SELECT ord, outcome, id FROM rollcall_join_many(%s::text[], %s::uuid[], %s::text[],"
        " %s::text[], %s::text[], %s::bytea[], %s::text[], %s::bytea[], %s::boolean[],"
        " %s::boolean[], %s) ORDER BY ord",
        (*columns[:10], ROOM_CHECK_S),  # as the previous release calls it: no new inputs
    ).fetchall()
    assert [(r["ord"], r["outcome"], r["id"]) for r in rows] == [
        (1, "not_found", None),
        (2, "not_found", None),
    ]


def test_many_events_in_one_batch_each_get_their_own_seq(conn: Conn) -> None:
    settings = [Setting(capacity=2), Setting(), Setting(admission="approval")]
    joins = [Join(n, f"P{n % 4}", event=n % 3) for n in range(1, 25)]
    view = compare(conn, settings, joins)
    assert [event[0]["seats_taken"] for event in view["events"]] == [2, 4, 0]


def test_one_notification_per_event_with_its_last_seq(database_url: str) -> None:
    with (
        psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn,
        psycopg.connect(database_url, autocommit=True) as listener,
    ):
        world = make_world(conn, [Setting(), Setting()])
        listener.execute("LISTEN rollcall_events")
        joins = [Join(n, f"N{n}", event=n % 2) for n in range(1, 11)]
        in_one_batch(conn, world, joins)
        heard = [n.payload for n in listener.notifies(timeout=1.0, stop_after=3)]
    got = sorted((UUID(json.loads(p)["event_id"]), json.loads(p)["seq"]) for p in heard)
    assert got == sorted([(world.ids[0], 5), (world.ids[1], 5)])


def test_one_join_at_a_time_is_as_revision_0006_made_it(conn: Conn) -> None:
    """rollcall_join, now written on the rules it shares with the batches, behaves as before."""
    previous = schema.revision_module("0006").JOIN_FUNCTION
    conn.execute(previous.replace("FUNCTION rollcall_join(", "FUNCTION rollcall_join_0006_twin("))
    try:
        settings = [
            Setting(capacity=3, before=[Join(90, "Old")]),
            Setting(reclaim="approval", before=[Join(90, "Pat"), Join(91, "Kim")]),
            Setting(room_check=True, admission="approval", before=[Join(90, "Pat")]),
        ]
        joins = [
            Join(1, "A"),
            Join(1, "A"),
            Join(2, "Old"),
            Join(90, "x"),
            Join(3, "B", reclaim="Pat"),
            Join(3, "B"),
            Join(4, "C", reclaim="Nobody"),
            Join(5, "D", room_check="right"),
            Join(6, "E", room_check="wrong"),
            Join(7, "F", may_join=False),
            Join(8, "G", may_guess=False, room_check="right"),
            Join(9, "H"),
        ]
        for setting in settings:
            now_world = make_world(conn, [setting])
            then_world = make_world(conn, [setting])
            now = one_by_one(conn, now_world, joins)
            then = one_by_one(conn, then_world, joins, "rollcall_join_0006_twin")
            assert seen(conn, now_world, now) == seen(conn, then_world, then)
    finally:
        conn.execute(
            "DROP FUNCTION rollcall_join_0006_twin(text, uuid, text, text, text, bytea, text,"
            " bytea, boolean, boolean, double precision)"
        )


def test_a_batch_writes_each_event_row_once(database_url: str) -> None:
    """The event row is updated once per batch, not once per join: its versions do not pile up."""
    counts = (
        "SELECT relname, n_tup_upd, n_tup_ins FROM pg_stat_xact_user_tables"
        " WHERE relname IN ('events', 'event_log', 'event_participants') ORDER BY relname"
    )
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        world = make_world(conn, [Setting(), Setting()])
        before = conn.execute(counts).fetchall()
        in_one_batch(conn, world, [Join(n, f"W{n}", event=n % 2) for n in range(1, 101)])
        after = conn.execute(counts).fetchall()
        conn.rollback()
    written = [
        (a["relname"], a["n_tup_upd"] - b["n_tup_upd"], a["n_tup_ins"] - b["n_tup_ins"])
        for a, b in zip(after, before, strict=True)
    ]
    assert written == [("event_log", 0, 100), ("event_participants", 0, 100), ("events", 2, 0)]
