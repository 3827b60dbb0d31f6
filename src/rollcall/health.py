"""GET /healthz: does the database answer?"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rollcall.db.pool import UNAVAILABLE_ERRORS, borrow
from rollcall.runtime import AppRuntime

router = APIRouter(tags=["health"])

HEALTH_TIMEOUT_S = 2.0


@router.get("/healthz", responses={503: {"description": "The database does not answer"}})
async def healthz(runtime: AppRuntime) -> Any:
    try:
        async with borrow(runtime.pool, wait_s=HEALTH_TIMEOUT_S) as conn:
            await conn.fetchval("SELECT 1", timeout=HEALTH_TIMEOUT_S)
    except UNAVAILABLE_ERRORS:
        return JSONResponse(
            {"status": "unavailable"}, status_code=503, headers={"Retry-After": "2"}
        )
    return {"status": "ok"}
