"""While the database is down every route answers 503 at once, and service comes back by itself."""

from __future__ import annotations

import time
import warnings

import httpx

from rollcall.app import create_app
from rollcall.db import migrate
from rollcall.db.embedded import ensure_database
from rollcall.settings import Settings
from tests.pg import embedded_server
from tests.polling import eventually


async def test_routes_answer_503_while_the_database_is_down_and_recover(settings: Settings) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl

    with embedded_server("rollcall-outage-") as server:
        ensure_database(server.get_uri(), "rollcall")
        url = server.get_uri("rollcall")
        migrate.upgrade(url)
        app = create_app(settings, database_url=url)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://rollcall.test"
            ) as client:
                created = await client.post("/api/events", json={"title": "Outage"})
                assert created.status_code == 201
                code = created.json()["event"]["code"]

                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
                for method, path, body in [
                    ("GET", "/healthz", None),
                    ("GET", f"/api/events/{code}", None),
                    ("POST", "/api/events", {"title": "During"}),
                    (
                        "POST",
                        f"/api/events/{code}/join",
                        {
                            "device_id": "6f1c1f3e-8f4f-4e0c-9a51-6b7a0e0f7a11",
                            "display_name": "Ana",
                        },
                    ),
                ]:
                    started = time.monotonic()
                    response = await client.request(method, path, json=body)
                    assert response.status_code == 503, (path, response.text)
                    assert response.headers["retry-after"]
                    assert time.monotonic() - started < 5
                    if path != "/healthz":
                        assert response.json()["code"] == "service_unavailable"

                pg_ctl(
                    [
                        "-w",
                        "-o",
                        "-h ''",
                        "-o",
                        f"-k {server.pgdata}",
                        "-l",
                        str(server.log),
                        "start",
                    ],
                    pgdata=server.pgdata,
                    user=server.system_user,
                )

                async def recovered() -> bool:
                    return (await client.get(f"/api/events/{code}")).status_code == 200

                await eventually(recovered, timeout=10, what="the event read again")
                assert (await client.get("/healthz")).status_code == 200
