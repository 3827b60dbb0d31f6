"""`/docs`: Swagger UI from the `fastapi-offline` package, under the pages' CSP.

FastAPI's own /docs loads Swagger UI from a public CDN and starts it with an inline script:
blank at a venue without internet, and outside any strict Content-Security-Policy. This page
loads the same UI from files rollcall serves itself and starts it from a script file.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from starlette.staticfiles import StaticFiles

from rollcall.web.routes import PAGE_HEADERS

HERE = Path(__file__).parent
SWAGGER_UI_DIR = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter(include_in_schema=False)
router.mount("/docs/swagger-ui", StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")


@router.get("/docs")
async def docs_page() -> HTMLResponse:
    return HTMLResponse((HERE / "docs.html").read_text(encoding="utf-8"), headers=PAGE_HEADERS)


@router.get("/docs/docs.js")
async def docs_script() -> FileResponse:
    return FileResponse(
        HERE / "docs.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )
