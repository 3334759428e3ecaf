"""Errors as RFC 9457 problem+json: the document, its OpenAPI entries and the app's handlers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.errors import RegistryError
from registry.verify.responses import MAX_MESSAGE_CHARS, clip
from registry.verify.result import VerificationResult

log = logging.getLogger("registry.verify.service")

PROBLEM_BASE = "urn:credential-registry:problem:"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="URI naming the problem; ends in the stable error code")
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str


TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    500: "Internal error",
    503: "Service unavailable",
}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {
        "model": Problem,
        "description": "request body over the size cap",
        "content": {"application/problem+json": {}},
    },
    422: {"model": Problem, "description": "malformed request", "content": {"application/problem+json": {}}},
}
RESULT_503: dict[int | str, dict[str, Any]] = {
    503: {
        "model": VerificationResult,
        "description": "indeterminate: the chain could not be read, the anchor is not yet confirmed "
        "or a status list could not be used",
    },
}


def problem(
    status: int,
    code: str,
    detail: str,
    instance: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": PROBLEM_BASE + code,
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": clip(detail, MAX_MESSAGE_CHARS),
        "code": code,
    }
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


async def registry_error(request: Request, exc: Exception) -> JSONResponse:
    """A registry error: its own status and code."""
    assert isinstance(exc, RegistryError)
    return problem(exc.http_status, exc.code, exc.message, request.url.path)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A request FastAPI could not validate: 422 naming every field."""
    assert isinstance(exc, RequestValidationError)
    parts = [f"{'/'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in exc.errors()]
    return problem(422, "invalid_request", "; ".join(parts) or "invalid request", request.url.path)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (404, 405, ...)."""
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return problem(
        exc.status_code, code, str(exc.detail), request.url.path, headers=getattr(exc, "headers", None)
    )


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected: 500, logged with its traceback, nothing of it in the answer."""
    log.exception("internal error on %s", request.url.path)
    return problem(500, "internal_error", "internal error", request.url.path)


def install_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem+json."""
    app.add_exception_handler(RegistryError, registry_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)
