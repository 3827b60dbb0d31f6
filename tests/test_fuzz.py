"""Generated requests, valid and invalid, from the OpenAPI document: never a 500.

schemathesis reads /openapi.json of a real server and sends what the schema allows and what it
does not; every answer must be below 500 and every error problem+json with a stable code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from tests.pg import PgServer
from tests.servers import RollcallServer, rollcall_server


@pytest.fixture(scope="module")
def fuzzed_server(
    pg: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RollcallServer]:
    logs = tmp_path_factory.mktemp("fuzz")
    with (
        pg.fresh_database(migrated=True) as url,
        rollcall_server(url, logs, max_capacity=1000) as server,
    ):
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: RollcallServer) -> Any:
    loaded = schemathesis.openapi.from_url(f"{fuzzed_server.base_url}/openapi.json")
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: Any, fuzzed_server: RollcallServer) -> None:
    response = case.call(base_url=fuzzed_server.base_url)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]  # values come as lists
        assert content_type.startswith("application/problem+json"), (
            case.method,
            case.formatted_path,
        )
        assert response.json()["code"], response.text
