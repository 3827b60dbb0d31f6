"""What people do on each page, in Playwright terms, so that the tests read as the story."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Locator, Page, expect
from websockets.sync.client import connect

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PROJECTOR = {"viewport": {"width": 1920, "height": 1080}}


@dataclass
class HostedEvent:
    code: str
    host_token: str
    join_url: str
    host_url: str

    @property
    def host_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.host_token}"}


def create_event(
    api: httpx.Client, *, title: str = "Friday quiz", capacity: int | None = None
) -> HostedEvent:
    body: dict[str, Any] = {"title": title}
    if capacity is not None:
        body["capacity"] = capacity
    response = api.post("/api/events", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return HostedEvent(
        data["event"]["code"], data["host_token"], data["join_url"], data["host_url"]
    )


def roster(api: httpx.Client, event: HostedEvent) -> list[dict[str, Any]]:
    response = api.get(f"/api/events/{event.code}/participants", headers=event.host_headers)
    assert response.status_code == 200, response.text
    participants: list[dict[str, Any]] = response.json()["participants"]
    return participants


class Phone:
    """One phone: a browser context of its own (its own storage and cookies) and a page."""

    def __init__(self, context: BrowserContext, page: Page, base_url: str) -> None:
        self.context = context
        self.page = page
        self.base_url = base_url

    def open(self, code: str) -> None:
        self.page.goto(f"{self.base_url}/j/{code}")

    def join_as(self, code: str, name: str) -> None:
        self.open(code)
        self.type_name(name)
        expect(self.joined_heading(name)).to_be_visible()

    def type_name(self, name: str) -> None:
        self.page.get_by_label("Your name").fill(name)
        self.page.get_by_role("button", name="Join", exact=True).click()

    def joined_heading(self, name: str) -> Locator:
        return self.page.get_by_role("heading", name=f"You're in as {name}")

    def heading(self, text: str) -> Locator:
        return self.page.get_by_role("heading", name=text)

    @property
    def name_field(self) -> Locator:
        return self.page.get_by_label("Your name")

    @property
    def score(self) -> Locator:
        return self.page.get_by_test_id("score")

    @property
    def connection(self) -> Locator:
        return self.page.get_by_test_id("connection")

    def new_page(self) -> Page:
        """Close this page and open another in the same browser, as scanning the QR again does."""
        self.page.close()
        self.page = self.context.new_page()
        return self.page


class Host:
    """The host's dashboard for one event."""

    def __init__(self, page: Page, base_url: str, event: HostedEvent) -> None:
        self.page = page
        self.base_url = base_url
        self.event = event

    def open_with_link(self) -> None:
        """The host link that `rollcall event create` prints carries the token in its fragment."""
        self.page.goto(f"{self.base_url}/host/{self.event.code}#host_token={self.event.host_token}")
        expect(self.connection).to_have_text("Connected")

    @property
    def connection(self) -> Locator:
        return self.page.get_by_test_id("connection")

    @property
    def cards(self) -> Locator:
        return self.page.get_by_test_id("roster").locator("[data-participant-id]")

    def card(self, name: str) -> Locator:
        return self.cards.filter(has=self.page.get_by_text(name, exact=True))

    def presence(self, name: str) -> Locator:
        return self.card(name).locator(".person-presence")

    def count(self, kind: str) -> Locator:
        return self.page.get_by_test_id(f"count-{kind}")

    def participant_ids(self) -> list[str]:
        return [
            str(self.cards.nth(index).get_attribute("data-participant-id"))
            for index in range(self.cards.count())
        ]

    def give_point(self, name: str) -> None:
        self.page.get_by_role("button", name=f"Give {name} a point").click()

    def kick(self, name: str, *, ban: bool = True) -> None:
        """Remove `name`; with `ban` (as by default) the phone can't come back."""
        self.page.get_by_role("button", name=f"Remove {name}").click()
        choice = "Ban" if ban else "Remove"
        self.page.get_by_role("dialog").get_by_role("button", name=choice, exact=True).click()


FIRST_NAMES = [
    "Ana",
    "Bruno",
    "Chen",
    "Dara",
    "Emil",
    "Farah",
    "Gus",
    "Hana",
    "Ivo",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tomás",
    "Uma",
    "Vera",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Aiko",
    "Björn",
    "Chloé",
    "Diego",
    "Elif",
    "Femi",
    "Greta",
    "Hugo",
    "Inés",
    "Jamal",
    "Kasia",
    "Luca",
    "Mei",
    "Nils",
    "Olga",
    "Pedro",
    "Rania",
    "Sofia",
    "Theo",
    "Ugo",
    "Valentina",
    "Wojtek",
    "Yara",
    "Zain",
    "Amara",
    "Bea",
    "Cyril",
    "Dalia",
    "Eero",
    "Fatima",
    "Gabriel",
    "Hiro",
    "Irene",
]
LAST_NAMES = [
    "Silva",
    "Novak",
    "Okafor",
    "Lindqvist",
    "Rossi",
    "Kowalski",
    "Haddad",
    "Müller",
    "Dubois",
    "García",
    "Tanaka",
    "Jensen",
    "Costa",
    "Petrov",
    "Nguyen",
    "Moreau",
    "Schmidt",
    "Ferrari",
    "Wiśniewski",
    "Mansour",
    "Andersen",
    "Ribeiro",
    "Kim",
    "Martin",
    "Weber",
    "Romano",
    "Lewandowski",
    "Saleh",
    "Berg",
    "Pereira",
    "Park",
    "Laurent",
    "Fischer",
    "Greco",
    "Zieliński",
    "Khalil",
    "Holm",
    "Almeida",
    "Choi",
    "Bernard",
]


def crowd_names(count: int) -> list[str]:
    """`count` distinct names, as varied as a real room's (accents, several alphabets' letters)."""
    names = [f"{first} {last}" for last in LAST_NAMES for first in FIRST_NAMES]
    assert count <= len(names), f"only {len(names)} names"
    return names[:count]


@dataclass
class Joined:
    name: str
    participant_id: str
    token: str


def join_crowd(base_url: str, code: str, names: list[str], *, workers: int = 8) -> list[Joined]:
    """Everyone in `names` joins `code` through the API, each from a device of its own."""

    def join(client: httpx.Client, name: str) -> Joined:
        device = str(uuid.uuid4())
        for _ in range(5):  # a busy server may answer 503 with Retry-After: phones try again
            response = client.post(
                f"/api/events/{code}/join", json={"device_id": device, "display_name": name}
            )
            if response.status_code != 503:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))
        assert response.status_code == 201, response.text
        data = response.json()
        return Joined(name, data["participant"]["id"], data["session_token"])

    with (
        httpx.Client(base_url=base_url, timeout=30) as client,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        return list(pool.map(lambda name: join(client, name), names))


def set_event_state(api: httpx.Client, event: HostedEvent, patch: dict[str, Any]) -> int:
    """The host changes the event state; returns its new version."""
    response = api.patch(f"/api/events/{event.code}/state", json=patch, headers=event.host_headers)
    assert response.status_code == 200, response.text
    version: int = response.json()["version"]
    return version


def report_seen(base_url: str, token: str, event_version: int) -> None:
    """A phone says it has shown this event-state version, as the SDK does, then hangs up.

    Its heartbeat's ack comes after the server has taken the receipt (one socket's messages are
    read in order), so the receipt is in the server's buffer when this returns.
    """
    with connect(base_url.replace("http", "ws", 1) + "/ws", open_timeout=5) as socket:
        socket.send(json.dumps({"type": "hello", "token": token}))
        while json.loads(socket.recv(timeout=5))["type"] != "welcome":
            pass
        socket.send(json.dumps({"type": "seen", "event_version": event_version}))
        socket.send(json.dumps({"type": "heartbeat"}))
        while json.loads(socket.recv(timeout=5))["type"] != "ack":
            pass
