"""The W3C VC-API verifier endpoints: ``POST /credentials/verify`` and ``POST /presentations/verify``.

Requests and answers in the VC-API's shape (VCALM ``VerifyCredentialRequest`` /
``VerifyPresentationRequest``, ``VerificationResult``, see :mod:`.vcapi_map`); each credential
goes through the same verifier as ``POST /api/v1/verify``. Status codes as the spec says: 200
when the verification was made, whatever it found (``verified`` says it); 400 (problem+json) for
input that is not a request; 413 for a body over the cap or a presentation with more credentials
than ``vcapi_max_credentials``. Beside the spec, as for our own API: 503 with the same body when
the answer cannot be given now (the chain or a DID document could not be read), never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from registry.core.canonical import parse_json
from registry.errors import CanonicalizationError, ErrorCode, RegistryError
from registry.verify.problems import problem
from registry.verify.responses import bound_result
from registry.verify.result import Status
from registry.verify.vcapi_map import (
    UNKNOWN_OPTION,
    CredentialVerification,
    FieldResult,
    ProblemDetails,
    ProofResult,
    credential_json,
    credential_verification,
    unsupported_credential,
)
from registry.verify.vcapi_presentation import ProofCheck, check_presentation
from registry.verify.verifier import Verifier

CREDENTIAL_OPTIONS = ("returnResults", "returnProblemDetails", "returnCredential")
ENVELOPED = ("EnvelopedVerifiableCredential", "EnvelopedVerifiablePresentation")


class PresentationPart(BaseModel):
    """Results of the presentation itself (not of its credentials)."""

    proof: list[ProofResult] = Field(default_factory=list)
    challenge: FieldResult | None = None
    domain: FieldResult | None = None
    holder: FieldResult | None = None


class PresentationResults(BaseModel):
    """The presentation's results and one credential result per presented credential, in order."""

    presentation: PresentationPart = Field(default_factory=PresentationPart)
    credentials: list[CredentialVerification] = Field(default_factory=list)


class PresentationVerification(BaseModel):
    """The VC-API ``VerificationResult`` of a presentation."""

    verified: bool = Field(description="true when the presentation's proof and every credential verified")
    checks: list[str] = Field(default_factory=list)
    warnings: list[ProblemDetails] = Field(default_factory=list)
    errors: list[ProblemDetails] = Field(default_factory=list)
    problemDetails: list[ProblemDetails] = Field(default_factory=list)
    results: PresentationResults = Field(default_factory=PresentationResults)
    verifiablePresentation: dict[str, Any] | None = Field(
        default=None, description="the input (options.returnPresentation)"
    )


class BadRequest(Exception):
    """A request the VC-API calls invalid input (400)."""

    def __init__(self, detail: str, code: str = "bad_request", kind: str | None = None) -> None:
        super().__init__(detail)
        self.detail, self.code, self.kind = detail, code, kind


def _verifier(request: Request) -> Verifier:
    verifier: Verifier = request.app.state.verifier
    return verifier


def _bad(request: Request, exc: BadRequest) -> Response:
    resp = problem(400, exc.code, exc.detail, request.url.path)
    if exc.kind is not None:  # the spec's own problem type (e.g. UNKNOWN_OPTION_PROVIDED)
        body = json.loads(bytes(resp.body))
        body["type"] = exc.kind
        resp = JSONResponse(body, status_code=400, media_type="application/problem+json")
    return resp


def parse_request(body: bytes, max_bytes: int) -> dict[str, Any]:
    """The request body: strict JSON, an object; ``BadRequest`` otherwise."""
    try:
        value = parse_json(body, max_bytes=max_bytes)
    except CanonicalizationError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc.message}", str(exc.code)) from None
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    return value


def _options(
    body: Mapping[str, Any], known: tuple[str, ...], strict: bool
) -> tuple[dict[str, Any], list[str]]:
    """``options`` (an object; booleans and strings as the spec types them) and unknown names."""
    options = body.get("options", {})
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise BadRequest("options must be a JSON object")
    unknown = [k for k in options if k not in known]
    if unknown and strict:
        raise BadRequest(
            f"unknown option(s): {', '.join(sorted(unknown))[:300]} (known: {', '.join(known)})",
            "unknown_option",
            UNKNOWN_OPTION,
        )
    for k in known:
        want = str if k in ("challenge", "domain") else bool
        if k in options and not isinstance(options[k], want):
            raise BadRequest(f"options.{k} must be a {'string' if want is str else 'boolean'}")
    return options, unknown


def credential_request(body: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(verifiableCredential, options) of a ``VerifyCredentialRequest``; ``BadRequest`` otherwise."""
    if "verifiableCredential" not in body:
        raise BadRequest("the request has no verifiableCredential")
    vc = body["verifiableCredential"]
    if not isinstance(vc, dict):
        raise BadRequest("verifiableCredential must be a JSON object")
    options, _ = _options(body, CREDENTIAL_OPTIONS, strict=True)
    return vc, options


def _types(doc: Mapping[str, Any]) -> list[Any]:
    kind = doc.get("type")
    return kind if isinstance(kind, list) else [kind]


async def verify_document(verifier: Verifier, document: Mapping[str, Any]) -> Any:
    """One credential through the service's verifier (the path of ``POST /api/v1/verify``)."""
    data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    prep = await verifier.prepare_async(data)
    return bound_result(await verifier.verify(prep))


async def _credential(
    verifier: Verifier, item: Any, return_credential: bool
) -> tuple[CredentialVerification, bool]:
    """The VC-API result of one presented item and whether it is indeterminate."""
    if isinstance(item, str):
        return unsupported_credential(
            item, "a credential given as a string (a JWT or another envelope) is not checked by this verifier"
        ), False
    if not isinstance(item, dict):
        return unsupported_credential(item, "a credential must be a JSON object"), False
    if any(t in ENVELOPED for t in _types(item)):
        return unsupported_credential(
            item, "enveloped credentials (application/vc+jwt, SD-JWT, ...) are not checked by this verifier"
        ), False
    result = await verify_document(verifier, item)
    return (
        credential_verification(result, item, return_credential=return_credential),
        result.status is Status.indeterminate,
    )


def _answer(body: dict[str, Any], indeterminate: bool) -> Response:
    headers = {"Retry-After": "5"} if indeterminate else None
    return JSONResponse(body, status_code=503 if indeterminate else 200, headers=headers)


async def verify_credential(request: Request) -> Response:
    """``POST /credentials/verify``: one credential, VC-API in and out."""
    verifier = _verifier(request)
    try:
        vc, options = credential_request(
            parse_request(await request.body(), verifier.settings.max_request_bytes)
        )
    except BadRequest as exc:
        return _bad(request, exc)
    found, indeterminate = await _credential(verifier, vc, bool(options.get("returnCredential")))
    return _answer(credential_json(found), indeterminate)


def presentation_request(body: Mapping[str, Any]) -> tuple[dict[str, Any], bool, dict[str, Any], list[str]]:
    """(presentation, whether it must carry a proof, options, unknown option names)."""
    signed, proofless = "verifiablePresentation" in body, "presentation" in body
    if signed == proofless:
        raise BadRequest("the request must have exactly one of verifiablePresentation and presentation")
    vp = body["verifiablePresentation" if signed else "presentation"]
    if not isinstance(vp, dict):
        raise BadRequest("the presentation must be a JSON object")
    if "VerifiablePresentation" not in _types(vp):
        raise BadRequest("the presentation's type must include VerifiablePresentation")
    options, unknown = _options(body, ("challenge", "domain", "returnPresentation"), strict=False)
    return vp, signed, options, unknown


def presented(vp: Mapping[str, Any], cap: int) -> list[Any]:
    """The presentation's credentials (one or a list); ``bulk_limit`` (413) over ``cap``."""
    raw = vp.get("verifiableCredential", [])
    items = raw if isinstance(raw, list) else [raw]
    if len(items) > cap:
        raise RegistryError(
            f"the presentation has {len(items)} credentials, over the cap of {cap}", code=ErrorCode.BULK_LIMIT
        )
    return items


async def _proofs(
    verifier: Verifier, vp: dict[str, Any], signed: bool, options: Mapping[str, Any]
) -> ProofCheck:
    if not signed:
        check = ProofCheck()
        if options.get("challenge") is not None or options.get("domain") is not None:
            check.errors.append(
                ProblemDetails(
                    type="https://w3id.org/security#PROOF_VERIFICATION_ERROR",
                    title="No proof",
                    detail="a challenge or domain was given, but a proofless presentation cannot answer it",
                )
            )
        return check
    return await anyio.to_thread.run_sync(
        lambda: check_presentation(
            vp,
            challenge=options.get("challenge"),
            domain=options.get("domain"),
            resolve=verifier.resolver.resolve,
            now=datetime.now(UTC),
        ),
        limiter=verifier._cpu,
    )


def _summary(
    found: list[CredentialVerification], proof: ProofCheck, signed: bool, unknown: list[str]
) -> tuple[list[ProblemDetails], list[ProblemDetails], list[str]]:
    errors = list(proof.errors) + [d for p in proof.proofs if not p.verified for d in p.problemDetails]
    warnings = list(proof.warnings)
    if unknown:
        warnings.append(
            ProblemDetails(
                type=UNKNOWN_OPTION,
                title="Unknown option",
                detail=f"ignored: {', '.join(sorted(unknown))[:300]}",
            )
        )
    if not signed:
        warnings.append(
            ProblemDetails(
                type="urn:credential-registry:problem:not_checked",
                title="Presentation not authenticated",
                detail="a proofless presentation: only its credentials were checked",
            )
        )
    for i, v in enumerate(found):
        if not v.verified:
            why = "; ".join(e.title for e in v.errors)[:300]
            errors.append(
                ProblemDetails(
                    type="urn:credential-registry:problem:credential_not_verified",
                    title="Credential not verified",
                    detail=f"credential {i} (results.credentials[{i}]) is not verified: {why}",
                )
            )
    checks = (
        (["proof"] if signed else [])
        + [
            k
            for k, v in (("challenge", proof.challenge), ("domain", proof.domain), ("holder", proof.holder))
            if v
        ]
        + ["credentials"]
    )
    return errors, warnings, checks


async def verify_presentation(request: Request) -> Response:
    """``POST /presentations/verify``: the presentation's proof and each of its credentials."""
    verifier = _verifier(request)
    try:
        body = parse_request(await request.body(), verifier.settings.max_request_bytes)
        vp, signed, options, unknown = presentation_request(body)
    except BadRequest as exc:
        return _bad(request, exc)
    items = presented(vp, verifier.settings.vcapi_max_credentials)
    proof = await _proofs(verifier, vp, signed, options)
    found, pending = [], False
    for item in items:
        v, later = await _credential(verifier, item, False)
        found.append(v)
        pending = pending or later
    errors, warnings, checks = _summary(found, proof, signed, unknown)
    verified = not errors and (signed or bool(found))
    out = PresentationVerification(
        verified=verified,
        checks=checks,
        warnings=warnings,
        errors=errors,
        problemDetails=errors + warnings,
        results=PresentationResults(
            presentation=PresentationPart(
                proof=proof.proofs, challenge=proof.challenge, domain=proof.domain, holder=proof.holder
            ),
        ),
        verifiablePresentation=vp if options.get("returnPresentation") else None,
    )
    data = out.model_dump(mode="json", exclude_none=True)
    data["results"]["credentials"] = [credential_json(v) for v in found]
    definite = (
        any(not v.verified and not _pending(v) for v in found)
        or (any(not p.verified for p in proof.proofs) and not proof.unreachable)
        or bool(proof.errors)
    )
    return _answer(data, not verified and (pending or proof.unreachable) and not definite)


def _pending(v: CredentialVerification) -> bool:
    r = v.credentialRegistry
    return r is not None and r.status is Status.indeterminate
