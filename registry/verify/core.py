"""The verification core: (credential, chain reader, settings, time) -> result with every check.

It fails closed. A check that cannot be done because the chain cannot be read is an ``error`` and
the verdict is ``indeterminate``, never ``valid`` and never ``revoked``. Each named check is one
function (:mod:`registry.verify.checks`) returning its check and an outcome; the verdict is the
fold of the outcomes by one precedence table (:mod:`registry.verify.verdict`): ``invalid``, then
``indeterminate``, ``revoked``, ``suspended``, ``expired``, ``not_yet_valid``, else ``valid``.

The work is split so that a server can run the pure part on its event loop and only go to a
thread for a chain read: :func:`prepare_document` / :func:`prepare_digest` (no I/O),
``ChainReader.cached`` / ``ChainReader.fetch``, then :func:`finish` (no I/O), itself made of
:func:`local_findings`, :func:`chain_part`, ``validity_window`` and :func:`assemble`, the parts
a memo may keep (see :mod:`registry.verify.verifier`). The ``signature`` check of a did:web issuer
needs its DID document: :func:`resolve_issuer` (I/O through a :class:`~registry.dids.DidSource`)
runs between the chain read and :func:`finish`, only for the DID the chain shows registered.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from registry.chain.finality import is_final
from registry.chain.schema import IssuerStatus
from registry.core.formats import format_timestamp, issuer_id_matches, parse_registry
from registry.dids.document import did_of, is_did
from registry.dids.resolver import DidResult, DidSource
from registry.errors import ChainError
from registry.settings import Settings
from registry.verify.checks.chain import CHAIN_CHECK_NAMES, chain_findings, finality_of
from registry.verify.checks.local import (
    LOCAL_CHECKS,
    format_check,
    integrity_check,
    issuer_name,
    merkle_inclusion_check,
    trusted_registry_check,
)
from registry.verify.checks.lookup import merkle_inclusion_by_index, no_index
from registry.verify.checks.signature import signature_check, signed_proofs
from registry.verify.checks.status import (
    StatusList,
    credential_status_check,
    entries_of,
    list_owner,
    lists_to_fetch,
)
from registry.verify.checks.validity import validity_window
from registry.verify.checks.words import error, skipped, ts
from registry.verify.config import VerifyConfig
from registry.verify.display import summarize
from registry.verify.index import DigestIndex, Resolution
from registry.verify.prepared import Prepared
from registry.verify.reader import ChainView
from registry.verify.result import CHECK_NAMES, SUMMARIES, AnchorInfo, IssuerInfo, Status, VerificationResult
from registry.verify.status_detail import due, explain
from registry.verify.verdict import Finding, Outcome, verdict

__all__ = [
    "CHAIN_CHECK_NAMES",
    "LOCAL_CHECKS",
    "ChainPart",
    "ChainSource",
    "Prepared",
    "VerifyConfig",
    "assemble",
    "chain_part",
    "did_to_fetch",
    "finish",
    "local_findings",
    "prepare_digest",
    "prepare_document",
    "resolve_issuer",
    "run_chain",
    "signature_part",
    "status_lists",
    "status_part",
    "verify_credential",
    "verify_digest",
    "with_status_detail",
]

log = logging.getLogger(__name__)


class ListSource(Protocol):
    """What the core reads status lists through (a :class:`~registry.verify.statuslists.StatusListReader`)."""

    def get(self, url: str, issuer: str | None = None) -> StatusList:
        """The list at ``url`` for a credential of ``issuer``, verified, or why not; never raises."""
        ...


class ChainSource(Protocol):
    """What the core reads the chain through (a :class:`~registry.verify.reader.ChainReader`)."""

    def read(
        self, contract: str, root: bytes, digest: bytes, issuer: str, proof_block: int | None = None
    ) -> ChainView:
        """The view of one verification; raises ``ChainError``."""
        ...


def prepare_document(
    data: bytes | str | Mapping[str, Any],
    config: VerifyConfig,
    index: DigestIndex | None = None,
    issuer: str | None = None,
) -> Prepared:
    """Run the local checks (format, integrity, Merkle inclusion, trusted registry); a document
    without a proof is placed through the index (``issuer``: in this issuer's batches only)."""
    fmt, parsed, info = format_check(data, config)
    if parsed is None:
        return Prepared(findings=(fmt,), info=info)
    claims: dict[str, Any] = {
        "info": info,
        "claimed_issuer": parsed.info.issuer,
        "claimed_issuer_name": issuer_name(parsed.body.get("issuer")),
        "credential": summarize(parsed.body),
    }
    integrity, digest = integrity_check(parsed.body, parsed.proof)
    proof = parsed.proof
    if digest is None:
        return Prepared(findings=(fmt, integrity), proof=proof, **claims)
    claims["signatures"] = signed_proofs(parsed.body, parsed.others, digest, parsed.info.issuer)
    claims["status_entries"], claims["status_problem"] = entries_of(parsed.body)
    if proof is None:
        bare = Prepared(findings=(fmt, integrity), digest=digest, **claims)
        return place_by_index(bare, config, index, issuer)
    chain_id, contract = parse_registry(proof.registry)
    trusted = trusted_registry_check(chain_id, contract, config)
    ok = trusted.outcome is Outcome.passed
    return Prepared(
        findings=(fmt, integrity, merkle_inclusion_check(proof, digest), trusted),
        digest=digest,
        proof=proof,
        root=proof.root_bytes(),
        issuer_hint=proof.issuer,
        proof_block=proof.blockNumber,
        chain_id=chain_id if ok else None,
        contract=contract if ok else None,
        **claims,
    )


def prepare_digest(
    digest: bytes, config: VerifyConfig, index: DigestIndex | None, issuer: str | None = None
) -> Prepared:
    """Local part for a bare digest: only the index can place it in a batch (``issuer``: whose)."""
    findings = (
        skipped("format", "Only a digest was presented, no document."),
        skipped(
            "integrity",
            "Only a digest was presented; the document itself was not checked.",
            digest="0x" + digest.hex(),
        ),
    )
    return place_by_index(
        Prepared(findings=findings, has_document=False, digest=digest), config, index, issuer
    )


def place_by_index(
    prep: Prepared, config: VerifyConfig, index: DigestIndex | None, issuer: str | None = None
) -> Prepared:
    """``prep`` (with its digest) placed in a batch through the index: Merkle inclusion + registry."""
    assert prep.digest is not None
    if index is None:
        return replace(prep, findings=(*prep.findings, no_index()))
    chain_id = index.reader._chain_id
    contracts = config.contracts_on(chain_id) if chain_id is not None else []
    res = (
        index.resolve(prep.digest, contracts, claimed_issuer=prep.claimed_issuer, issuer=issuer)
        if contracts
        else Resolution("none")
    )
    found = merkle_inclusion_by_index(
        res,
        prep.digest,
        index,
        has_document=prep.has_document,
        claimed_issuer=prep.claimed_issuer,
        issuer=issuer,
        chain_known=chain_id is not None,
    )
    if found.outcome is not Outcome.passed or res.hit is None or chain_id is None:
        return replace(prep, findings=(*prep.findings, found))
    hit = res.hit
    trusted = trusted_registry_check(chain_id, hit.anchor.contract, config)
    ok = trusted.outcome is Outcome.passed
    return replace(
        prep,
        findings=(*prep.findings, found, trusted),
        hit=hit,
        root=hit.anchor.root,
        issuer_hint=hit.anchor.issuer,
        chain_id=chain_id if ok else None,
        contract=hit.anchor.contract if ok else None,
    )


def local_findings(prep: Prepared) -> list[Finding]:
    """The local checks in their fixed order, the ones not reached filled in as skipped."""
    by_name = {f.check.name: f for f in prep.findings}
    return [
        by_name.get(n) or skipped(n, "Not checked because an earlier check failed.") for n in LOCAL_CHECKS
    ]


@dataclass(frozen=True)
class ChainPart:
    """The chain's share of a result: the chain checks and the issuer and anchor records."""

    findings: Sequence[Finding]
    anchor: AnchorInfo | None = None
    issuer: IssuerInfo | None = None


def chain_part(
    prep: Prepared, view: ChainView | None, error_: ChainError | None, config: VerifyConfig
) -> ChainPart:
    """The chain checks on ``view`` (or why they were not done) with what the chain records."""
    if prep.local_failed or prep.local_error:
        why = (
            "an earlier check failed"
            if prep.local_failed
            else "the credential could not be placed in a batch"
        )
        return ChainPart([skipped(name, f"Not checked because {why}.") for name in CHAIN_CHECK_NAMES])
    if view is None:
        reason = error_.message if error_ is not None else "no chain reader is configured"
        extra = _quorum_details(error_)
        return ChainPart(
            [error(name, f"Could not read the chain: {reason}", **extra) for name in CHAIN_CHECK_NAMES]
        )
    findings = chain_findings(prep, view, config)
    issuer = _issuer_info(view, prep) if view.lookup.batch_exists else None
    return ChainPart(findings, _anchor_info(prep, view, config), issuer)


def _quorum_details(error_: ChainError | None) -> dict[str, Any]:
    """What each chain endpoint did, when a quorum read failed (``endpoints``: name → what)."""
    endpoints = error_.details.get("endpoints") if error_ is not None else None
    return {"endpoints": dict(endpoints)} if isinstance(endpoints, dict) else {}


def _anchor_info(prep: Prepared, view: ChainView, config: VerifyConfig) -> AnchorInfo:
    lk, ev = view.lookup, view.anchor
    assert prep.root is not None and prep.contract is not None
    return AnchorInfo(
        registry=f"eip155:{view.chain_id}:{prep.contract}",
        chain_id=view.chain_id,
        contract=prep.contract,
        merkle_root="0x" + prep.root.hex(),
        transaction_hash=ev.transaction_hash if ev else None,
        block_number=ev.block_number if ev else None,
        anchored_at=ts(lk.anchored_at) if lk.anchored_at else None,
        confirmations=(view.head - ev.block_number + 1) if ev else None,
        final=is_final(ev.block_number, finality_of(view, config)) if ev else None,
        finality=str(view.rule),
        manifest_cid=ev.manifest_cid if ev else None,
        count=lk.count if lk.batch_exists else None,
        batch_revoked_at=ts(lk.batch_revoked_at) if lk.batch_revoked_at else None,
    )


def _issuer_info(view: ChainView, prep: Prepared) -> IssuerInfo:
    lk, rec = view.lookup, view.issuer
    return IssuerInfo(
        address=lk.issuer,
        name=rec.name if rec else None,
        uri=rec.uri if rec else None,
        status=IssuerStatus.word_of(lk.issuer_status),
        registered_at=ts(rec.registered_at) if rec and rec.registered_at else None,
        key_revoked_since=ts(lk.key_revoked_since) if lk.key_revoked_since else None,
        claimed_id=prep.claimed_issuer if prep.has_document else None,
        claimed_name=prep.claimed_issuer_name if prep.has_document else None,
    )


BARE_VALID = (
    "This digest belongs to a valid anchored credential: issued by a registered issuer and "
    "neither revoked nor suspended (the document itself was not presented)."
)


_ORDER = {name: i for i, name in enumerate(CHECK_NAMES)}


def assemble(
    prep: Prepared,
    local: Sequence[Finding],
    chain: ChainPart,
    validity: Finding,
    now: datetime,
    signature: Finding | None = None,
    status: Finding | None = None,
) -> VerificationResult:
    """The result: every check in order (:data:`~registry.verify.result.CHECK_NAMES`) and the
    verdict folded from their outcomes."""
    findings = [*local, *chain.findings, validity]
    findings += [f for f in (signature, status) if f is not None]
    findings.sort(key=lambda f: _ORDER.get(f.check.name, len(_ORDER)))
    overall = verdict(findings)
    return VerificationResult(
        verified=overall is Status.valid,
        status=overall,
        summary=BARE_VALID if overall is Status.valid and not prep.has_document else SUMMARIES[overall],
        digest="0x" + prep.digest.hex() if prep.digest else None,
        issuer=chain.issuer,
        anchor=chain.anchor,
        checks=[f.check for f in findings],
        checked_at=format_timestamp(now),
        credential=prep.credential,
    )


def issuer_did(prep: Prepared) -> str | None:
    """The DID the document names as its issuer, if it names one."""
    return did_of(prep.claimed_issuer) if prep.has_document and is_did(prep.claimed_issuer) else None


def did_to_fetch(prep: Prepared, view: ChainView | None) -> tuple[str | None, str | None]:
    """``(the did:web to fetch, None)`` once the chain shows that the document's issuer DID is the
    one its anchoring issuer registered, else ``(None, why not)``: the verifier fetches only DIDs
    the registry's administrator admitted, never one a document alone names."""
    did = issuer_did(prep)
    if did is None or not did.startswith("did:web:") or prep.local_failed or prep.local_error:
        return None, None
    if view is None:
        return None, "not fetched: the chain could not be read"
    rec = view.issuer
    if rec is None or not view.lookup.batch_exists:
        return None, "not fetched: the chain does not show a registered issuer for this batch"
    if not issuer_id_matches(did, rec.uri):
        return None, "not fetched: it is not the DID the anchoring issuer registered"
    return did, None


def resolve_issuer(prep: Prepared, view: ChainView | None, resolver: DidSource | None) -> DidResult | None:
    """The issuer's did:web resolution for the ``signature`` check (None when none is due)."""
    did, why = did_to_fetch(prep, view)
    if did is None:
        return None
    if resolver is None:
        return DidResult(did, error="not fetched: no DID resolver is configured")
    return resolver.resolve(did)


def signature_part(
    prep: Prepared, view: ChainView | None, config: VerifyConfig, did: DidResult | None
) -> Finding:
    """The ``signature`` check with the issuer's did:web resolution (or why there is none)."""
    _, why = did_to_fetch(prep, view)
    return signature_check(prep, config, did, why)


def status_lists(prep: Prepared, view: ChainView | None, source: ListSource | None) -> dict[str, StatusList]:
    """The status lists the ``credential_status`` check reads (only once the chain shows the
    document anchored by the registered issuer it names: see :func:`lists_to_fetch`)."""
    urls, _ = lists_to_fetch(prep, view)
    if source is None:
        return {}
    owner = list_owner(prep)
    return {url: source.get(url, owner) for url in urls}


def status_part(
    prep: Prepared, view: ChainView | None, lists: Mapping[str, StatusList] | None, now: datetime
) -> Finding:
    """The ``credential_status`` check with the lists read (absent: this verifier reads none)."""
    return credential_status_check(prep, view, lists or {}, now)


def finish(
    prep: Prepared,
    view: ChainView | None,
    error: ChainError | None,
    config: VerifyConfig,
    now: datetime,
    did: DidResult | None = None,
    lists: Mapping[str, StatusList] | None = None,
) -> VerificationResult:
    """Combine the local checks with the chain view (or the chain error), the issuer's did:web
    resolution (``did``, from :func:`resolve_issuer`) and the status lists (``lists``, from
    :func:`status_lists`) into the result."""
    return assemble(
        prep,
        local_findings(prep),
        chain_part(prep, view, error, config),
        validity_window(prep, now),
        now,
        signature_part(prep, view, config, did),
        status_part(prep, view, lists, now),
    )


def run_chain(prep: Prepared, reader: ChainSource | None) -> tuple[ChainView | None, ChainError | None]:
    """Read the chain for a prepared verification (cache first); never raises ``ChainError``."""
    if not prep.needs_chain:
        return None, None
    if reader is None:
        return None, ChainError("no chain reader is configured")
    assert prep.contract is not None and prep.root is not None and prep.digest is not None
    assert prep.issuer_hint is not None
    try:
        return reader.read(prep.contract, prep.root, prep.digest, prep.issuer_hint, prep.proof_block), None
    except ChainError as exc:
        return None, exc
    except Exception as exc:  # fail closed: anything unexpected while reading is "cannot tell"
        return None, ChainError(f"unexpected answer from the chain node ({type(exc).__name__})")


def _config(settings: Settings | VerifyConfig) -> VerifyConfig:
    return settings if isinstance(settings, VerifyConfig) else VerifyConfig.from_settings(settings)


def verify_credential(
    data: bytes | str | Mapping[str, Any],
    reader: ChainSource | None,
    settings: Settings | VerifyConfig,
    now: datetime | None = None,
    index: DigestIndex | None = None,
    resolver: DidSource | None = None,
    lists: ListSource | None = None,
) -> VerificationResult:
    """Verify a credential document (with or without its proof) at time ``now``; ``resolver``
    fetches a did:web issuer's DID document (did:key needs none), ``lists`` the status lists its
    ``credentialStatus`` names."""
    config = _config(settings)
    prep = prepare_document(data, config, index)
    view, error = run_chain(prep, reader)
    did = resolve_issuer(prep, view, resolver)
    read = status_lists(prep, view, lists)
    result = finish(prep, view, error, config, now or datetime.now(UTC), did, read)
    return with_status_detail(result, prep, view, reader)


def verify_digest(
    digest: bytes,
    reader: ChainSource | None,
    settings: Settings | VerifyConfig,
    now: datetime | None = None,
    index: DigestIndex | None = None,
    issuer: str | None = None,
) -> VerificationResult:
    """Verify a bare digest through the index (``issuer``: answer for this issuer's batches only)."""
    config = _config(settings)
    prep = prepare_digest(digest, config, index, issuer)
    view, error = run_chain(prep, reader)
    return with_status_detail(finish(prep, view, error, config, now or datetime.now(UTC)), prep, view, reader)


def with_status_detail(
    result: VerificationResult, prep: Prepared, view: ChainView | None, source: object | None
) -> VerificationResult:
    """``result`` with when and why it is revoked or suspended (:mod:`.status_detail`), read from
    ``source`` (a reader with ``status_history``) only for such a verdict; a failed read leaves the
    result as it is (the verdict never depends on it)."""
    if not due(result, view) or not hasattr(source, "status_history"):
        return result
    assert view is not None and prep.root is not None and prep.digest is not None
    try:
        detail = explain(view, prep.root, prep.digest, source, result.status)  # type: ignore[arg-type]
    except ChainError as exc:
        log.warning("cannot read when and why the credential changed status: %s", exc.message)
        return result
    except Exception:  # the explanation is extra: whatever happens, the verdict stands
        log.exception("unexpected failure reading when and why the credential changed status")
        return result
    return result.model_copy(update={"status_detail": detail})
