"""The chain checks: ``anchored``, ``issuer``, ``issuer_binding``, ``batch_not_revoked``,
``credential_not_revoked``, ``credential_not_suspended``. Each reads one
:class:`~registry.verify.reader.ChainView` (no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.chain.finality import FinalityRule, FinalityView, is_final
from registry.chain.schema import CredentialStatus, IssuerStatus
from registry.core.formats import AnchorProof, issuer_id_matches
from registry.verify.checks.words import error, failed, human, parse_time, passed, short, skipped, ts
from registry.verify.config import VerifyConfig
from registry.verify.prepared import Prepared
from registry.verify.reader import AnchorEvent, ChainView, IssuerRecord, LookupView
from registry.verify.verdict import Finding, Outcome

ChainCheck = Callable[[Prepared, ChainView, FinalityView], Finding]


def finality_of(view: ChainView, config: VerifyConfig) -> FinalityView:
    """The finality rule of the reader, with the head and finalized block of this view."""
    return FinalityView(view.rule, view.head, view.finalized, config.confirmations)


def anchored(prep: Prepared, view: ChainView, fin: FinalityView) -> Finding:
    """``anchored``: the issuer anchored the batch in a final block, as the proof says."""
    lk, proof, ev = view.lookup, prep.proof, view.anchor
    if not lk.batch_exists:
        return _not_anchored(prep, fin)
    if ev is None:
        return error(
            "anchored",
            "The registry knows this batch but the node returned no record of its anchoring transaction.",
        )
    conf = view.head - ev.block_number + 1
    details = _anchor_details(ev, lk, conf, fin)
    mismatches = _mismatches(proof, ev, lk) if proof is not None else []
    moving = not is_final(ev.block_number, fin)  # the chain's own record may still change
    if mismatches and moving:
        return error(
            "anchored",
            "The proof's anchoring record differs from the chain's, whose record is not final "
            "yet (the proof claims " + "; ".join(mismatches) + "): a reorg moved the anchor; "
            "ask the issuer for the final proof, or try again later.",
            **details,
        )
    if mismatches:
        message = "The proof's anchoring record does not match the chain: it claims " + "; ".join(mismatches)
        return failed("anchored", message + ".", **details)
    if moving:
        return error("anchored", _not_final_words(ev.block_number, conf, fin), **details)
    return _final(ev, lk, conf, fin, details)


def _not_anchored(prep: Prepared, fin: FinalityView) -> Finding:
    """No such batch: reorganised away while not final, or never anchored."""
    proof = prep.proof
    if proof is not None and proof.blockNumber > fin.final_block:
        return _reorged_away(proof, fin)
    assert prep.root is not None
    return failed(
        "anchored",
        f"No batch with Merkle root {short('0x' + prep.root.hex())} was ever anchored by issuer "
        f"{prep.issuer_hint} in registry {prep.contract}.",
    )


def _final(ev: AnchorEvent, lk: LookupView, conf: int, fin: FinalityView, details: dict[str, Any]) -> Finding:
    how = (
        f"final: at or below the chain's finalized block {fin.final_block}"
        if fin.rule is FinalityRule.finalized
        else f"{conf} confirmations"
    )
    return passed(
        "anchored",
        f"Anchored on {human(lk.anchored_at)} in transaction {short(ev.transaction_hash)} "
        f"(block {ev.block_number}, {how}).",
        **details,
    )


def _reorged_away(proof: AnchorProof, fin: FinalityView) -> Finding:
    return error(
        "anchored",
        f"The proof names block {proof.blockNumber}, which is not final yet, and the chain holds "
        "no such batch now: the anchoring block was reorganised away. The issuer's pipeline "
        "anchors it again; try again later.",
        block_number=proof.blockNumber,
        final_block=fin.final_block,
        finality=str(fin.rule),
    )


def _anchor_details(ev: AnchorEvent, lk: LookupView, conf: int, fin: FinalityView) -> dict[str, Any]:
    return {
        "transaction_hash": ev.transaction_hash,
        "block_number": ev.block_number,
        "confirmations": conf,
        "required_confirmations": fin.confirmations,
        "finality": str(fin.rule),
        "final_block": fin.final_block,
        "anchored_at": ts(lk.anchored_at),
    }


def _mismatches(proof: AnchorProof, ev: AnchorEvent, lk: LookupView) -> list[str]:
    """Where the proof's anchoring record differs from the chain's, in words."""
    out = []
    if proof.transactionHash != ev.transaction_hash.lower():
        out.append(
            f"transaction {short(proof.transactionHash)} (the chain records {short(ev.transaction_hash)})"
        )
    if proof.blockNumber != ev.block_number:
        out.append(f"block {proof.blockNumber} (the chain records {ev.block_number})")
    if proof.manifestCid != ev.manifest_cid:
        out.append("a different batch manifest")
    try:
        claimed = int(parse_time(proof.anchoredAt).timestamp())
    except ValueError:
        claimed = -1
    if claimed != lk.anchored_at:
        out.append(f"time {proof.anchoredAt} (the chain records {human(lk.anchored_at)})")
    return out


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


def issuer_check(prep: Prepared, view: ChainView, fin: FinalityView) -> Finding:
    """``issuer``: a registered issuer anchored it, the one the proof names, and not after the
    cut-off of a key it reported compromised (the document's issuer: ``issuer_binding``)."""
    lk, rec = view.lookup, view.issuer
    who = f"{rec.name} ({lk.issuer})" if rec and rec.name else lk.issuer
    if prep.proof is not None and prep.proof.issuer != lk.issuer:
        return failed(
            "issuer", f"The proof names issuer {prep.proof.issuer}, but the batch was anchored by {who}."
        )
    if lk.issuer_status == IssuerStatus.none or rec is None:
        return failed("issuer", f"{who} is not a registered issuer.")
    if lk.key_revoked_since and lk.anchored_at >= lk.key_revoked_since:
        return failed(
            "issuer",
            f"{who} reported its key compromised as of {human(lk.key_revoked_since)}; this batch "
            f"was anchored on {human(lk.anchored_at)}, after that cut-off, and cannot be trusted.",
            key_revoked_since=ts(lk.key_revoked_since),
        )
    notes = []
    if lk.issuer_status == IssuerStatus.suspended:
        notes.append("the issuer is currently suspended, which does not affect credentials anchored before")
    if lk.key_revoked_since:
        notes.append(
            f"its key was revoked as of {human(lk.key_revoked_since)}, after this batch was anchored"
        )
    tail = f"; {'; '.join(notes)}" if notes else ""
    return passed("issuer", f"Issued by {who}, a registered issuer{tail}.")


def _who(view: ChainView) -> str:
    rec = view.issuer
    return f"{rec.name} ({view.lookup.issuer})" if rec and rec.name else view.lookup.issuer


def issuer_binding(prep: Prepared, view: ChainView, fin: FinalityView) -> Finding:
    """``issuer_binding``: the issuer the document names (``issuer`` or ``issuer.id``) is the DID or
    URI the anchoring issuer registered (:func:`~registry.core.formats.issuer_id_matches`: a DID
    must be equal; an http(s) URI also covers the URLs below it)."""
    rec, who = view.issuer, _who(view)
    if not prep.has_document:
        return skipped("issuer_binding", "Only a digest was presented: no document names an issuer.")
    if rec is None or view.lookup.issuer_status == IssuerStatus.none:
        return skipped("issuer_binding", f"Not checked: {who} is not a registered issuer.")
    claimed = prep.claimed_issuer
    if claimed is None:
        return skipped("issuer_binding", "The document names no issuer, so there is nothing to bind.")
    if not issuer_id_matches(claimed, rec.uri):
        return _impersonation(prep, claimed, rec, who)
    how = "the identifier" if claimed == rec.uri else "covered by the URI"
    return passed(
        "issuer_binding",
        f"The document names its issuer {claimed[:200]!r}, which is {how} {who} registered ({rec.uri!r}).",
        claimed_id=claimed[:200],
        registered_uri=rec.uri,
    )


def _impersonation(prep: Prepared, claimed: str, rec: IssuerRecord, who: str) -> Finding:
    claim = repr(claimed[:200])
    if prep.claimed_issuer_name:
        claim += f" ({prep.claimed_issuer_name})"
    return failed(
        "issuer_binding",
        f"The document claims to be issued by {claim}, but the batch was anchored by {who}, "
        f"whose registered identifier is {rec.uri!r}: the document's issuer is not "
        "the issuer that anchored it.",
        claimed_id=claimed[:200],
        claimed_name=prep.claimed_issuer_name,
        registered_uri=rec.uri,
    )


def batch_not_revoked(prep: Prepared, view: ChainView, fin: FinalityView) -> Finding:
    """``batch_not_revoked``: the issuer has not revoked the whole batch."""
    at = view.lookup.batch_revoked_at
    if at:
        message = f"The issuer revoked the whole batch on {human(at)}."
        return failed("batch_not_revoked", message, Outcome.revoked, revoked_at=ts(at))
    return passed("batch_not_revoked", "The batch has not been revoked.")


def credential_not_revoked(prep: Prepared, view: ChainView, fin: FinalityView) -> Finding:
    """``credential_not_revoked``: the issuer has not revoked this credential."""
    if view.lookup.credential_status == CredentialStatus.revoked:
        return failed("credential_not_revoked", "The issuer revoked this credential.", Outcome.revoked)
    return passed("credential_not_revoked", "The credential has not been revoked.")


def credential_not_suspended(prep: Prepared, view: ChainView, fin: FinalityView) -> Finding:
    """``credential_not_suspended``: the issuer has not suspended this credential (moot if revoked)."""
    status = view.lookup.credential_status
    if status == CredentialStatus.revoked:
        return skipped("credential_not_suspended", "Not applicable: the credential is revoked.")
    if status == CredentialStatus.suspended:
        message = "The issuer has suspended this credential for now."
        return failed("credential_not_suspended", message, Outcome.suspended)
    return passed("credential_not_suspended", "The credential is not suspended.")


CHAIN_CHECKS: tuple[tuple[str, ChainCheck], ...] = (
    ("anchored", anchored),
    ("issuer", issuer_check),
    ("issuer_binding", issuer_binding),
    ("batch_not_revoked", batch_not_revoked),
    ("credential_not_revoked", credential_not_revoked),
    ("credential_not_suspended", credential_not_suspended),
)
"""The chain checks in the order of every result; ``anchored`` first gates the others."""
CHAIN_CHECK_NAMES = tuple(name for name, _ in CHAIN_CHECKS)


def chain_findings(prep: Prepared, view: ChainView, config: VerifyConfig) -> list[Finding]:
    """Every chain check on ``view``; the others are skipped when the batch is not anchored."""
    if view.chain_id != prep.chain_id:
        msg = (
            f"The chain node serves chain {view.chain_id}, not chain {prep.chain_id} named by the proof, "
            "so the anchor cannot be checked here."
        )
        return [error(name, msg) for name in CHAIN_CHECK_NAMES]
    fin = finality_of(view, config)
    first = anchored(prep, view, fin)
    if not view.lookup.batch_exists:
        why = (
            "the anchor is not final"
            if first.outcome is Outcome.indeterminate
            else "the batch is not anchored"
        )
        return [first, *(skipped(name, f"Not checked: {why}.") for name in CHAIN_CHECK_NAMES[1:])]
    return [first, *(check(prep, view, fin) for _, check in CHAIN_CHECKS[1:])]
