"""The pages: `/` to create an event, `/host/{code}` for the host, `/j/{code}` for phones."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
