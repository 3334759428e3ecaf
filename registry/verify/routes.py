"""The service's routes, declared once: path, methods, endpoint and OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute

from registry.verify import endpoints
from registry.verify.endpoints import BatchView, IssuerView
from registry.verify.problems import PROBLEM_RESPONSES, RESULT_503, Problem
from registry.verify.result import VerificationResult


@dataclass(frozen=True)
class RouteSpec:
    """One route: what :meth:`FastAPI.add_api_route` takes."""

    path: str
    endpoint: Callable[..., Any]
    methods: tuple[str, ...] = ("GET",)
    options: dict[str, Any] = field(default_factory=dict)


_VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}
_RESULT = {"response_model": VerificationResult, "responses": {**RESULT_503, **PROBLEM_RESPONSES}}
_RECORD_ERRORS = {404: {"model": Problem}, 503: {"model": Problem}, **PROBLEM_RESPONSES}

ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "/", endpoints.index_page, options={"response_class": HTMLResponse, "include_in_schema": False}
    ),
    RouteSpec(
        "/docs", endpoints.docs_page, options={"response_class": HTMLResponse, "include_in_schema": False}
    ),
    RouteSpec(
        "/api/v1/verify",
        endpoints.verify,
        ("POST",),
        {
            **_RESULT,
            "summary": "Verify a credential (JSON body: the credential with or without its proof)",
            "openapi_extra": _VERIFY_BODY,
        },
    ),
    RouteSpec(
        "/api/v1/verify/file",
        endpoints.verify_file,
        ("POST",),
        {**_RESULT, "summary": "Verify an uploaded credential file (multipart form field `file`)"},
    ),
    RouteSpec(
        "/api/v1/credentials/{digest}",
        endpoints.credential,
        options={
            "response_model": VerificationResult,
            "responses": {
                **RESULT_503,
                404: {"model": Problem, "description": "no anchored batch lists this digest"},
                **PROBLEM_RESPONSES,
            },
            "summary": "Status of a credential known only by its digest (looked up in the digest index)",
        },
    ),
    RouteSpec(
        "/api/v1/batches/{root}",
        endpoints.batch,
        options={
            "response_model": BatchView,
            "responses": _RECORD_ERRORS,
            "summary": "A batch by its Merkle root",
        },
    ),
    RouteSpec(
        "/api/v1/issuers/{address}",
        endpoints.issuer,
        options={
            "response_model": IssuerView,
            "responses": _RECORD_ERRORS,
            "summary": "An issuer by address",
        },
    ),
    RouteSpec("/healthz", endpoints.healthz, options={"summary": "Liveness: the process answers"}),
    RouteSpec(
        "/readyz",
        endpoints.readyz,
        options={
            "summary": "Readiness: chain events read within the staleness bound, index caught up",
            "responses": {503: {"model": Problem}},
        },
    ),
    RouteSpec(
        "/metrics", endpoints.metrics, options={"summary": "Prometheus metrics", "response_class": Response}
    ),
)


def install_routes(app: FastAPI, routes: tuple[RouteSpec, ...] = ROUTES) -> None:
    """Add ``routes`` to ``app``; an endpoint's docstring is for readers of the code, not the schema."""
    for spec in routes:
        app.add_api_route(spec.path, spec.endpoint, methods=list(spec.methods), **spec.options)
        route = app.router.routes[-1]
        assert isinstance(route, APIRoute)
        route.description = ""
