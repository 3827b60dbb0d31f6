"""RFC 9457 problem+json: how every error leaves the service."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rollcall import jsonbody
from rollcall.db.pool import UNAVAILABLE_ERRORS
from rollcall.errors import (
    EventNotFound,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Problem,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

PROBLEM_JSON = "application/problem+json"

BAD_BODY = (MalformedRequest, ValidationFailed, UnsupportedMediaType, PayloadTooLarge)
"""The problems any route with a JSON body can answer, for its `responses=`."""


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem_response(problem: Problem) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": problem.title,
        "status": problem.status,
        "code": problem.code,
        "detail": problem.detail,
        **problem.extra,
    }
    return ProblemResponse(body, status_code=problem.status, headers=problem.response_headers())


def field_errors(errors: Iterable[Mapping[str, Any]]) -> ValidationFailed:
    """One validation_error naming each field, from pydantic's or FastAPI's error list."""
    listed = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            or "body",
            "message": str(error.get("msg", "invalid")),
            "type": str(error.get("type", "value_error")),
        }
        for error in errors
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in listed)
    return ValidationFailed(detail, errors=listed)


def _on_validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return problem_response(MalformedRequest())
    return problem_response(field_errors(exc.errors()))


def _on_http_exception(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return problem_response(NotFound())
    if exc.status_code == 405:
        return problem_response(MethodNotAllowed())
    if exc.status_code == 400:
        # FastAPI's "error parsing the body": a body its json.loads gave up on, such as one
        # nested so deeply that the parser ran out of stack.
        return problem_response(MalformedRequest())
    return ProblemResponse(
        {
            "type": "about:blank",
            "title": str(exc.detail),
            "status": exc.status_code,
            "code": "http_error",
            "detail": str(exc.detail),
        },
        status_code=exc.status_code,
    )


def _on_problem(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc)


def _on_database_unavailable(request: Request, exc: Exception) -> ProblemResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem_response(ServiceUnavailable())


def _on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(Problem("an unexpected error occurred; it has been logged"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Problem, _on_problem)
    for error in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, _on_database_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)


def openapi_problem(*problems: type[Problem]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting which problem codes a route can answer with.

    An unknown event code is a guess (ratelimits.py): a route that can answer
    `event_not_found` can also answer `rate_limited`."""
    if EventNotFound in problems and RateLimited not in problems:
        problems = (*problems, RateLimited)
    by_status: dict[int, list[str]] = {}
    for problem in problems:
        by_status.setdefault(problem.status, []).append(problem.code)
    return {
        status: {
            "description": "Problem: " + ", ".join(f"`{code}`" for code in codes),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, codes in sorted(by_status.items())
    }


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ProblemDocument(BaseModel):
    """An RFC 9457 problem, with rollcall's stable `code`."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    errors: list[FieldError] | None = None


def add_schemas(openapi: dict[str, Any], **models: type[BaseModel]) -> dict[str, Any]:
    """Add models to the document's components, for routes that reference them by hand."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for component, model in models.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas[component] = schema
    return openapi


async def parse_json_body(request: Request, model: type[M]) -> M:
    """Read and validate a JSON body by hand, for routes that must check something first."""
    try:
        data = jsonbody.loads(await request.body())
    except jsonbody.BadJSON as exc:
        raise MalformedRequest(str(exc)) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise field_errors(exc.errors()) from exc


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx in the document is problem+json; every database route may answer 503."""
    problem_content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in openapi.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {
                    "description": "Problem: `validation_error` (each field in `errors`)",
                    "content": problem_content,
                }
            if path.startswith("/api/"):
                responses.setdefault(
                    "503",
                    {
                        "description": "Problem: `service_unavailable` (the database is out of "
                        "reach; see Retry-After)",
                        "content": problem_content,
                    },
                )
    schemas = openapi.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return openapi
