"""A verifiable presentation's own proofs: ``eddsa-rdfc-2022`` with its challenge, domain and holder.

Checked here: a ``DataIntegrityProof`` / ``eddsa-rdfc-2022`` proof whose purpose is
``authentication``, made with a key that its controller's DID document (did:key, or did:web
through the caller's resolver) lists under ``authentication``, with the challenge and domain the
verifier asked for (VC Data Integrity 1.0, "Verify Proof", steps on ``challenge`` / ``domain``),
not expired, and whose controller is the presentation's ``holder`` when one is named. A proof of
any other kind is reported as *not checked* and the presentation is then not verified: nothing
unchecked is ever called verified. CPU (RDF canonicalization of the whole presentation) and the
resolver's I/O: callers run it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from registry.core.dataintegrity.eddsa_rdfc_2022 import CRYPTOSUITE, PROOF_TYPE, verify_one
from registry.dids.document import did_of, ed25519_public_key, find_verification_method
from registry.dids.resolver import DidResult
from registry.errors import RegistryError
from registry.verify.responses import MAX_DETAIL_CHARS, clip
from registry.verify.vcapi_map import (
    INVALID_CHALLENGE,
    INVALID_DOMAIN,
    NOT_CHECKED,
    PROOF_ERROR,
    FieldResult,
    ProblemDetails,
    ProofResult,
)

PURPOSE = "authentication"
MAX_PROOFS = 4  # each proof canonicalizes the whole presentation (milliseconds per credential)
Resolve = Callable[[str], DidResult]


@dataclass
class ProofCheck:
    """The presentation's proofs checked: per-proof results, and the challenge, domain and holder."""

    proofs: list[ProofResult] = field(default_factory=list)
    errors: list[ProblemDetails] = field(default_factory=list)
    warnings: list[ProblemDetails] = field(default_factory=list)
    challenge: FieldResult | None = None
    domain: FieldResult | None = None
    holder: FieldResult | None = None
    unreachable: bool = False  # a DID document could not be fetched (try again later)

    @property
    def verified(self) -> bool:
        """At least one proof, every one checked and verified, and no other error."""
        return bool(self.proofs) and all(p.verified for p in self.proofs) and not self.errors


def _problem(kind: str, title: str, detail: str) -> ProblemDetails:
    return ProblemDetails(type=kind, title=title, detail=clip(detail, MAX_DETAIL_CHARS * 2))


def holder_of(presentation: Mapping[str, Any]) -> str | None:
    """The presentation's holder id (a string, or an object's ``id``), else None."""
    holder = presentation.get("holder")
    if isinstance(holder, Mapping):
        holder = holder.get("id")
    return holder if isinstance(holder, str) else None


def _listed(doc: Mapping[str, Any], relation: str, vm: str) -> bool:
    """True when ``vm`` is listed (by reference or embedded) under ``relation`` of ``doc``."""
    did = str(doc.get("id", ""))
    listed = doc.get(relation)
    for item in listed if isinstance(listed, list) else []:
        ref = item.get("id") if isinstance(item, Mapping) else item
        if isinstance(ref, str) and (ref == vm or (ref.startswith("#") and did + ref == vm)):
            return True
    return False


def _options_problems(
    proof: Mapping[str, Any], challenge: str | None, domain: str | None, now: datetime
) -> list[ProblemDetails]:
    """The challenge, domain and expiry of one proof against what the verifier asked."""
    out = []
    if challenge is not None and proof.get("challenge") != challenge:
        out.append(
            _problem(
                INVALID_CHALLENGE,
                "Wrong challenge",
                f"the proof's challenge {str(proof.get('challenge'))[:120]!r} is not the one asked "
                f"for ({challenge[:120]!r}): this presentation was made for another request",
            )
        )
    if domain is not None:
        got = proof.get("domain")
        domains = got if isinstance(got, list) else [got]
        if domain not in domains:
            out.append(
                _problem(
                    INVALID_DOMAIN,
                    "Wrong domain",
                    f"the proof's domain {str(got)[:120]!r} is not {domain[:120]!r}: this "
                    "presentation was made for another verifier",
                )
            )
    expires = proof.get("expires")
    if expires is not None:
        try:
            when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
            expired = (when if when.tzinfo else when.replace(tzinfo=UTC)) <= now
        except ValueError:
            expired = True
        if expired:
            out.append(_problem(PROOF_ERROR, "Proof expired", f"the proof expired at {str(expires)[:40]}"))
    return out


def _key_of(proof: Mapping[str, Any], resolve: Resolve, check: ProofCheck) -> bytes | str:
    """The Ed25519 key of the proof's verification method, or why there is none."""
    vm = proof.get("verificationMethod")
    if not isinstance(vm, str) or not vm.startswith("did:"):
        return "the proof's verificationMethod is not a DID URL"
    res = resolve(did_of(vm))
    if res.document is None:
        check.unreachable = check.unreachable or res.unreachable
        return f"the DID document of {did_of(vm)[:200]} cannot be read: {res.error}"
    method = find_verification_method(res.document, vm)
    if method is None:
        return f"the key {vm[:200]} is not in the DID document of {did_of(vm)[:200]}"
    if not _listed(res.document, PURPOSE, vm):
        return f"the key {vm[:200]} is not listed under authentication in its DID document"
    try:
        return ed25519_public_key(method)
    except RegistryError as exc:
        return exc.message


def _one(
    presentation: Mapping[str, Any],
    proof: Any,
    challenge: str | None,
    domain: str | None,
    resolve: Resolve,
    now: datetime,
    check: ProofCheck,
) -> ProofResult:
    """One proof of the presentation."""
    if (
        not isinstance(proof, Mapping)
        or proof.get("type") != PROOF_TYPE
        or proof.get("cryptosuite") != CRYPTOSUITE
    ):
        kind = (
            (proof.get("type"), proof.get("cryptosuite"))
            if isinstance(proof, Mapping)
            else type(proof).__name__
        )
        return ProofResult(
            verified=False,
            input=proof,
            problemDetails=[
                _problem(
                    NOT_CHECKED,
                    "Proof not checked",
                    f"this verifier checks {PROOF_TYPE} / {CRYPTOSUITE} presentation proofs only; this one "
                    f"({kind!r}) was NOT checked, so who presents the credentials is not established",
                )
            ],
        )
    problems = _options_problems(proof, challenge, domain, now)
    if proof.get("proofPurpose") != PURPOSE:
        problems.append(
            _problem(
                PROOF_ERROR,
                "Wrong proof purpose",
                f"proofPurpose is {str(proof.get('proofPurpose'))[:60]!r}, a presentation "
                f"is signed for {PURPOSE!r}",
            )
        )
    key = _key_of(proof, resolve, check)
    if isinstance(key, str):
        problems.append(_problem(PROOF_ERROR, "Key not usable", key))
    else:
        try:
            verify_one(presentation, proof, lambda _vm: key, expected_purpose=None)
        except RegistryError as exc:
            problems.append(_problem(PROOF_ERROR, "Signature does not verify", exc.message))
    return ProofResult(verified=not problems, input=proof, problemDetails=problems)


def _holder(presentation: Mapping[str, Any], proofs: Sequence[Any], check: ProofCheck) -> None:
    holder = holder_of(presentation)
    if holder is None:
        return
    signers = {
        did_of(p["verificationMethod"])
        for p in proofs
        if isinstance(p, Mapping) and isinstance(p.get("verificationMethod"), str)
    }
    ok = holder in signers and all(r.verified for r in check.proofs)
    check.holder = FieldResult(verified=ok, input=holder)
    if holder not in signers:
        check.errors.append(
            _problem(
                PROOF_ERROR,
                "Holder not the signer",
                f"the presentation names holder {holder[:200]!r}, but no proof was made "
                "with a key of that DID",
            )
        )


def check_presentation(
    presentation: Mapping[str, Any],
    *,
    challenge: str | None,
    domain: str | None,
    resolve: Resolve,
    now: datetime | None = None,
) -> ProofCheck:
    """Check every proof of ``presentation`` (all must verify) and its holder."""
    now = now or datetime.now(UTC)
    check = ProofCheck()
    raw = presentation.get("proof")
    proofs: list[Any] = raw if isinstance(raw, list) else [] if raw is None else [raw]
    if not proofs:
        check.errors.append(
            _problem(
                PROOF_ERROR,
                "No proof",
                "the presentation has no proof: who presents the credentials is not "
                "established (send it as `presentation` to check only its credentials)",
            )
        )
    if len(proofs) > MAX_PROOFS:
        check.errors.append(
            _problem(
                PROOF_ERROR,
                "Too many proofs",
                f"the presentation has {len(proofs)} proofs; at most {MAX_PROOFS} are checked, so none was",
            )
        )
        check.proofs = [ProofResult(verified=False, input=p) for p in proofs[:MAX_PROOFS]]
        return check
    check.proofs = [_one(presentation, p, challenge, domain, resolve, now, check) for p in proofs]
    checked = [p.input for p in check.proofs if not any(d.type == NOT_CHECKED for d in p.problemDetails)]
    if challenge is not None:
        ok = bool(checked) and all(
            isinstance(p, Mapping) and p.get("challenge") == challenge for p in checked
        )
        check.challenge = FieldResult(verified=ok, input=challenge)
    elif any(isinstance(p, Mapping) and "challenge" in p for p in checked):
        check.warnings.append(
            _problem(
                NOT_CHECKED,
                "Challenge not checked",
                "the proof carries a challenge but the request gave no "
                "options.challenge: a replayed presentation would look the same",
            )
        )
    if domain is not None:
        ok = bool(checked) and not any(
            d.type == INVALID_DOMAIN for p in check.proofs for d in p.problemDetails
        )
        check.domain = FieldResult(verified=ok, input=domain)
    _holder(presentation, proofs, check)
    return check
