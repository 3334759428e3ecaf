"""Our verification result in the W3C VC-API's shape (VCALM, ``VerificationResult``).

The VC-API answer has ``verified``, ``problemDetails`` and ``results`` (``validFrom``,
``validUntil``, ``credentialStatus``, ``proof``); the spec's text also names ``checks``,
``warnings`` and ``errors`` (earlier drafts' members, still read by many clients): both are given.
``verified`` is true exactly when our verdict is ``valid``; every check that failed or could not
run is an error, every check that was not made (``skipped``) a warning saying so. Our full
result is the extension member ``credentialRegistry``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from registry.core.anchor_suite import is_anchor_proof
from registry.core.dataintegrity.eddsa_rdfc_2022 import CRYPTOSUITE, PROOF_TYPE
from registry.verify.problems import PROBLEM_BASE
from registry.verify.result import CHECK_TITLES, Check, CheckStatus, VerificationResult

VCDM = "https://www.w3.org/TR/vc-data-model#"  # VC Data Model 2.0, section 7.2 (problem details)
SECURITY = "https://w3id.org/security#"  # VC Data Integrity 1.0, "Processing errors"
VCALM = "https://www.w3.org/TR/vcalm#"  # the VC-API's own problem types
UNKNOWN_OPTION = VCALM + "UNKNOWN_OPTION_PROVIDED"
PARSING_ERROR = VCDM + "PARSING_ERROR"
CRYPTO_ERROR = VCDM + "CRYPTOGRAPHIC_SECURITY_ERROR"
PROOF_ERROR = SECURITY + "PROOF_VERIFICATION_ERROR"
INVALID_CHALLENGE = SECURITY + "INVALID_CHALLENGE_ERROR"
INVALID_DOMAIN = SECURITY + "INVALID_DOMAIN_ERROR"
NOT_CHECKED = PROBLEM_BASE + "not_checked"

CHECK_TYPES: dict[str, str] = {
    "format": PARSING_ERROR,
    "integrity": CRYPTO_ERROR,
    "merkle_inclusion": CRYPTO_ERROR,
    "signature": PROOF_ERROR,
}
ANCHOR_CHECKS = ("integrity", "merkle_inclusion", "trusted_registry", "anchored", "issuer", "issuer_binding")


class ProblemDetails(BaseModel):
    """An RFC 9457 problem, as the VC-API reports errors and warnings inside a result."""

    type: str = Field(description="URL naming the problem")
    title: str
    detail: str


class FieldResult(BaseModel):
    """The result of checking one field (validFrom, validUntil, a challenge, a domain, the holder)."""

    verified: bool
    input: Any = None


class ProofResult(BaseModel):
    """The result of one proof of the document."""

    verified: bool
    input: Any = Field(default=None, description="the proof object")
    problemDetails: list[ProblemDetails] = Field(default_factory=list)


class CredentialResults(BaseModel):
    """Per-field results of a credential."""

    validFrom: FieldResult | None = None
    validUntil: FieldResult | None = None
    credentialStatus: list[FieldResult] = Field(default_factory=list)
    proof: list[ProofResult] = Field(default_factory=list)


class CredentialVerification(BaseModel):
    """The VC-API ``VerificationResult`` of one credential (``credentialRegistry``: ours, in full)."""

    model_config = ConfigDict(extra="forbid")

    verified: bool = Field(description="true only when the registry's verdict is valid")
    checks: list[str] = Field(default_factory=list, description="the checks made (passed or failed)")
    warnings: list[ProblemDetails] = Field(default_factory=list, description="what was not checked")
    errors: list[ProblemDetails] = Field(default_factory=list, description="why it is not verified")
    problemDetails: list[ProblemDetails] = Field(default_factory=list, description="errors, then warnings")
    results: CredentialResults = Field(default_factory=CredentialResults)
    credential: dict[str, Any] | None = Field(
        default=None, description="the input (options.returnCredential)"
    )
    credentialRegistry: VerificationResult | None = Field(
        default=None, description="extension: the registry's full result (status, issuer, anchor, checks)"
    )


def problem_of(check: Check) -> ProblemDetails:
    """A failed (or errored) check as a problem."""
    title = CHECK_TITLES.get(check.name, check.name)
    if check.status is CheckStatus.error:
        return ProblemDetails(
            type=PROBLEM_BASE + "indeterminate", title=f"{title}: cannot be checked now", detail=check.message
        )
    return ProblemDetails(
        type=CHECK_TYPES.get(check.name, PROBLEM_BASE + check.name), title=title, detail=check.message
    )


def not_checked(check: Check) -> ProblemDetails:
    """A skipped check as a warning: it was not made, and says why."""
    return ProblemDetails(
        type=NOT_CHECKED,
        title=f"Not checked: {CHECK_TITLES.get(check.name, check.name)}",
        detail=check.message,
    )


def _status(result: VerificationResult, name: str) -> CheckStatus | None:
    for c in result.checks:
        if c.name == name:
            return c.status
    return None


def _proof_results(result: VerificationResult, document: Mapping[str, Any]) -> list[ProofResult]:
    proofs = document.get("proof")
    items: Sequence[Any] = proofs if isinstance(proofs, list) else [] if proofs is None else [proofs]
    out = []
    for p in items:
        if is_anchor_proof(p):
            ok = all(_status(result, n) is CheckStatus.passed for n in ANCHOR_CHECKS)
            out.append(ProofResult(verified=ok, input=p))
        elif isinstance(p, Mapping) and p.get("type") == PROOF_TYPE and p.get("cryptosuite") == CRYPTOSUITE:
            out.append(ProofResult(verified=_status(result, "signature") is CheckStatus.passed, input=p))
        else:
            kind = (p.get("type"), p.get("cryptosuite")) if isinstance(p, Mapping) else type(p).__name__
            out.append(
                ProofResult(
                    verified=False,
                    input=p,
                    problemDetails=[
                        ProblemDetails(
                            type=NOT_CHECKED,
                            title="Proof not checked",
                            detail=f"this verifier does not check proofs of this kind ({kind!r})",
                        )
                    ],
                )
            )
    return out


def _field(result: VerificationResult, document: Mapping[str, Any], key: str) -> FieldResult | None:
    if key not in document:
        return None
    return FieldResult(verified=_status(result, "validity_window") is CheckStatus.passed, input=document[key])


def credential_results(result: VerificationResult, document: Mapping[str, Any]) -> CredentialResults:
    """The per-field results: validity dates, status entries and proofs of ``document``."""
    status = document.get("credentialStatus")
    entries: Sequence[Any] = status if isinstance(status, list) else [] if status is None else [status]
    ok = _status(result, "credential_status") is CheckStatus.passed
    return CredentialResults(
        validFrom=_field(result, document, "validFrom"),
        validUntil=_field(result, document, "validUntil"),
        credentialStatus=[FieldResult(verified=ok, input=e) for e in entries],
        proof=_proof_results(result, document),
    )


def credential_verification(
    result: VerificationResult, document: Mapping[str, Any], *, return_credential: bool = False
) -> CredentialVerification:
    """Our result of ``document`` as a VC-API credential verification result."""
    errors = [problem_of(c) for c in result.checks if c.status in (CheckStatus.failed, CheckStatus.error)]
    if not result.verified and not errors:  # the verdict is never "not verified" without a reason
        errors.append(
            ProblemDetails(
                type=PROBLEM_BASE + result.status.value, title=result.status.value, detail=result.summary
            )
        )
    warnings = [not_checked(c) for c in result.checks if c.status is CheckStatus.skipped]
    if result.verified and result.issuer is not None and result.issuer.status == "suspended":
        warnings.append(
            ProblemDetails(
                type=PROBLEM_BASE + "issuer_suspended",
                title="Issuer suspended",
                detail="the registry suspended this issuer after it anchored the "
                "credential; what it anchored before stays valid",
            )
        )
    return CredentialVerification(
        verified=result.verified,
        checks=[c.name for c in result.checks if c.status in (CheckStatus.passed, CheckStatus.failed)],
        warnings=warnings,
        errors=errors,
        problemDetails=errors + warnings,
        results=credential_results(result, document),
        credential=dict(document) if return_credential else None,
        credentialRegistry=result,
    )


def unsupported_credential(item: Any, why: str) -> CredentialVerification:
    """The result of a presented credential this verifier cannot check (enveloped, JWT, ...)."""
    err = ProblemDetails(type=NOT_CHECKED, title="Credential not checked", detail=why)
    return CredentialVerification(verified=False, errors=[err], problemDetails=[err])


def credential_json(v: CredentialVerification) -> dict[str, Any]:
    """The answer's JSON: VC-API members without empty optional ones; ours in full."""
    body = v.model_dump(mode="json", exclude_none=True, exclude={"credentialRegistry"})
    if v.credentialRegistry is not None:
        body["credentialRegistry"] = v.credentialRegistry.model_dump(mode="json")
    return body
