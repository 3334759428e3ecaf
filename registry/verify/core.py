"""The verification core: (credential, chain reader, settings, time) -> result with every check.

It fails closed. A check that cannot be done because the chain cannot be read is an ``error`` and
the verdict is ``indeterminate``, never ``valid`` and never ``revoked``. The verdict is decided in
this order: a local failure (format, integrity, Merkle inclusion, untrusted registry) is
``invalid``; then a chain error is ``indeterminate``; then an unknown batch, a proof that
contradicts the chain's record, an unknown issuer or a batch anchored after the issuer's key
cut-off is ``invalid``; an anchor short of the confirmation depth is ``indeterminate``; then
``revoked`` (batch or credential), ``suspended``, ``expired``, ``not_yet_valid``, ``valid``.

The work is split so that a server can run the pure part on its event loop and only go to a
thread for a chain read: :func:`prepare_document` / :func:`prepare_digest` (no I/O),
``ChainReader.cached`` / ``ChainReader.fetch``, then :func:`finish` (no I/O).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from registry.chain.finality import FinalityRule, FinalityView, is_final
from registry.chain.schema import CredentialStatus, IssuerStatus
from registry.core.canonical import document_digest, load_document
from registry.core.credential import CredentialInfo, validate_credential
from registry.core.formats import (
    ANCHOR_PROOF_TYPE,
    AnchorProof,
    format_registry,
    format_timestamp,
    issuer_id_matches,
    parse_registry,
    split_proofs,
)
from registry.core.merkle import verify_proof
from registry.errors import ChainError, InputError, RegistryError
from registry.settings import Settings
from registry.verify.index import DigestIndex, IndexHit, Resolution
from registry.verify.reader import ChainReader, ChainView
from registry.verify.result import (
    SUMMARIES,
    AnchorInfo,
    Check,
    CheckStatus,
    IssuerInfo,
    Status,
    VerificationResult,
)

LOCAL_CHECKS = ("format", "integrity", "merkle_inclusion", "trusted_registry")
CHAIN_CHECKS = (
    "anchored",
    "issuer",
    "batch_not_revoked",
    "credential_not_revoked",
    "credential_not_suspended",
)


@dataclass(frozen=True)
class VerifyConfig:
    """What the core needs from the settings."""

    trusted: frozenset[tuple[int, str]]
    confirmations: int = 1
    max_document_bytes: int = 1024 * 1024
    max_depth: int = 64
    strict: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, *, chain_id: int | None = None) -> VerifyConfig:
        """Allowlist from ``trusted_registries``; else the configured contract on its chain."""
        trusted: set[tuple[int, str]] = set()
        for ref in settings.trusted_registries:
            trusted.add(parse_registry(ref))
        cid = settings.chain_id or chain_id
        if not trusted and settings.contract and cid:
            trusted.add(parse_registry(format_registry(cid, settings.contract)))
        return cls(
            trusted=frozenset(trusted),
            confirmations=settings.confirmations,
            max_document_bytes=settings.max_document_bytes,
            max_depth=settings.max_depth,
            strict=settings.strict,
        )

    def contracts_on(self, chain_id: int) -> list[str]:
        """Trusted contract addresses on one chain."""
        return sorted(a for c, a in self.trusted if c == chain_id)


@dataclass
class Prepared:
    """Outcome of the local (no I/O) checks, and what to read from the chain."""

    checks: list[Check]
    local_failed: bool = False
    local_error: bool = False
    digest: bytes | None = None
    proof: AnchorProof | None = None
    info: CredentialInfo | None = None
    chain_id: int | None = None
    contract: str | None = None
    root: bytes | None = None
    issuer_hint: str | None = None
    proof_block: int | None = None
    claimed_issuer: str | None = None
    claimed_issuer_name: str | None = None
    hit: IndexHit | None = None
    has_document: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_chain(self) -> bool:
        """True when the chain checks should run."""
        return (
            not (self.local_failed or self.local_error)
            and self.contract is not None
            and self.issuer_hint is not None
        )


def _ts(seconds: int) -> str:
    return format_timestamp(int(seconds))


def _human(when: datetime | int) -> str:
    """A timestamp for sentences: ``2026-11-29 07:00:00 UTC``."""
    return (
        format_timestamp(when if isinstance(when, datetime) else int(when))
        .replace("T", " ")
        .replace("Z", " UTC")
    )


def _parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _short(h: str) -> str:
    return h[:10] + "…" + h[-6:] if len(h) > 20 else h


def _check(name: str, status: CheckStatus, message: str, **details: Any) -> Check:
    return Check(name=name, status=status, message=message, details=details)


def _registry_check(prep: Prepared, chain_id: int, contract: str, config: VerifyConfig) -> None:
    ref = f"eip155:{chain_id}:{contract}"
    if (chain_id, contract) in config.trusted:
        prep.checks.append(
            _check(
                "trusted_registry",
                CheckStatus.passed,
                f"The proof names registry {ref}, which is on this verifier's list of trusted registries.",
                registry=ref,
            )
        )
        prep.chain_id, prep.contract = chain_id, contract
    else:
        prep.checks.append(
            _check(
                "trusted_registry",
                CheckStatus.failed,
                f"The proof names registry {ref}, which is not a registry this verifier trusts; "
                "anyone can deploy a registry, so its anchors prove nothing here.",
                registry=ref,
            )
        )
        prep.local_failed = True


def _conflict_details(res: Resolution) -> list[dict[str, str]]:
    return [{"issuer": a.issuer, "root": "0x" + a.root.hex(), "contract": a.contract} for a in res.anchors]


def _conflict_words(res: Resolution) -> str:
    return ", ".join(f"{a.issuer} in batch {_short('0x' + a.root.hex())}" for a in res.anchors)


def _index_lookup(
    prep: Prepared,
    digest: bytes,
    config: VerifyConfig,
    index: DigestIndex | None,
    issuer: str | None = None,
) -> None:
    """Resolve a bare document/digest through the index (fills merkle + registry checks).

    A digest anchored by several issuers is answered by the document's own issuer (the one whose
    registered URI covers the document's issuer id) or the issuer the caller names; otherwise the
    lookup is a conflict and the verdict ``indeterminate``, never an arbitrary issuer's answer.
    """
    if index is None:
        prep.checks.append(
            _check(
                "merkle_inclusion",
                CheckStatus.error,
                "No proof is attached and this verifier keeps no digest index, "
                "so the batch holding this credential cannot be found.",
            )
        )
        prep.local_error = True
        return
    chain_id = index.reader._chain_id
    contracts = config.contracts_on(chain_id) if chain_id is not None else []
    res = (
        index.resolve(digest, contracts, claimed_issuer=prep.claimed_issuer, issuer=issuer)
        if contracts
        else Resolution("none")
    )
    if res.outcome in ("conflict", "unknown_issuer"):
        if res.outcome == "conflict" and prep.has_document:
            why = "more than one of them is registered under the document's issuer id"
        elif res.outcome == "conflict":
            why = (
                "a bare digest is not answered for one of them at random: present the document "
                "(it names its issuer) or name the issuer"
            )
        else:
            why = "the registered identifier of one of them is not known yet; try again shortly"
        prep.checks.append(
            _check(
                "merkle_inclusion",
                CheckStatus.error,
                f"This digest was anchored by {len(res.anchors)} issuers ({_conflict_words(res)}); {why}.",
                conflict=_conflict_details(res),
            )
        )
        prep.local_error = True
        return
    if res.outcome == "mismatch":
        prep.checks.append(
            _check(
                "merkle_inclusion",
                CheckStatus.failed,
                f"Batches of other issuers list this digest ({_conflict_words(res)}), but none of "
                f"them is registered under the document's issuer id {prep.claimed_issuer!r}.",
                conflict=_conflict_details(res),
            )
        )
        prep.local_failed = True
        return
    hit = res.hit
    if hit is None:
        named = f" by issuer {issuer}" if issuer else ""
        if index.caught_up() and chain_id is not None:
            prep.checks.append(
                _check(
                    "merkle_inclusion",
                    CheckStatus.failed,
                    f"No batch anchored{named} in a trusted registry lists this credential's digest.",
                )
            )
            prep.local_failed = True
        else:
            prep.checks.append(
                _check(
                    "merkle_inclusion",
                    CheckStatus.error,
                    "No proof is attached and the digest index is not caught up with the "
                    "chain yet, so the credential cannot be looked up right now.",
                )
            )
            prep.local_error = True
        return
    root_hex = "0x" + hit.anchor.root.hex()
    if not verify_proof(hit.anchor.root, digest, hit.path):  # defensive: the index rebuilt this path
        prep.checks.append(
            _check(
                "merkle_inclusion",
                CheckStatus.failed,
                f"The index's path does not lead to root {_short(root_hex)}.",
            )
        )
        prep.local_failed = True
        return
    prep.hit = hit
    prep.root = hit.anchor.root
    prep.issuer_hint = hit.anchor.issuer
    others = [a for a in res.anchors if a is not hit.anchor]
    also = (
        f" Other issuers also anchored this digest ({', '.join(a.issuer for a in others)}); "
        f"it is answered for {hit.anchor.issuer}"
        + (", the issuer the document names." if prep.has_document else ", the issuer asked for.")
        if others
        else ""
    )
    details: dict[str, Any] = {"root": root_hex, "path": ["0x" + p.hex() for p in hit.path], "via": "index"}
    if others:
        details["also_anchored_by"] = _conflict_details(Resolution("conflict", anchors=others))
    prep.checks.append(
        _check(
            "merkle_inclusion",
            CheckStatus.passed,
            f"Found in the batch with Merkle root {_short(root_hex)} through its public "
            f"manifest ({hit.anchor.count} credentials); the path leads to that root.{also}",
            **details,
        )
    )
    assert chain_id is not None
    _registry_check(prep, chain_id, hit.anchor.contract, config)


def prepare_document(
    data: bytes | str | Mapping[str, Any], config: VerifyConfig, index: DigestIndex | None = None
) -> Prepared:
    """Run the local checks (format, integrity, Merkle inclusion, trusted registry)."""
    prep = Prepared(checks=[])
    # format
    try:
        doc = (
            dict(data)
            if isinstance(data, Mapping)
            else load_document(data, max_bytes=config.max_document_bytes, max_depth=config.max_depth)
        )
        body, anchors, others = split_proofs(doc)
        prep.info = validate_credential(body, strict=config.strict)
        if len(anchors) > 1:
            raise InputError(
                f"the document carries {len(anchors)} {ANCHOR_PROOF_TYPE} proofs; exactly one is "
                "allowed, so which one counts never depends on the tool",
                code="multiple_anchor_proofs",
            )
        if any("merkleRoot" in o for o in others):
            raise InputError(
                f"the proof is not a {ANCHOR_PROOF_TYPE} proof (wrong or missing type)",
                code="invalid_anchor_proof",
            )
        proof_obj = anchors[0] if anchors else None
        if proof_obj is not None:
            try:
                prep.proof = AnchorProof.model_validate(proof_obj)
            except PydanticValidationError as exc:
                parts = []
                for err in exc.errors():
                    loc = "/".join(str(p) for p in err["loc"]) or "proof"
                    parts.append(f"{loc}: {err['msg']}")
                raise InputError(
                    "the anchor proof is malformed: " + "; ".join(parts), code="invalid_anchor_proof"
                ) from None
    except RegistryError as exc:
        prep.checks.append(
            _check(
                "format",
                CheckStatus.failed,
                f"The file is not a credential this verifier can read: {exc.message}",
                code=exc.code,
            )
        )
        prep.local_failed = True
        return prep
    except RecursionError:
        prep.checks.append(_check("format", CheckStatus.failed, "The document is nested too deeply."))
        prep.local_failed = True
        return prep
    kind = {"vc2": "a W3C Verifiable Credential 2.0", "ob3": "an Open Badges 3.0 credential"}.get(
        prep.info.kind, "a JSON document"
    )
    tail = (
        "with an anchor proof"
        if prep.proof
        else "without an anchor proof (it will be looked up by its digest)"
    )
    fdetails: dict[str, Any] = {"kind": prep.info.kind}
    if others:
        types = [_proof_type(o) for o in others]
        tail += (
            f". It also carries {len(others)} other proof{'s' if len(others) > 1 else ''} "
            f"({', '.join(types)}) that this verifier did not verify; the anchor does not cover "
            f"{'them' if len(others) > 1 else 'it'} (its fingerprint is of the document without proofs)"
        )
        fdetails["unverified_proofs"] = types
    prep.checks.append(_check("format", CheckStatus.passed, f"The file is {kind} {tail}.", **fdetails))
    prep.claimed_issuer = prep.info.issuer
    prep.claimed_issuer_name = _issuer_name(body.get("issuer"))
    # integrity
    try:
        digest = document_digest(body)
    except RegistryError as exc:
        prep.checks.append(
            _check(
                "integrity",
                CheckStatus.failed,
                f"The document cannot be put in canonical form: {exc.message}",
            )
        )
        prep.local_failed = True
        return prep
    prep.digest = digest
    dhex = "0x" + digest.hex()
    if prep.proof is None:
        prep.checks.append(
            _check(
                "integrity",
                CheckStatus.passed,
                f"The document's fingerprint (SHA-256 of its canonical form) is {_short(dhex)}.",
                digest=dhex,
            )
        )
        _index_lookup(prep, digest, config, index)
        return prep
    proof = prep.proof
    if proof.digest != dhex:
        prep.checks.append(
            _check(
                "integrity",
                CheckStatus.failed,
                "The document's content does not match the fingerprint in its proof: "
                "it was changed after it was issued.",
                digest=dhex,
                expected=proof.digest,
            )
        )
        prep.local_failed = True
    else:
        prep.checks.append(
            _check(
                "integrity",
                CheckStatus.passed,
                "The document's content matches the fingerprint in its proof, "
                "so it has not been changed since it was issued.",
                digest=dhex,
            )
        )
    # merkle inclusion (with the digest of the document as presented)
    if verify_proof(proof.root_bytes(), digest, proof.path_bytes()):
        prep.checks.append(
            _check(
                "merkle_inclusion",
                CheckStatus.passed,
                f"The Merkle path leads from this credential to the batch root {_short(proof.merkleRoot)}.",
                root=proof.merkleRoot,
            )
        )
    else:
        prep.checks.append(
            _check(
                "merkle_inclusion",
                CheckStatus.failed,
                f"The Merkle path does not lead from this credential to the batch root "
                f"{_short(proof.merkleRoot)}.",
                root=proof.merkleRoot,
            )
        )
        prep.local_failed = True
    prep.root = proof.root_bytes()
    prep.issuer_hint = proof.issuer
    prep.proof_block = proof.blockNumber
    chain_id, contract = parse_registry(proof.registry)
    _registry_check(prep, chain_id, contract, config)
    return prep


def _proof_type(p: Mapping[str, Any]) -> str:
    t = p.get("type")
    if isinstance(t, list):
        t = ",".join(str(x) for x in t)
    return str(t)[:60] if t is not None else "untyped"


def _issuer_name(value: Any) -> str | None:
    if isinstance(value, Mapping):
        name = value.get("name")
        if isinstance(name, str):
            return name[:200]
    return None


def prepare_digest(
    digest: bytes, config: VerifyConfig, index: DigestIndex | None, issuer: str | None = None
) -> Prepared:
    """Local part for a bare digest: only the index can place it in a batch (``issuer``: whose)."""
    prep = Prepared(checks=[], has_document=False, digest=digest)
    prep.checks.append(_check("format", CheckStatus.skipped, "Only a digest was presented, no document."))
    prep.checks.append(
        _check(
            "integrity",
            CheckStatus.skipped,
            "Only a digest was presented; the document itself was not checked.",
            digest="0x" + digest.hex(),
        )
    )
    _index_lookup(prep, digest, config, index, issuer)
    return prep


def _issuer_info(view: ChainView, prep: Prepared) -> IssuerInfo:
    lk = view.lookup
    rec = view.issuer
    status = IssuerStatus.word_of(lk.issuer_status)
    return IssuerInfo(
        address=lk.issuer,
        name=rec.name if rec else None,
        uri=rec.uri if rec else None,
        status=status,
        registered_at=_ts(rec.registered_at) if rec and rec.registered_at else None,
        key_revoked_since=_ts(lk.key_revoked_since) if lk.key_revoked_since else None,
        claimed_id=prep.claimed_issuer if prep.has_document else None,
        claimed_name=prep.claimed_issuer_name if prep.has_document else None,
    )


def _finality(view: ChainView, config: VerifyConfig) -> FinalityView:
    """The finality rule of the reader, with the head and finalized block of this view."""
    return FinalityView(view.rule, view.head, view.finalized, config.confirmations)


def _not_final_words(block: int, conf: int, fin: FinalityView) -> str:
    """Why an anchor does not count yet, and when it will."""
    if fin.rule is FinalityRule.finalized:
        return (
            f"Anchored in block {block}, which the chain has not finalized yet (finalized up to block "
            f"{max(fin.final_block, 0)}); only final anchors count. It is expected to be final once "
            f"{block - max(fin.final_block, 0)} more block(s) are finalized: about 13 minutes after "
            "anchoring on Ethereum, seconds on a local development chain. Try again then."
        )
    need = max(fin.confirmations, 1)
    return (
        f"Anchored in block {block}, but only {max(conf, 0)} of the {need} required confirmations "
        f"have passed; it counts after {need - max(conf, 0)} more block(s). Try again shortly."
    )


def _chain_checks(
    prep: Prepared, view: ChainView, config: VerifyConfig
) -> tuple[list[Check], dict[str, Any]]:
    """The chain checks; returns them and flags for the verdict."""
    out: list[Check] = []
    flags: dict[str, Any] = {}
    lk = view.lookup
    proof = prep.proof
    assert prep.root is not None and prep.contract is not None
    root_hex = "0x" + prep.root.hex()
    if view.chain_id != prep.chain_id:
        msg = (
            f"The chain node serves chain {view.chain_id}, not chain {prep.chain_id} named by the proof, "
            "so the anchor cannot be checked here."
        )
        for name in CHAIN_CHECKS:
            out.append(_check(name, CheckStatus.error, msg))
        flags["error"] = True
        return out, flags
    # anchored
    ev = view.anchor
    fin = _finality(view, config)
    if not lk.batch_exists and proof is not None and proof.blockNumber > fin.final_block:
        out.append(
            _check(
                "anchored",
                CheckStatus.error,
                f"The proof names block {proof.blockNumber}, which is not final yet, and the chain holds "
                "no such batch now: the anchoring block was reorganised away. The issuer's pipeline "
                "anchors it again; try again later.",
                block_number=proof.blockNumber,
                final_block=fin.final_block,
                finality=str(fin.rule),
            )
        )
        flags["pending"] = True
        for name in CHAIN_CHECKS[1:]:
            out.append(_check(name, CheckStatus.skipped, "Not checked: the anchor is not final."))
        return out, flags
    if not lk.batch_exists:
        out.append(
            _check(
                "anchored",
                CheckStatus.failed,
                f"No batch with Merkle root {_short(root_hex)} was ever anchored by issuer "
                f"{prep.issuer_hint} in registry {prep.contract}.",
            )
        )
        flags["invalid"] = True
        for name in CHAIN_CHECKS[1:]:
            out.append(_check(name, CheckStatus.skipped, "Not checked: the batch is not anchored."))
        return out, flags
    if ev is None:
        out.append(
            _check(
                "anchored",
                CheckStatus.error,
                "The registry knows this batch but the node returned no record of its anchoring transaction.",
            )
        )
        flags["error"] = True
    else:
        conf = view.head - ev.block_number + 1
        mismatches = []
        if proof is not None:
            if proof.transactionHash != ev.transaction_hash.lower():
                mismatches.append(
                    f"transaction {_short(proof.transactionHash)} (the chain records "
                    f"{_short(ev.transaction_hash)})"
                )
            if proof.blockNumber != ev.block_number:
                mismatches.append(f"block {proof.blockNumber} (the chain records {ev.block_number})")
            if proof.manifestCid != ev.manifest_cid:
                mismatches.append("a different batch manifest")
            try:
                claimed = int(_parse_time(proof.anchoredAt).timestamp())
            except ValueError:
                claimed = -1
            if claimed != lk.anchored_at:
                mismatches.append(f"time {proof.anchoredAt} (the chain records {_human(lk.anchored_at)})")
        details = {
            "transaction_hash": ev.transaction_hash,
            "block_number": ev.block_number,
            "confirmations": conf,
            "required_confirmations": config.confirmations,
            "finality": str(fin.rule),
            "final_block": fin.final_block,
            "anchored_at": _ts(lk.anchored_at),
        }
        moving = not is_final(ev.block_number, fin)  # the chain's own record may still change
        if mismatches and moving:
            out.append(
                _check(
                    "anchored",
                    CheckStatus.error,
                    "The proof's anchoring record differs from the chain's, whose record is not final "
                    "yet (the proof claims " + "; ".join(mismatches) + "): a reorg moved the anchor; "
                    "ask the issuer for the final proof, or try again later.",
                    **details,
                )
            )
            flags["pending"] = True
        elif mismatches:
            out.append(
                _check(
                    "anchored",
                    CheckStatus.failed,
                    "The proof's anchoring record does not match the chain: it claims "
                    + "; ".join(mismatches)
                    + ".",
                    **details,
                )
            )
            flags["invalid"] = True
        elif not is_final(ev.block_number, fin):
            words = _not_final_words(ev.block_number, conf, fin)
            out.append(_check("anchored", CheckStatus.error, words, **details))
            flags["pending"] = True
        else:
            how = (
                f"final: at or below the chain's finalized block {fin.final_block}"
                if fin.rule is FinalityRule.finalized
                else f"{conf} confirmations"
            )
            out.append(
                _check(
                    "anchored",
                    CheckStatus.passed,
                    f"Anchored on {_human(lk.anchored_at)} in transaction {_short(ev.transaction_hash)} "
                    f"(block {ev.block_number}, {how}).",
                    **details,
                )
            )
    # issuer
    issuer_name = view.issuer.name if view.issuer else None
    who = f"{issuer_name} ({lk.issuer})" if issuer_name else lk.issuer
    if proof is not None and proof.issuer != lk.issuer:
        out.append(
            _check(
                "issuer",
                CheckStatus.failed,
                f"The proof names issuer {proof.issuer}, but the batch was anchored by {who}.",
            )
        )
        flags["invalid"] = True
    elif lk.issuer_status == IssuerStatus.none or view.issuer is None:
        out.append(_check("issuer", CheckStatus.failed, f"{who} is not a registered issuer."))
        flags["invalid"] = True
    elif (
        prep.has_document
        and prep.claimed_issuer is not None
        and not issuer_id_matches(prep.claimed_issuer, view.issuer.uri)
    ):
        claim = repr(prep.claimed_issuer[:200])
        if prep.claimed_issuer_name:
            claim += f" ({prep.claimed_issuer_name})"
        out.append(
            _check(
                "issuer",
                CheckStatus.failed,
                f"The document claims to be issued by {claim}, but the batch was anchored by {who}, "
                f"whose registered identifier is {view.issuer.uri!r}: the document's issuer is not "
                "the issuer that anchored it.",
                claimed_id=prep.claimed_issuer[:200],
                claimed_name=prep.claimed_issuer_name,
                registered_uri=view.issuer.uri,
            )
        )
        flags["invalid"] = True
    elif lk.key_revoked_since and lk.anchored_at >= lk.key_revoked_since:
        out.append(
            _check(
                "issuer",
                CheckStatus.failed,
                f"{who} reported its key compromised as of {_human(lk.key_revoked_since)}; this batch "
                f"was anchored on {_human(lk.anchored_at)}, after that cut-off, and cannot be trusted.",
                key_revoked_since=_ts(lk.key_revoked_since),
            )
        )
        flags["invalid"] = True
    else:
        notes = []
        if lk.issuer_status == IssuerStatus.suspended:
            notes.append(
                "the issuer is currently suspended, which does not affect credentials anchored before"
            )
        if lk.key_revoked_since:
            notes.append(
                f"its key was revoked as of {_human(lk.key_revoked_since)}, after this batch was anchored"
            )
        tail = f"; {'; '.join(notes)}" if notes else ""
        out.append(_check("issuer", CheckStatus.passed, f"Issued by {who}, a registered issuer{tail}."))
    # batch
    if lk.batch_revoked_at:
        out.append(
            _check(
                "batch_not_revoked",
                CheckStatus.failed,
                f"The issuer revoked the whole batch on {_human(lk.batch_revoked_at)}.",
                revoked_at=_ts(lk.batch_revoked_at),
            )
        )
        flags["revoked"] = True
    else:
        out.append(_check("batch_not_revoked", CheckStatus.passed, "The batch has not been revoked."))
    # credential
    if lk.credential_status == CredentialStatus.revoked:
        out.append(
            _check("credential_not_revoked", CheckStatus.failed, "The issuer revoked this credential.")
        )
        out.append(
            _check(
                "credential_not_suspended", CheckStatus.skipped, "Not applicable: the credential is revoked."
            )
        )
        flags["revoked"] = True
    elif lk.credential_status == CredentialStatus.suspended:
        out.append(
            _check("credential_not_revoked", CheckStatus.passed, "The credential has not been revoked.")
        )
        out.append(
            _check(
                "credential_not_suspended",
                CheckStatus.failed,
                "The issuer has suspended this credential for now.",
            )
        )
        flags["suspended"] = True
    else:
        out.append(
            _check("credential_not_revoked", CheckStatus.passed, "The credential has not been revoked.")
        )
        out.append(_check("credential_not_suspended", CheckStatus.passed, "The credential is not suspended."))
    return out, flags


def _validity(prep: Prepared, now: datetime) -> tuple[Check, Status | None]:
    """The validity-window check; its three possible outcomes are built once per prepared document."""
    info = prep.info
    if not prep.has_document or info is None:
        regime = "none"
    elif info.valid_from is not None and now < info.valid_from:
        regime = "before"
    elif info.valid_until is not None and now >= info.valid_until:
        regime = "after"
    else:
        regime = "inside"
    key = "validity:" + regime
    hit = prep.extra.get(key)
    if hit is None:
        hit = prep.extra[key] = _validity_uncached(prep, now)
    return hit  # type: ignore[no-any-return]


def _validity_uncached(prep: Prepared, now: datetime) -> tuple[Check, Status | None]:
    if not prep.has_document or prep.info is None:
        return _check(
            "validity_window",
            CheckStatus.skipped,
            "No document was presented, so its validity period is unknown.",
        ), None
    vf, vu = prep.info.valid_from, prep.info.valid_until
    if vf is not None and now < vf:
        return _check(
            "validity_window",
            CheckStatus.failed,
            f"The credential is valid only from {_human(vf)}.",
            valid_from=format_timestamp(vf),
        ), Status.not_yet_valid
    if vu is not None and now >= vu:
        return _check(
            "validity_window",
            CheckStatus.failed,
            f"The credential expired on {_human(vu)}.",
            valid_until=format_timestamp(vu),
        ), Status.expired
    start = f" from {_human(vf)}" if vf is not None else ""
    end = f" until {_human(vu)}" if vu is not None else ", with no expiry date"
    return _check("validity_window", CheckStatus.passed, f"The credential is valid{start}{end}."), None


def finish(
    prep: Prepared, view: ChainView | None, error: ChainError | None, config: VerifyConfig, now: datetime
) -> VerificationResult:
    """Combine the local checks with the chain view (or the chain error) into the result."""
    local = prep.extra.get("local")
    if local is None:  # the local checks in their fixed order, skipped ones filled in (once per prep)
        by_name = {c.name: c for c in prep.checks}
        local = [
            by_name.get(n) or _check(n, CheckStatus.skipped, "Not checked because an earlier check failed.")
            for n in LOCAL_CHECKS
        ]
        prep.extra["local"] = local
    checks = list(local)
    flags: dict[str, Any] = {}
    anchor: AnchorInfo | None = None
    issuer: IssuerInfo | None = None
    if prep.local_failed or prep.local_error:
        why = (
            "an earlier check failed"
            if prep.local_failed
            else "the credential could not be placed in a batch"
        )
        for name in CHAIN_CHECKS:
            checks.append(_check(name, CheckStatus.skipped, f"Not checked because {why}."))
    elif view is None:
        reason = error.message if error is not None else "no chain reader is configured"
        for name in CHAIN_CHECKS:
            checks.append(_check(name, CheckStatus.error, f"Could not read the chain: {reason}"))
        flags["error"] = True
    else:
        memo = prep.extra.get("chain")
        if (
            memo is not None
            and memo[0] is view.lookup
            and memo[1] is view.issuer
            and memo[2] is view.anchor
            and memo[3] == (view.head, view.finalized)
            and memo[4] == view.chain_id
        ):
            chain_checks, flags, anchor, issuer = memo[5:]
        else:
            chain_checks, flags = _chain_checks(prep, view, config)
            lk = view.lookup
            if lk.batch_exists:
                issuer = _issuer_info(view, prep)
            ev = view.anchor
            assert prep.root is not None and prep.contract is not None
            anchor = AnchorInfo(
                registry=f"eip155:{view.chain_id}:{prep.contract}",
                chain_id=view.chain_id,
                contract=prep.contract,
                merkle_root="0x" + prep.root.hex(),
                transaction_hash=ev.transaction_hash if ev else None,
                block_number=ev.block_number if ev else None,
                anchored_at=_ts(lk.anchored_at) if lk.anchored_at else None,
                confirmations=(view.head - ev.block_number + 1) if ev else None,
                final=is_final(ev.block_number, _finality(view, config)) if ev else None,
                finality=str(view.rule),
                manifest_cid=ev.manifest_cid if ev else None,
                count=lk.count if lk.batch_exists else None,
                batch_revoked_at=_ts(lk.batch_revoked_at) if lk.batch_revoked_at else None,
            )
            # the same cached chain answer gives the same checks: keep them for the next request
            prep.extra["chain"] = (
                view.lookup,
                view.issuer,
                view.anchor,
                (view.head, view.finalized),
                view.chain_id,
                chain_checks,
                flags,
                anchor,
                issuer,
            )
        checks.extend(chain_checks)
    vcheck, vstatus = _validity(prep, now)
    checks.append(vcheck)
    # verdict
    if prep.local_failed or flags.get("invalid"):
        status = Status.invalid
    elif prep.local_error or flags.get("error") or flags.get("pending"):
        status = Status.indeterminate
    elif flags.get("revoked"):
        status = Status.revoked
    elif flags.get("suspended"):
        status = Status.suspended
    elif vstatus is not None:
        status = vstatus
    else:
        status = Status.valid
    summary = SUMMARIES[status]
    if status is Status.valid and not prep.has_document:
        summary = (
            "This digest belongs to a valid anchored credential: issued by a registered issuer and "
            "neither revoked nor suspended (the document itself was not presented)."
        )
    return VerificationResult(
        verified=status is Status.valid,
        status=status,
        summary=summary,
        digest="0x" + prep.digest.hex() if prep.digest else None,
        issuer=issuer,
        anchor=anchor,
        checks=checks,
        checked_at=format_timestamp(now),
    )


def run_chain(prep: Prepared, reader: ChainReader | None) -> tuple[ChainView | None, ChainError | None]:
    """Read the chain for a prepared verification (cache first); never raises ``ChainError``."""
    if not prep.needs_chain:
        return None, None
    if reader is None:
        return None, ChainError("no chain reader is configured")
    assert prep.contract is not None and prep.root is not None and prep.digest is not None
    try:
        assert prep.issuer_hint is not None
        return reader.read(prep.contract, prep.root, prep.digest, prep.issuer_hint, prep.proof_block), None
    except ChainError as exc:
        return None, exc
    except Exception as exc:  # fail closed: anything unexpected while reading is "cannot tell"
        return None, ChainError(f"unexpected answer from the chain node ({type(exc).__name__})")


def _config(settings: Settings | VerifyConfig) -> VerifyConfig:
    return settings if isinstance(settings, VerifyConfig) else VerifyConfig.from_settings(settings)


def _verify(
    prep: Prepared, reader: ChainReader | None, config: VerifyConfig, now: datetime | None
) -> VerificationResult:
    view, error = run_chain(prep, reader)
    return finish(prep, view, error, config, now or datetime.now(UTC))


def verify_credential(
    data: bytes | str | Mapping[str, Any],
    reader: ChainReader | None,
    settings: Settings | VerifyConfig,
    now: datetime | None = None,
    index: DigestIndex | None = None,
) -> VerificationResult:
    """Verify a credential document (with or without its proof) at time ``now``."""
    config = _config(settings)
    return _verify(prepare_document(data, config, index), reader, config, now)


def verify_digest(
    digest: bytes,
    reader: ChainReader | None,
    settings: Settings | VerifyConfig,
    now: datetime | None = None,
    index: DigestIndex | None = None,
    issuer: str | None = None,
) -> VerificationResult:
    """Verify a bare digest through the index (``issuer``: answer for this issuer's batches only)."""
    config = _config(settings)
    return _verify(prepare_digest(digest, config, index, issuer), reader, config, now)
