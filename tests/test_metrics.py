"""GET /metrics: what a scrape shows, summed over processes, and who may scrape."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rollcall.app import create_app
from rollcall.settings import Settings
from tests.factories import bearer, create_event, join
from tests.pg import PgServer
from tests.polling import eventually
from tests.realtime.client import Socket, of_type
from tests.servers import FAST, rollcall_server

TOKEN = "a-metrics-token-of-some-length"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def scrape_until(
    http: httpx.AsyncClient, check: Callable[[Samples], bool], timeout: float = 10
) -> Samples:
    """Scrape until `check` holds of what the scrape shows."""

    async def checked() -> Samples | None:
        samples = await scrape(http)
        return samples if check(samples) else None

    return await eventually(checked, timeout=timeout, what="the scrape")


@pytest.fixture(scope="module")
def metrics_db(pg: PgServer) -> Iterator[str]:
    with pg.fresh_database(migrated=True) as url:
        yield url


async def test_a_scrape_of_either_process_shows_the_joins_and_sockets_of_both(
    metrics_db: str, tmp_path: Path
) -> None:
    """Two processes writing to one PROMETHEUS_MULTIPROC_DIR, as `serve --workers 2` does."""
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    with (
        rollcall_server(metrics_db, tmp_path, environment=shared, **FAST) as a,
        rollcall_server(metrics_db, tmp_path, environment=shared, **FAST) as b,
    ):
        async with (
            httpx.AsyncClient(base_url=a.base_url, timeout=10) as http_a,
            httpx.AsyncClient(base_url=b.base_url, timeout=10) as http_b,
        ):
            before = await scrape(http_a)
            event = await create_event(http_a)
            phones = [(await join(http_a, event.code, name="Ana")).json()]
            phones += [(await join(http_b, event.code, name=f"B{i}")).json() for i in range(2)]
            assert (await join(http_b, event.code, name="Ana")).status_code == 409
            host = await Socket.open(
                a.ws_url,
                {"type": "hello", "role": "host", "event": event.code, "token": event.host_token},
            )
            await host.until(of_type("welcome"))
            phone = await Socket.open(
                b.ws_url, {"type": "hello", "token": phones[0]["session_token"]}
            )
            await phone.until(of_type("welcome"))
            patched = await http_b.patch(
                f"/api/events/{event.code}/participants/{phones[2]['participant']['id']}",
                json={"state": {"score": 1}},
                headers=event.host_headers,
            )
            assert patched.status_code == 200
            await host.until(of_type("participant.state"))  # fan-out read the log
            beat = await http_b.post(
                "/api/session/heartbeat", headers=bearer(phones[1]["session_token"])
            )
            assert beat.status_code == 200

            for http in (http_a, http_b):
                samples = await scrape_until(
                    http, lambda s: value(s, "rollcall_heartbeats_flushed_total") >= 1
                )

                def grew(name: str, samples: Samples = samples, **labels: str) -> float:
                    return value(samples, name, **labels) - value(before, name, **labels)

                assert grew("rollcall_joins_total", outcome="joined") == 3
                assert grew("rollcall_joins_total", outcome="name_taken") == 1
                assert value(samples, "rollcall_open_sockets", role="host") == 1
                assert value(samples, "rollcall_open_sockets", role="participant") == 1
                assert grew("rollcall_task_duration_seconds_count", task="heartbeat_flush") > 0
                assert grew("rollcall_task_duration_seconds_count", task="presence_sweep") > 0
                assert grew("rollcall_pool_wait_seconds_count") > 0
                assert grew("rollcall_event_log_delivery_lag_seconds_count", to="sockets") > 0

            await host.close()
            await phone.close()
            await scrape_until(
                http_b,
                lambda s: (
                    value(s, "rollcall_open_sockets", role="host") == 0
                    and value(s, "rollcall_open_sockets", role="participant") == 0
                ),
            )

            proxied = await http_a.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"})
            assert proxied.status_code == 403
            assert proxied.json()["code"] == "forbidden"


async def test_with_a_token_a_scrape_needs_it(metrics_db: str, tmp_path: Path) -> None:
    with rollcall_server(
        metrics_db, tmp_path, metrics_token=TOKEN, public_url="https://rollcall.example"
    ) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            refused = await http.get("/metrics")
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "invalid_token"
            assert (await http.get("/metrics", headers=bearer("wrong" * 5))).status_code == 401
            allowed = await http.get("/metrics", headers=bearer(TOKEN))
            assert allowed.status_code == 200
            assert "rollcall_joins_total" in allowed.text
            # With a token, where the scrape comes from, and by which name, does not matter
            # (other routes answer only to ROLLCALL_PUBLIC_URL's host name and loopback ones).
            proxied = await http.get(
                "/metrics",
                headers={
                    **bearer(TOKEN),
                    "X-Forwarded-For": "198.51.100.4",
                    "Host": "rollcall-7.internal:8000",
                },
            )
            assert proxied.status_code == 200
            misnamed = await http.get("/healthz", headers={"Host": "rollcall-7.internal:8000"})
            assert misnamed.status_code == 421


@pytest.fixture
async def app_at(
    settings: Settings, database_url: str
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One app, reached from a loopback peer and from a peer on another machine."""
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        clients = {
            "loopback": httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
                base_url="http://localhost:8000",
            ),
            "remote": httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 50000)),
                base_url="http://localhost:8000",
            ),
        }
        try:
            yield clients
        finally:
            for client in clients.values():
                await client.aclose()


async def test_without_a_token_only_loopback_gets_an_answer(
    app_at: dict[str, httpx.AsyncClient],
) -> None:
    assert (await app_at["loopback"].get("/metrics")).status_code == 200
    remote = await app_at["remote"].get("/metrics")
    assert remote.status_code == 403
    assert remote.json()["code"] == "forbidden"
    assert "ROLLCALL_METRICS_TOKEN" in remote.json()["detail"]
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        proxied = await app_at["loopback"].get("/metrics", headers={header: "203.0.113.7"})
        assert proxied.status_code == 403, header
    # A page whose name was rebound to 127.0.0.1 reaches loopback, under its own name.
    for name in ("127.0.0.1:8000", "[::1]:8000"):
        assert (await app_at["loopback"].get("/metrics", headers={"Host": name})).status_code == 200
    rebound = await app_at["loopback"].get("/metrics", headers={"Host": "attacker.example"})
    assert rebound.status_code == 403


DASHBOARD = Path(__file__).parent.parent / "docs" / "grafana" / "rollcall.json"


async def test_the_grafana_dashboard_plots_only_what_rollcall_exports(
    app_at: dict[str, httpx.AsyncClient],
) -> None:
    exported = {
        sample_name for sample_name, _ in parse((await app_at["loopback"].get("/metrics")).text)
    }
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    named = {name for expr in expressions for name in re.findall(r"\brollcall_\w+", expr)}
    assert named, "the dashboard plots nothing"
    assert named <= exported, named - exported
    families = {name.removesuffix("_bucket").removesuffix("_count") for name in named}
    for family in (
        "rollcall_joins_total",
        "rollcall_open_sockets",
        "rollcall_heartbeats_flushed_total",
        "rollcall_receipts_flushed_total",
        "rollcall_actions_total",
        "rollcall_task_duration_seconds",
        "rollcall_event_log_delivery_lag_seconds",
        "rollcall_pool_wait_seconds",
    ):
        assert family in families, f"{family} is not on the dashboard"
