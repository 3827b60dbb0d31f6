"""GET /metrics: Prometheus' text format, for the metrics token's holder or else loopback only."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request, Response

from rollcall import metrics
from rollcall.auth import bearer_token, same_secret
from rollcall.errors import Forbidden, InvalidToken
from rollcall.origins import loopback_host
from rollcall.problems import openapi_problem
from rollcall.runtime import AppSettings

router = APIRouter(tags=["metrics"])

FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
"""A request that came through a proxy is not a local one, whatever its peer address."""


@router.get(
    metrics.PATH,  # exempt from the Host allow-list: it guards itself (origins.py)
    response_class=Response,
    responses={
        200: {"content": {metrics.CONTENT_TYPE: {}}},
        **openapi_problem(InvalidToken, Forbidden),
    },
)
async def read_metrics(request: Request, settings: AppSettings) -> Response:
    """Every rollcall_* metric, summed over the processes of this `rollcall serve`.

    With ROLLCALL_METRICS_TOKEN set, the token is required as a bearer token; unset, only a
    client on loopback gets an answer: its peer address and the Host it names are loopback
    ones (a page that rebinds its own name to 127.0.0.1 names itself), and no proxy forwarded it.
    """
    token = settings.metrics_token
    if token is not None:
        given = bearer_token(request)
        if given is None or not same_secret(given, token.get_secret_value()):
            raise InvalidToken("/metrics needs ROLLCALL_METRICS_TOKEN as a bearer token")
    elif not _local(request):
        raise Forbidden(
            "without ROLLCALL_METRICS_TOKEN, /metrics answers clients on loopback only;"
            " set the token to scrape from elsewhere"
        )
    return Response(
        metrics.exposition(),
        media_type=metrics.CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )


def _local(request: Request) -> bool:
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    if not loopback_host(request.headers):
        return False
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False
