"""``signature``: the document's Data Integrity proofs other than the anchor, checked against the
document's issuer DID; for a ``did:web`` issuer, its domain must confirm the anchoring account.

Two steps, both without I/O. At preparation, :func:`signed_proofs` computes each
``eddsa-rdfc-2022`` proof's signing input (RDF canonicalization, the slow part, a few ms; kept in a
bounded cache by document digest and proof), so the prepared record keeps 128 bytes per proof,
never the document. At the verdict, :func:`signature_check` takes the issuer's DID document
(did:key: derived here; did:web: fetched by the caller through :mod:`registry.dids`) and checks
key, relationship and signature (Ed25519, about 60 µs).

An unknown proof type or cryptosuite is listed, never ignored. A did:web DID document that
cannot be fetched changes no verdict by itself (the check is ``skipped`` and says why) unless
the verifier requires the domain check (``require_domain``: ``error``, indeterminate).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.core.dataintegrity.didkey import multibase_decode
from registry.core.dataintegrity.eddsa_rdfc_2022 import (
    CRYPTOSUITE,
    PROOF_TYPE,
    hash_data,
    proof_configuration,
    proof_context,
    transform,
)
from registry.dids.document import (
    did_of,
    ed25519_public_key,
    find_verification_method,
    is_assertion_method,
    is_did,
    lists_account,
)
from registry.dids.resolver import DidResult, resolve_key
from registry.errors import ErrorCode, RegistryError
from registry.verify.checks.words import error, failed, passed, skipped
from registry.verify.config import VerifyConfig
from registry.verify.verdict import Finding

if TYPE_CHECKING:
    from registry.verify.prepared import Prepared

ANCHOR_CRYPTOSUITE = "registry-anchor-2026"  # the anchor proof, never an issuer signature
MAX_SIGNED_PROOFS = 8  # proofs canonicalized per document: each costs milliseconds of CPU
NAME = "signature"


@dataclass(frozen=True)
class SignedProof:
    """One proof of a document other than the anchor, ready to check without the document."""

    label: str  # type/cryptosuite, for sentences
    checked: bool  # an eddsa-rdfc-2022 proof this verifier checks
    vm: str | None = None
    data: bytes | None = None  # hashData: sha256(canonical proof config) || sha256(canonical document)
    signature: bytes | None = None
    problem: str | None = None  # why it cannot hold (malformed, not canonicalizable): invalid
    unchecked_why: str | None = None  # why it could not be checked here (a context not pinned)


def proof_label(p: Mapping[str, Any]) -> str:
    """``type`` and, when present, ``cryptosuite`` of a proof, bounded."""
    t = p.get("type")
    t = ",".join(str(x) for x in t) if isinstance(t, list) else (str(t) if t is not None else "untyped")
    suite = p.get("cryptosuite")
    return t[:60] + (f"/{str(suite)[:60]}" if suite is not None else "")


_CACHE: LRUCache[tuple[bytes, str], SignedProof] = LRUCache(maxsize=8192)
_CACHE_LOCK = threading.Lock()


def signed_proofs(
    body: Mapping[str, Any], others: Sequence[Mapping[str, Any]], digest: bytes, issuer: str | None = None
) -> tuple[SignedProof, ...]:
    """The document's other proofs, each with its signing input when it is ``eddsa-rdfc-2022``
    (cached by document digest and proof, so a document seen again costs no canonicalization).

    ``issuer``: the document's issuer id; a proof by a key outside it is not canonicalized (it
    fails whatever its signature), so such proofs cost an attacker's verifier no CPU."""
    out: list[SignedProof] = []
    for p in others:
        if p.get("cryptosuite") == ANCHOR_CRYPTOSUITE:
            continue
        if len(out) >= MAX_SIGNED_PROOFS:
            limit = f"is one proof too many: this verifier checks at most {MAX_SIGNED_PROOFS} per document"
            out.append(SignedProof(proof_label(p), True, problem=limit))
            continue
        key = (digest, json.dumps(p, sort_keys=True, ensure_ascii=False, default=str))
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is None:
            hit = _prepare_one(body, p, issuer)
            with _CACHE_LOCK:
                _CACHE[key] = hit
        out.append(hit)
    return tuple(out)


def _prepare_one(body: Mapping[str, Any], p: Mapping[str, Any], issuer: str | None) -> SignedProof:
    label = proof_label(p)
    if p.get("type") != PROOF_TYPE or p.get("cryptosuite") != CRYPTOSUITE:
        return SignedProof(label, checked=False)
    vm = p.get("verificationMethod")
    vm = vm[:300] if isinstance(vm, str) and vm else None
    try:
        if vm is None:
            return SignedProof(label, True, problem="has no verificationMethod")
        if "previousProof" in p:
            return SignedProof(
                label, True, vm, problem="is a proof chain (previousProof), which is not supported"
            )
        if p.get("proofPurpose") != "assertionMethod":
            return SignedProof(
                label,
                True,
                vm,
                problem=f"has proofPurpose {str(p.get('proofPurpose'))[:60]!r}, not 'assertionMethod'",
            )
        signature = multibase_decode(p.get("proofValue", ""))
        if len(signature) != 64:
            return SignedProof(
                label,
                True,
                vm,
                problem=f"has a proofValue of {len(signature)} bytes, not an Ed25519 signature (64)",
            )
        if not is_did(issuer) or did_of(vm) != did_of(issuer):
            return SignedProof(label, True, vm, signature=signature)  # fails in signature_check
        context = proof_context(body, p)
        if context is None:
            return SignedProof(label, True, vm, problem="names a @context the document does not start with")
        unsecured = {**body, "@context": context}
        options = {k: v for k, v in p.items() if k not in ("proofValue", "@context")}
        data = hash_data(proof_configuration(options, context), transform(unsecured))
    except RegistryError as exc:
        if exc.code == ErrorCode.UNKNOWN_CONTEXT:
            return SignedProof(label, False, vm, unchecked_why=exc.message)
        return SignedProof(label, True, vm, problem=f"cannot be checked: {exc.message}")
    return SignedProof(label, True, vm, data=data, signature=signature)


@lru_cache(maxsize=1024)
def _did_key(did: str) -> DidResult:
    """A did:key's DID document (pure, so kept: the base58 decoding is in Python)."""
    return resolve_key(did)


@dataclass
class _Tally:
    """What the proofs and the DID document showed."""

    verified: list[str]
    failures: list[str]
    notes: list[str]


def signature_check(
    prep: Prepared, config: VerifyConfig, did: DidResult | None = None, not_fetched: str | None = None
) -> Finding:
    """``signature``: every issuer proof verified against the document's issuer DID (see module).

    ``did``: the issuer's did:web resolution (did:key is derived here); ``not_fetched``: why a
    did:web was not resolved (the chain has not confirmed it is the registered DID)."""
    if not prep.has_document:
        return skipped(NAME, "Only a digest was presented: there is no document whose signature to check.")
    if prep.stored_copy:
        return skipped(
            NAME,
            "Checked from the registry's stored copy of the document, which keeps no proofs: "
            "present the holder's file to check the issuer signature.",
        )
    if prep.local_failed or prep.local_error:
        return skipped(NAME, "Not checked because an earlier check failed.")
    issuer = prep.claimed_issuer
    issuer_did = did_of(issuer) if is_did(issuer) else None
    ours = [s for s in prep.signatures if s.checked]
    details: dict[str, Any] = {}
    unknown = [s for s in prep.signatures if not s.checked]
    if unknown:
        details["unverified_proofs"] = [s.label for s in unknown]
    tally = _Tally([], [], [])
    pending = _belonging(ours, issuer, issuer_did, tally)
    web = issuer_did is not None and issuer_did.startswith("did:web:")
    if issuer_did is None or not (pending or web):
        return _conclude(prep, config, tally, unknown, details, issuer_did)
    res = did if did is not None else (_did_key(issuer_did) if issuer_did.startswith("did:key:") else None)
    if res is None or res.document is None:
        why = (res.error if res is not None else not_fetched) or "it was not resolved"
        if not web:
            tally.failures.append(f"the DID document of {issuer_did} cannot be resolved ({why})")
            return _conclude(prep, config, tally, unknown, details, issuer_did)
        return _unreachable(prep, config, tally, details, issuer_did, why, bool(pending))
    for s in pending:
        _verify(s, res.document, issuer_did, tally)
    if web:
        _domain(prep, res.document, issuer_did, tally, details)
    return _conclude(prep, config, tally, unknown, details, issuer_did)


def _belonging(
    ours: list[SignedProof], issuer: str | None, issuer_did: str | None, tally: _Tally
) -> list[SignedProof]:
    """The well-formed proofs by a key of the issuer's DID; the others are failures."""
    pending = []
    for s in ours:
        if s.problem is not None:
            tally.failures.append(f"the {CRYPTOSUITE} proof by {s.vm or '(no key)'} {s.problem}")
        elif issuer_did is None:
            tally.failures.append(
                f"it is signed with {s.vm}, but the document's issuer {str(issuer)[:200]!r} is not a DID, "
                "so that key is not the issuer's"
            )
        elif s.vm is None or did_of(s.vm) != issuer_did:
            tally.failures.append(
                f"it is signed with {s.vm}, a key outside the document's issuer DID {issuer_did}: "
                "someone other than the issuer signed it"
            )
        else:
            pending.append(s)
    return pending


def _verify(s: SignedProof, doc: Mapping[str, Any], issuer_did: str, tally: _Tally) -> None:
    """One eddsa-rdfc-2022 signature against the issuer's DID document."""
    assert s.vm is not None and s.data is not None and s.signature is not None
    method = find_verification_method(doc, s.vm)
    if method is None:
        tally.failures.append(f"its key {s.vm} is not in the DID document of {issuer_did}")
        return
    if not is_assertion_method(doc, s.vm):
        tally.failures.append(
            f"its key {s.vm} is not listed under assertionMethod in the DID document of {issuer_did}"
        )
        return
    try:
        Ed25519PublicKey.from_public_bytes(ed25519_public_key(method)).verify(s.signature, s.data)
    except RegistryError as exc:
        tally.failures.append(f"its key {s.vm} cannot be used: {exc.message}")
    except (InvalidSignature, ValueError):
        tally.failures.append(
            f"the Ed25519 signature by {s.vm} does not verify: the document or its proof was changed "
            "after it was signed, or the signature was not made with that key"
        )
    else:
        tally.verified.append(s.vm)


def _domain(
    prep: Prepared, doc: Mapping[str, Any], issuer_did: str, tally: _Tally, details: dict[str, Any]
) -> None:
    """For did:web: the DID document lists the anchoring account (the domain confirms the chain)."""
    assert prep.chain_id is not None and prep.issuer_hint is not None
    account = f"eip155:{prep.chain_id}:{prep.issuer_hint}"
    details["anchoring_account"] = account
    if lists_account(doc, prep.chain_id, prep.issuer_hint):
        details["domain"] = "confirmed"
        tally.notes.append(f"the DID document of {issuer_did} lists the anchoring account {account}")
    else:
        details["domain"] = "denied"
        tally.failures.append(
            f"the DID document of {issuer_did} does not list the anchoring account {account} as a "
            "blockchainAccountId: the domain does not confirm the account that anchored this credential"
        )


def _unreachable(
    prep: Prepared,
    config: VerifyConfig,
    tally: _Tally,
    details: dict[str, Any],
    issuer_did: str,
    why: str,
    signed: bool,
) -> Finding:
    """A did:web DID document that could not be had: reported; decisive only by policy."""
    details["domain"] = "unreachable"
    what = (
        "its signature and whether its domain lists the anchoring account"
        if signed
        else "whether its domain lists the anchoring account"
    )
    head = (
        "The issuer signature does not hold: " + "; ".join(dict.fromkeys(tally.failures)) + ". "
        if tally.failures
        else ""
    )
    message = (
        f"{head}The DID document of {issuer_did} was not obtained ({why}), so {what} could not be checked"
    )
    if tally.failures:
        return failed(NAME, message + ".", **details)
    if config.require_domain:
        return error(
            NAME, message + "; this verifier requires the domain check, so it cannot decide now.", **details
        )
    if config.require_signature and signed:
        return error(
            NAME,
            message + "; this verifier requires a verified signature, so it cannot decide now.",
            **details,
        )
    if config.require_signature:
        return failed(
            NAME,
            message + "; the document carries no issuer signature, and this verifier requires one.",
            **details,
        )
    return skipped(NAME, message + "; the chain's answer stands.", **details)


def _conclude(
    prep: Prepared,
    config: VerifyConfig,
    tally: _Tally,
    unknown: list[SignedProof],
    details: dict[str, Any],
    issuer_did: str | None,
) -> Finding:
    """The finding from what the proofs and the DID document showed."""
    extra = ""
    if unknown:
        n = len(unknown)
        why = "; ".join(sorted({s.unchecked_why for s in unknown if s.unchecked_why}))
        extra = (
            f" It also carries {n} proof{'s' if n > 1 else ''} this verifier did not verify "
            f"({', '.join(s.label for s in unknown)}){': ' + why if why else ''}."
        )
    notes = f"; {'; '.join(tally.notes)}" if tally.notes else ""
    if tally.failures:
        return failed(
            NAME,
            "The issuer signature does not hold: " + "; ".join(dict.fromkeys(tally.failures)) + "." + extra,
            **details,
        )
    if tally.verified:
        details["verification_methods"] = tally.verified
        keys = ", ".join(dict.fromkeys(tally.verified))
        return passed(
            NAME,
            f"Signed by the document's issuer {issuer_did}: the {CRYPTOSUITE} signature by {keys} verifies, "
            f"a key listed under assertionMethod in its DID document{notes}.{extra}",
            **details,
        )
    message = (
        "The document carries no issuer signature" + (f" (issuer {issuer_did}{notes})" if notes else "") + "."
    )
    if config.require_signature:
        return failed(NAME, message + " This verifier requires one." + extra, **details)
    return skipped(NAME, message + extra, **details)
