"""Host welcome under load: a host joins an event of 10,000 while 200 phones on the process beat.

A host's first welcome carries the whole roster. The scenario fills one event with 10,000
participants (joined over HTTP; 9,800 of them without a socket, given a few hundred bytes of
app state each and marked offline in SQL, so that no presence sweep lands in the middle), and
holds 200 phone sockets on the same rollcall process, each beating every 250 ms. Then, in
each of a few rounds, a host opens /ws and the bench times its welcome (from the socket's
open to the welcome's last byte) while the phones time every heartbeat ack. A phone with an
ack outstanding does not beat again, so an ack held up by a stalled process is timed whole.
The bench's own client negotiates no compression; a browser negotiates permessage-deflate,
which makes the server compress the welcome on its event loop, so the rounds are run twice:
with the bench's client, then with `websockets`' client asking for deflate, as a browser does.

Targets (issue 12, item 5): the welcome within 1 s, and no heartbeat ack slower than 50 ms
meanwhile (p99 and the maximum). A quiet window without a host gives the same figures at rest.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from statistics import median

from websockets.asyncio.client import ClientConnection, connect

from bench.harness import Harness, NewEvent, create_event, percentile
from bench.phones import Phone, PhoneSummary, arrive_all, join_silently
from bench.wire import Wire, open_websocket
from bench.workers import Channel, Job, Workers
from rollcall.protocol import ClientMessage, Role

PARTICIPANTS = 10_000
PHONES = 200
BEAT_S = 0.25
ROUNDS = 3
QUIET_S = 1.0
AFTER_WELCOME_S = 0.3
TARGET_WELCOME_S = 1.0
TARGET_ACK_MS = 50.0
STATE_NOTE_BYTES = 300

FILL_ROSTER = """
UPDATE event_participants SET
    state = jsonb_build_object('team', 'team ' || (state_version %% 7), 'score', 12,
                               'note', repeat('n', %(note)s)),
    last_heartbeat = now() - interval '1 hour',
    reported_presence = 'offline'
WHERE event_id = (SELECT id FROM events WHERE code = %(code)s)
"""
"""The silent participants' state and presence: offline already, so the sweep has nothing to say."""


@dataclass(frozen=True, kw_only=True)
class CrowdJob(Job):
    code: str
    silent: int
    phones: int
    beat_s: float


class PatientPhone(Phone):
    """A phone that beats again only once its last beat is acknowledged: each ack timed whole."""

    def _beat(self) -> None:
        if self._beat_sent and not self.stopped:
            assert self.beat_s is not None
            asyncio.get_running_loop().call_later(self.beat_s, self._beat)
            return
        super()._beat()


async def crowd_job(job: CrowdJob, channel: Channel) -> int:
    """Join the silent participants, then (told to) the beating phones; time acks on request."""

    def counted() -> None:
        channel.done += 1

    await join_silently(job.ports[0], job.code, job.silent, prefix="s", joined=counted)
    channel.send("joined", channel.done)
    await channel.expect("phones", type(None), limit_s=120)
    crowd = await arrive_all(
        channel,
        ports=job.ports,
        code=job.code,
        count=job.phones,
        name_prefix="p",
        concurrency=50,
        limit_s=120,
        beat_s=job.beat_s,
        phone=PatientPhone,
    )
    channel.send("ready", len(crowd.arrived))
    while True:
        kind, _ = await channel.receive(limit_s=600)
        if kind == "window":
            crowd.stats.restart_window()
            channel.send("started")
        elif kind == "report":
            channel.send("acks", crowd.stats.summary())
        else:
            break
    crowd.close()
    return len(crowd.arrived)


class HostSocket:
    """A host's /ws: when the welcome's last byte came, and how large it was."""

    deflate = False

    def __init__(self) -> None:
        self.welcomed = asyncio.Event()
        self.welcomed_at = 0.0
        self.size = 0
        self.wire: Wire | None = None

    def on_message(self, payload: bytes) -> None:
        if not self.welcomed.is_set():
            self.welcomed_at = time.monotonic()  # before parsing: the server's part only
            self.size = len(payload)
            self.welcomed.set()

    async def welcome_s(self, port: int, event: NewEvent) -> float:
        began = time.monotonic()
        self.wire = await open_websocket(
            port,
            {
                "type": ClientMessage.HELLO,
                "role": Role.HOST,
                "event": event.code,
                "token": event.host_token,
            },
            on_message=self.on_message,
            on_close=lambda code: None,
            limit_s=30,
        )
        await asyncio.wait_for(self.welcomed.wait(), 60)
        return self.welcomed_at - began

    async def close(self) -> None:
        if self.wire is not None:
            self.wire.abort()


class DeflateHost(HostSocket):
    """A host's /ws as a browser opens it: permessage-deflate negotiated.

    Its time includes inflating the welcome here (a few ms for a 6 MiB welcome).
    """

    deflate = True

    def __init__(self) -> None:
        super().__init__()
        self.socket: ClientConnection | None = None

    async def welcome_s(self, port: int, event: NewEvent) -> float:
        began = time.monotonic()
        self.socket = await connect(
            f"ws://127.0.0.1:{port}/ws", compression="deflate", max_size=None, open_timeout=30
        )
        hello = {
            "type": ClientMessage.HELLO,
            "role": Role.HOST,
            "event": event.code,
            "token": event.host_token,
        }
        await self.socket.send(json.dumps(hello))
        welcome = await asyncio.wait_for(self.socket.recv(decode=False), 60)
        self.on_message(welcome)
        return self.welcomed_at - began

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()


@dataclass(frozen=True)
class Round:
    welcome_s: float
    size: int
    acks: PhoneSummary
    deflate: bool


async def _window(
    pool: Workers[CrowdJob], hosting: HostSocket | None, port: int, event: NewEvent
) -> Round:
    """One measured window: a host's welcome (or, without a host, a quiet second)."""
    pool.broadcast("window")
    await pool.gather("started", type(None), limit_s=30)
    welcome_s = 0.0
    if hosting is None:
        await asyncio.sleep(QUIET_S)
    else:
        welcome_s = await hosting.welcome_s(port, event)
        await asyncio.sleep(AFTER_WELCOME_S)
    pool.broadcast("report")
    [acks] = await pool.gather("acks", PhoneSummary, limit_s=30)
    if hosting is not None:
        await hosting.close()
    return Round(
        welcome_s=welcome_s,
        size=hosting.size if hosting else 0,
        acks=acks,
        deflate=hosting is not None and hosting.deflate,
    )


async def run(h: Harness) -> None:
    print(
        f"== hostwelcome: a host joins an event of {PARTICIPANTS:,} while {PHONES} phones on the"
        f" same process beat every {BEAT_S * 1000:.0f} ms; {ROUNDS} rounds"
    )
    h.forget_participants()
    with h.servers(1) as servers:
        event = create_event(servers.url(), "host welcome", capacity=PARTICIPANTS)
        job = CrowdJob(
            ports=servers.ports,
            code=event.code,
            silent=PARTICIPANTS - PHONES,
            phones=PHONES,
            beat_s=BEAT_S,
        )
        async with Workers(crowd_job, [job], label="hostwelcome") as pool:
            began = time.monotonic()
            await pool.gather(
                "joined",
                int,
                limit_s=300,
                progress=lambda n: f"{time.monotonic() - began:.0f} s: {n:,} joined",
            )
            with h.db.connect() as conn:
                conn.execute(FILL_ROSTER, {"note": STATE_NOTE_BYTES, "code": event.code})
            pool.broadcast("phones")
            [phones] = await pool.gather("ready", int, limit_s=180)
            print(f"   {PARTICIPANTS - PHONES:,} joined, {phones} phones beating", flush=True)
            await asyncio.sleep(2 * BEAT_S)
            quiet = await _window(pool, None, servers.ports[0], event)
            rounds = [
                await _window(pool, host(), servers.ports[0], event)
                for host in (HostSocket, DeflateHost)
                for _ in range(ROUNDS)
            ]
            pool.broadcast("close")
            await pool.gather("result", int, limit_s=60)
    _report(h, quiet, rounds)


def _report(h: Harness, quiet: Round, rounds: list[Round]) -> None:
    quiet_acks = quiet.acks.ack_ms
    h.details["hostwelcome"] = {
        "participants": PARTICIPANTS,
        "phones": PHONES,
        "rounds": [
            {
                "deflate": r.deflate,
                "welcome_s": r.welcome_s,
                "welcome_bytes": r.size,
                "ack_p99_ms": percentile(r.acks.ack_ms, 99),
                "ack_max_ms": max(r.acks.ack_ms, default=0.0),
                "closes": r.acks.closes,
            }
            for r in rounds
        ],
        "quiet_ack_p99_ms": percentile(quiet_acks, 99),
        "quiet_ack_max_ms": max(quiet_acks, default=0.0),
    }
    for deflate in (False, True):
        _figures(h, [r for r in rounds if r.deflate == deflate], quiet_acks, deflate=deflate)


def _figures(h: Harness, rounds: list[Round], quiet_acks: list[float], *, deflate: bool) -> None:
    how = "a browser's host (deflate)" if deflate else "the bench's host"
    welcomes = [r.welcome_s for r in rounds]
    acks = [ms for r in rounds for ms in r.acks.ack_ms]
    worst = max(welcomes)
    h.figure(
        "hostwelcome",
        f"host welcome, {PARTICIPANTS:,} in the roster, {how}",
        worst,
        "s",
        f"<= {TARGET_WELCOME_S:g}",
        worst <= TARGET_WELCOME_S,
        f"slowest of {len(rounds)}; median {median(welcomes):.2f} s;"
        f" {rounds[0].size / 2**20:.1f} MiB",
    )
    p99 = percentile(acks, 99)
    h.figure(
        "hostwelcome",
        "  heartbeat ack p99 meanwhile",
        p99,
        "ms",
        f"<= {TARGET_ACK_MS:g}",
        p99 is not None and p99 <= TARGET_ACK_MS,
        f"{len(acks):,} acks; at rest p99 {percentile(quiet_acks, 99) or 0:.1f} ms",
    )
    longest = max(acks, default=None)
    h.figure(
        "hostwelcome",
        "  heartbeat ack max meanwhile",
        longest,
        "ms",
        f"<= {TARGET_ACK_MS:g}",
        longest is not None and longest <= TARGET_ACK_MS,
        f"at rest {max(quiet_acks, default=0.0):.1f} ms",
    )
