"""PUT, DELETE and GET of an event's webhook: who may, which URLs, and a secret shown once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from standardwebhooks import Webhook

from rollcall.app import create_app
from rollcall.settings import Settings
from tests.factories import create_event

NOWHERE = "http://127.0.0.1:9/hook"  # the discard port: no message is ever appended here


@pytest.fixture
async def private_client(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with ROLLCALL_WEBHOOK_ALLOW_PRIVATE, so that loopback URLs are accepted."""
    app = create_app(
        settings.model_copy(update={"webhook_allow_private": True}), database_url=database_url
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rollcall.test") as c:
            yield c


async def test_a_secret_is_made_and_shown_once_and_never_read_back(
    private_client: httpx.AsyncClient,
) -> None:
    event = await create_event(private_client)
    path = f"/api/events/{event.code}/webhook"
    made = await private_client.put(path, json={"url": NOWHERE}, headers=event.host_headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["url"] == NOWHERE
    secret = body["secret"]
    assert secret.startswith("whsec_")
    Webhook(secret)  # a secret the Standard Webhooks library takes
    assert made.headers["cache-control"] == "no-store"

    log = await private_client.get(f"{path}/deliveries", headers=event.host_headers)
    assert log.status_code == 200
    assert log.json() == {
        **log.json(),
        "url": NOWHERE,
        "state": "delivered",
        "seq": 0,
        "delivered_seq": 0,
        "failed_attempts": 0,
        "attempts": [],
    }
    assert "secret" not in log.json() and secret.removeprefix("whsec_") not in log.text
    for other in (f"/api/events/{event.code}", f"/api/events/{event.code}/participants"):
        response = await private_client.get(other, headers=event.host_headers)
        assert secret.removeprefix("whsec_") not in response.text

    mine = "whsec_" + "A" * 32
    replaced = await private_client.put(
        path, json={"url": NOWHERE + "2", "secret": mine}, headers=event.host_headers
    )
    assert replaced.status_code == 200
    assert "secret" not in replaced.json()  # a secret the host chose is not echoed either
    assert (await private_client.get(f"{path}/deliveries", headers=event.host_headers)).json()[
        "url"
    ] == NOWHERE + "2"

    assert (await private_client.delete(path, headers=event.host_headers)).status_code == 204
    gone = await private_client.get(f"{path}/deliveries", headers=event.host_headers)
    assert gone.status_code == 404 and gone.json()["code"] == "webhook_not_found"
    assert (await private_client.delete(path, headers=event.host_headers)).status_code == 204


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "must be an http:// or https:// URL"),
        ("not a url", "must be an http:// or https:// URL"),
        ("https://" + "a" * 2050 + ".com/", "at most 2048 characters"),
        ("http:///hook", "has no host"),
        ("https://user:pw@93.184.215.14/hook", "must not carry a user name or password"),
        ("http://127.0.0.1:8000/hook", "loopback, private or link-local"),
        ("http://localhost/hook", "loopback, private or link-local"),
        ("http://10.1.2.3/hook", "loopback, private or link-local"),
        ("http://192.168.1.10/hook", "loopback, private or link-local"),
        ("http://169.254.169.254/latest/meta-data", "loopback, private or link-local"),
        ("http://[::1]/hook", "loopback, private or link-local"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback, private or link-local"),
        ("http://[64:ff9b::a9fe:a9fe]/latest/meta-data", "loopback, private or link-local"),
        ("http://[2002:c0a8:101::1]/hook", "loopback, private or link-local"),
        ("http://[fe80::1]/hook", "loopback, private or link-local"),
        ("http://0.0.0.0/hook", "loopback, private or link-local"),
    ],
)
async def test_webhook_urls_that_are_refused(client: httpx.AsyncClient, url: str, why: str) -> None:
    event = await create_event(client)
    response = await client.put(
        f"/api/events/{event.code}/webhook", json={"url": url}, headers=event.host_headers
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [error["field"] for error in problem["errors"]] == ["url"]
    assert why in problem["errors"][0]["message"]
    assert why in problem["detail"]


async def test_a_public_address_is_accepted(client: httpx.AsyncClient) -> None:
    event = await create_event(client)
    path = f"/api/events/{event.code}/webhook"
    response = await client.put(
        path, json={"url": "https://93.184.215.14/hook"}, headers=event.host_headers
    )
    assert response.status_code == 201, response.text
    assert (await client.delete(path, headers=event.host_headers)).status_code == 204


@pytest.mark.parametrize(
    "secret", ["abc", "whsec_", "whsec_not base64!", "whsec_" + "A" * 8, "whsec_" + "A" * 100]
)
async def test_a_secret_that_is_not_a_standard_webhooks_secret_is_refused(
    private_client: httpx.AsyncClient, secret: str
) -> None:
    event = await create_event(private_client)
    response = await private_client.put(
        f"/api/events/{event.code}/webhook",
        json={"url": NOWHERE, "secret": secret},
        headers=event.host_headers,
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["secret"]
    assert secret not in response.text or secret == "whsec_"


async def test_only_the_host_of_an_open_event_sets_its_webhook(
    private_client: httpx.AsyncClient,
) -> None:
    event = await create_event(private_client)
    path = f"/api/events/{event.code}/webhook"
    for method in ("PUT", "DELETE", "GET"):
        target = path + ("/deliveries" if method == "GET" else "")
        anonymous = await private_client.request(method, target, json={"url": NOWHERE})
        assert anonymous.status_code == 401, (method, anonymous.text)
        unknown = await private_client.request(
            method, target.replace(event.code, "ZZZZZZ"), json={"url": NOWHERE}
        )
        assert unknown.status_code == 404
    closed = await private_client.patch(
        f"/api/events/{event.code}", json={"status": "closed"}, headers=event.host_headers
    )
    assert closed.status_code == 200
    refused = await private_client.put(path, json={"url": NOWHERE}, headers=event.host_headers)
    assert refused.status_code == 410 and refused.json()["code"] == "event_closed"
