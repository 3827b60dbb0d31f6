"""The JavaScript SDK (/sdk/rollcall.js) as an app uses it: the example pages of docs/examples.

rollcall serves nothing from docs/. An app's pages live on its own server, behind the same host
name as rollcall (the SDK, the API and /ws are same-origin only). Here Chromium's own request
routing plays that server: requests for /examples/ on rollcall's address are answered from
docs/examples, and everything else (the SDK, the API, the socket) goes to the real rollcall.
Chromium takes a page handed over by the test (it came from no address) for one from the public
internet and blocks its requests to loopback (Local Network Access); this module's browser turns
that check off, as it would not apply to a page the app's server sends from rollcall's host.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    WebSocketRoute,
    expect,
)

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.pages import PHONE, PROJECTOR, HostedEvent, roster, set_event_state
from tests.e2e.phone_screens import join_over_http
from tests.servers import RollcallServer

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    args = [*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"]
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    yield launched
    launched.close()


def serve_examples(context: BrowserContext, server: RollcallServer) -> None:
    def answer(route: Route) -> None:
        name = route.request.url.split("/examples/", 1)[1].split("?")[0].split("#")[0]
        path = EXAMPLES / name
        if not path.is_file() or path.parent != EXAMPLES:
            route.fulfill(status=404, body="not found")
            return
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        route.fulfill(status=200, body=path.read_bytes(), content_type=media)

    context.route(f"{server.base_url}/examples/**", answer)


@pytest.fixture
def example(contexts: Callable[..., BrowserContext], server: RollcallServer) -> Callable[..., Page]:
    """A page of docs/examples opened at `path` (with its query), in a browser of its own."""

    def open_example(path: str, **options: object) -> Page:
        context = contexts(**{**PHONE, **options})
        serve_examples(context, server)
        page = context.new_page()
        page.goto(f"{server.base_url}/examples/{path}")
        return page

    return open_example


QUESTION = {"id": "q1", "number": 1, "text": "What is 6 × 7?", "choices": ["42", "36"]}


def set_state(api: httpx.Client, event: HostedEvent, participant_id: str, state: object) -> None:
    api.patch(
        f"/api/events/{event.code}/participants/{participant_id}",
        json={"state": state},
        headers=event.host_headers,
    ).raise_for_status()


def test_the_quiz_example_joins_reloads_and_rejoins_as_the_same_player(
    example: Callable[..., Page], event: HostedEvent, api: httpx.Client
) -> None:
    quiz = example(f"quiz.html?code={event.code.lower()}")
    quiz.get_by_label("Your name").fill("Ana")
    quiz.get_by_role("button", name="Join").click()
    expect(quiz.get_by_role("heading", name="Playing as Ana")).to_be_visible()
    expect(quiz.locator("#status")).to_have_text("Connected")
    [ana] = roster(api, event)
    set_state(api, event, ana["id"], {"score": 2})
    set_event_state(api, event, {"question": QUESTION, "phase": "asking"})
    expect(quiz.locator("#score")).to_have_text("2")
    expect(quiz.get_by_text("Question 1: What is 6 × 7?")).to_be_visible()

    quiz.reload()
    expect(quiz.get_by_role("heading", name="Playing as Ana")).to_be_visible()
    expect(quiz.get_by_label("Your name")).to_be_hidden()
    expect(quiz.locator("#score")).to_have_text("2")
    expect(quiz.get_by_text("Question 1: What is 6 × 7?")).to_be_visible()
    expect(quiz.locator("#status")).to_have_text("Connected")
    [again] = roster(api, event)
    assert again["id"] == ana["id"]
    assert again["status"] == "active"

    quiz.get_by_role("button", name="Leave the quiz").click()
    expect(quiz.get_by_role("heading", name="You left the quiz.")).to_be_visible()
    assert roster(api, event)[0]["status"] == "left"
    quiz.get_by_role("button", name="Join again").click()
    expect(quiz.get_by_role("heading", name="Playing as Ana")).to_be_visible()
    [back] = roster(api, event)
    assert (back["id"], back["status"]) == (ana["id"], "active")


def test_the_quiz_example_says_what_rollcall_refused(
    example: Callable[..., Page], event: HostedEvent, api: httpx.Client
) -> None:
    join_over_http(api, event, "Ana")
    quiz = example(f"quiz.html?code={event.code}")
    quiz.get_by_label("Your name").fill("ana")
    quiz.get_by_role("button", name="Join").click()
    expect(quiz.get_by_role("alert")).to_contain_text("is called")
    quiz.get_by_label("Your name").fill("Ana B")
    quiz.get_by_role("button", name="Join").click()
    expect(quiz.get_by_role("heading", name="Playing as Ana B")).to_be_visible()


def test_the_scoreboard_example_follows_the_roster_live_and_scores_reach_the_phone(
    example: Callable[..., Page], event: HostedEvent, api: httpx.Client
) -> None:
    join_over_http(api, event, "Bo")
    board = example(f"scoreboard.html?code={event.code}#host_token={event.host_token}", **PROJECTOR)
    expect(board.get_by_role("status")).to_have_text("Live")
    players = board.get_by_role("list", name="Players by score")
    expect(players.get_by_role("listitem")).to_have_count(1)

    quiz = example(f"quiz.html?code={event.code}")
    quiz.get_by_label("Your name").fill("Ana")
    quiz.get_by_role("button", name="Join").click()
    expect(players.get_by_role("listitem")).to_have_count(2)
    expect(players.get_by_role("listitem").filter(has_text="Ana")).to_contain_text("online")

    board.get_by_role("button", name="Give Ana a point").click()
    board.get_by_role("button", name="Give Ana a point").click()
    expect(quiz.locator("#score")).to_have_text("2")
    expect(players.get_by_role("listitem").first).to_contain_text("Ana: 2")


def test_host_resumes_with_since_and_gets_only_what_it_missed(
    example: Callable[..., Page], event: HostedEvent, api: httpx.Client
) -> None:
    join_over_http(api, event, "Ana")
    page = example(f"scoreboard.html?code={event.code}#host_token={event.host_token}", **PROJECTOR)
    hellos: list[dict[str, object]] = []
    page.on(
        "websocket",
        lambda socket: socket.on(
            "framesent",
            lambda frame: hellos.append(json.loads(frame)) if "hello" in frame else None,
        ),
    )
    kept = page.evaluate(
        """async ([code, token]) => {
            const { host } = await import("/sdk/rollcall.js");
            const first = await host(code, token);
            first.close();
            return { seq: first.seq, participants: [...first.participants.values()] };
        }""",
        [event.code, event.host_token],
    )
    assert [p["display_name"] for p in kept["participants"]] == ["Ana"]

    # While nobody follows: a newcomer, and a score for Ana.
    join_over_http(api, event, "Bo")
    ana_id = kept["participants"][0]["id"]
    set_state(api, event, ana_id, {"score": 4})

    resumed = page.evaluate(
        """async ([code, token, kept]) => {
            const { host } = await import("/sdk/rollcall.js");
            const rosters = [];
            const types = [];
            const board = await host(code, token, { since: kept.seq, participants: kept.participants });
            board.on("message", (message) => types.push(message.type));
            const deadline = Date.now() + 5000;
            while (types.length < 2 && Date.now() < deadline) {
                await new Promise((resolve) => board.addEventListener("message", resolve, { once: true }));
            }
            board.on("roster", ({ resumed }) => rosters.push(resumed));
            board.reconnect();
            await new Promise((resolve) => board.addEventListener("roster", resolve, { once: true }));
            board.close();
            return {
                types,
                rosters,
                seq: board.seq,
                names: [...board.participants.values()].map((p) => p.display_name).sort(),
                anaScore: board.participants.get(kept.participants[0].id).state.score,
            };
        }""",
        [event.code, event.host_token, kept],
    )
    assert resumed["types"] == ["participant.joined", "participant.state"]
    assert resumed["names"] == ["Ana", "Bo"]
    assert resumed["anaScore"] == 4
    assert resumed["rosters"] == [True]  # the reconnect resumed too: nothing was sent again
    assert resumed["seq"] == kept["seq"] + 2
    since = [hello.get("since") for hello in hellos if hello.get("role") == "host"]
    assert since[-2:] == [kept["seq"], kept["seq"] + 2]


def test_host_is_refused_with_a_wrong_token(
    example: Callable[..., Page], event: HostedEvent
) -> None:
    board = example(f"scoreboard.html?code={event.code}#host_token=wrong")
    expect(board.get_by_role("status")).to_have_text(f"Can't follow {event.code}: invalid_token")


class Flaky:
    """A phone's connection to rollcall that the test can cut, the way a network drops it.

    While `holding`, new connections wait (their messages kept) until `release()`; with
    `drop_next_ack`, the next action.ack never reaches the page: the connection is cut instead.
    """

    def __init__(self) -> None:
        self.current: tuple[WebSocketRoute, WebSocketRoute] | None = None
        self.holding = False
        self.held: list[tuple[WebSocketRoute, list[str | bytes]]] = []
        self.drop_next_ack = False
        self.connections = 0

    def route(self, page: WebSocketRoute) -> None:
        self.connections += 1
        if self.holding:
            kept: list[str | bytes] = []
            page.on_message(lambda message: kept.append(message))
            self.held.append((page, kept))
            return
        self._connect(page, [])

    def _connect(self, page: WebSocketRoute, kept: list[str | bytes]) -> None:
        server = page.connect_to_server()
        for message in kept:
            server.send(message)
        page.on_message(lambda message: server.send(message))
        server.on_message(lambda message: self._to_page(page, server, message))
        self.current = (page, server)

    def _to_page(self, page: WebSocketRoute, server: WebSocketRoute, message: str | bytes) -> None:
        if self.drop_next_ack and '"action.ack"' in str(message):
            self.drop_next_ack = False
            self.cut(page, server)
            return
        page.send(message)

    def cut(self, page: WebSocketRoute | None = None, server: WebSocketRoute | None = None) -> None:
        if page is None or server is None:
            assert self.current is not None
            page, server = self.current
        page.close(code=1001, reason="the network dropped")
        server.close()

    def release(self) -> None:
        self.holding = False
        held, self.held = self.held, []
        for page, kept in held:
            self._connect(page, kept)


def answer_counts(api: httpx.Client, event: HostedEvent, question: str) -> dict[str, int]:
    """How many answers rollcall stored for the question, per participant."""
    listed = api.get(
        f"/api/events/{event.code}/actions",
        params={"name": "answer", "limit": 1000},
        headers=event.host_headers,
    ).json()["actions"]
    counts: dict[str, int] = {}
    for action in listed:
        if action["id"] == question:
            counts[action["participant_id"]] = counts.get(action["participant_id"], 0) + 1
    return counts


@pytest.mark.slow
def test_a_quiz_round_with_20_phones_one_of_which_loses_its_socket_mid_question(
    example: Callable[..., Page], event: HostedEvent, api: httpx.Client
) -> None:
    board = example(f"quizhost.html?code={event.code}#host_token={event.host_token}", **PROJECTOR)
    expect(board.locator("#status")).to_have_text("Live")
    flaky = Flaky()
    phones = []
    for n in range(20):
        phone = example(f"quiz.html?code={event.code}")
        if n == 19:
            phone.route_web_socket("**/ws", flaky.route)
            phone.reload()
        phones.append(phone)
    for n, phone in enumerate(phones):
        phone.get_by_label("Your name").fill(f"Player {n + 1}")
        phone.get_by_role("button", name="Join").click()
    for phone in phones:
        expect(phone.locator("#status")).to_have_text("Connected")
    lost = phones[19]

    board.get_by_role("button", name="First question").click()
    for phone in phones:
        expect(phone.get_by_text("Question 1: What is 6 × 7?")).to_be_visible()
    expect(board.get_by_test_id("receipts")).to_have_text("20 of 20 phones show the question")

    # Mid-question the last phone's socket drops, and stays down while the next one goes out.
    flaky.holding = True
    flaky.cut()
    expect(lost.locator("#status")).to_have_text("Reconnecting…")
    board.get_by_role("button", name="Next question").click()
    for phone in phones[:19]:
        expect(phone.get_by_text("Question 2: Which planet is largest?")).to_be_visible()
    expect(board.get_by_test_id("receipts")).to_have_text("19 of 20 phones show the question")
    expect(lost.get_by_text("Question 1: What is 6 × 7?")).to_be_visible()  # still the old one
    for n, phone in enumerate(phones[:19]):
        phone.get_by_role("button", name="B: Jupiter" if n % 3 else "A: Mars").click()
    expect(board.get_by_test_id("answers")).to_have_text("19 answers")

    # Back: the welcome brings the question it missed; its answer's ack is lost with another
    # dropped socket, so the phone sends it again after reconnecting. It counts once.
    flaky.release()
    expect(lost.get_by_text("Question 2: Which planet is largest?")).to_be_visible()
    expect(lost.locator("#status")).to_have_text("Connected")
    connections = flaky.connections
    flaky.drop_next_ack = True
    lost.get_by_role("button", name="B: Jupiter").click()
    expect(lost.locator("#answered")).to_have_text("Answer received.")
    assert flaky.connections > connections, "the ack was dropped with the socket"
    expect(board.get_by_test_id("answers")).to_have_text("20 answers")
    expect(board.locator("#counts li")).to_have_text(["Mars: 7", "Jupiter: 13", "Venus: 0"])
    expect(board.get_by_test_id("receipts")).to_have_text("20 of 20 phones show the question")
    counts = answer_counts(api, event, "q2")
    assert len(counts) == 20 and set(counts.values()) == {1}, "one answer each, stored once"

    board.get_by_role("button", name="Reveal the answer").click()
    expect(lost.locator("#answered")).to_have_text("The answer was B. Well done!")
    expect(board.locator("#counts li").nth(1)).to_have_text("Jupiter: 13 ✓")
