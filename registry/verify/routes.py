"""The service's routes, declared once: path, methods, endpoint and OpenAPI description.

One route per path. The hot path (``POST /api/v1/verify``) is a plain Starlette route, so that its
requests skip FastAPI's dependency solving (some 20 % of the warm-cache throughput); its OpenAPI
entry is generated from the same declaration (:func:`install_openapi`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from registry.verify import bulk_endpoint, did_documents, endpoints, vcapi
from registry.verify.bulk import BulkReport
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
    plain: bool = False  # served as a plain Starlette route (no dependency solving), documented alike

    def api_route(self) -> APIRoute:
        """This route as FastAPI describes it; an endpoint's docstring is for readers of the code,
        not the schema."""
        route = APIRoute(self.path, self.endpoint, methods=list(self.methods), **self.options)
        route.description = ""
        return route


_VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}
_RESULT = {"response_model": VerificationResult, "responses": {**RESULT_503, **PROBLEM_RESPONSES}}
_RECORD_ERRORS = {404: {"model": Problem}, 503: {"model": Problem}, **PROBLEM_RESPONSES}

# -- issue 14 items 4-5 (vcapi): the W3C VC-API and bulk verification --------------------------------
BULK_PATH = "/api/v1/verify/bulk"
_BOOL = {"type": "boolean"}
_VCAPI_400 = {
    400: {"model": Problem, "description": "invalid input", "content": {"application/problem+json": {}}},
    413: PROBLEM_RESPONSES[413],
}
_VCAPI_CREDENTIAL_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["verifiableCredential"],
                    "properties": {
                        "verifiableCredential": {"type": "object", "additionalProperties": True},
                        "options": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "returnResults": _BOOL,
                                "returnProblemDetails": _BOOL,
                                "returnCredential": _BOOL,
                            },
                        },
                    },
                }
            }
        },
    }
}
_VP_OPTIONS = {
    "type": "object",
    "properties": {
        "challenge": {"type": "string"},
        "domain": {"type": "string"},
        "returnPresentation": _BOOL,
    },
}
_VCAPI_PRESENTATION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["verifiablePresentation"],
                            "properties": {
                                "verifiablePresentation": {"type": "object", "additionalProperties": True},
                                "options": _VP_OPTIONS,
                            },
                        },
                        {
                            "type": "object",
                            "required": ["presentation"],
                            "properties": {"presentation": {"type": "object", "additionalProperties": True}},
                        },
                    ]
                }
            }
        },
    }
}
_BULK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}
VCAPI_ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "/credentials/verify",
        vcapi.verify_credential,
        ("POST",),
        {
            "response_model": vcapi.CredentialVerification,
            "responses": {
                **_VCAPI_400,
                503: {"model": vcapi.CredentialVerification, "description": "cannot be checked now"},
            },
            "summary": "W3C VC-API: verify a credential (VerifyCredentialRequest); 200 whatever the verdict",
            "openapi_extra": _VCAPI_CREDENTIAL_BODY,
        },
        plain=True,
    ),
    RouteSpec(
        "/presentations/verify",
        vcapi.verify_presentation,
        ("POST",),
        {
            "response_model": vcapi.PresentationVerification,
            "responses": {
                **_VCAPI_400,
                503: {"model": vcapi.PresentationVerification, "description": "cannot be checked now"},
            },
            "summary": "W3C VC-API: verify a presentation's proof (challenge, domain) and each credential",
            "openapi_extra": _VCAPI_PRESENTATION_BODY,
        },
        plain=True,
    ),
    RouteSpec(
        BULK_PATH,
        bulk_endpoint.verify_bulk,
        ("POST",),
        {
            "response_model": BulkReport,
            "responses": {
                400: {
                    "model": Problem,
                    "description": "no files",
                    "content": {"application/problem+json": {}},
                },
                413: {
                    "model": Problem,
                    "description": "too many files or bytes",
                    "content": {"application/problem+json": {}},
                },
                503: {"model": Problem, "description": "too many bulk verifications in progress"},
            },
            "summary": "Verify several files (multipart `files`: credentials or ZIP archives) into one table",
            "openapi_extra": _BULK_BODY,
        },
        plain=True,
    ),
)

ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec(
        "/", endpoints.index_page, options={"response_class": HTMLResponse, "include_in_schema": False}
    ),
    RouteSpec(
        "/v/{digest}",
        endpoints.link_page,
        options={
            "response_class": HTMLResponse,
            "include_in_schema": False,  # a page for people (HTML errors), like "/"; not the JSON API
            "summary": "Permanent verification link: the page, verifying the digest on every visit",
            "responses": {404: {"description": "no anchored batch lists this digest (the page says so)"}},
        },
    ),
    RouteSpec(
        "/v/{digest}/qr.svg",
        endpoints.link_qr,
        options={
            "response_class": Response,
            "include_in_schema": False,
            "summary": "QR code (SVG) of the permanent verification link",
            "responses": {200: {"content": {"image/svg+xml": {}}}},
        },
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
        plain=True,
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
    RouteSpec(
        "/status/{issuer}/{number}/{purpose}",
        endpoints.status_list,
        options={
            "response_class": Response,
            "summary": "A W3C Bitstring Status List credential, as the issuer last published it",
            "responses": {
                200: {"content": {endpoints.STATUS_LIST_MEDIA_TYPE: {}}},
                304: {"description": "not modified (If-None-Match)"},
                404: {"model": Problem, "description": "no such list"},
                **PROBLEM_RESPONSES,
            },
        },
    ),
    *VCAPI_ROUTES,
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
    RouteSpec(
        "/{path:path}/did.json",
        did_documents.did_document,
        options={
            "response_class": Response,
            "summary": "A did:web DID document served from REGISTRY_DID_DOCUMENTS_DIR (e.g. registry dev's)",
            "responses": {
                200: {"content": {did_documents.MEDIA_TYPE: {}}},
                404: {"model": Problem, "description": "no DID document is served at that path"},
            },
        },
    ),
)


def install_routes(app: FastAPI, routes: tuple[RouteSpec, ...] = ROUTES) -> None:
    """Add ``routes`` to ``app`` and describe them all in its OpenAPI schema."""
    described: list[BaseRoute] = []
    for spec in routes:
        route = spec.api_route()
        described.append(route)
        app.router.routes.append(
            Route(spec.path, spec.endpoint, methods=list(spec.methods)) if spec.plain else route
        )
    install_openapi(app, described)


def install_openapi(app: FastAPI, routes: list[BaseRoute]) -> None:
    """Make ``app``'s OpenAPI schema from ``routes`` (plain routes included)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=routes,
                separate_input_output_schemas=app.separate_input_output_schemas,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
