"""``merkle_inclusion`` for a document or digest without a proof: the digest index places it.

A digest anchored by several issuers is answered by the document's own issuer (the one whose
registered URI covers the document's issuer id) or the issuer the caller names; otherwise the
lookup is a conflict and the verdict ``indeterminate``, never an arbitrary issuer's answer.
"""

from __future__ import annotations

from typing import Any

from registry.core.merkle import verify_proof
from registry.verify.checks.words import error, failed, passed, short
from registry.verify.index import DigestIndex, Resolution
from registry.verify.verdict import Finding


def no_index() -> Finding:
    """``merkle_inclusion`` when the verifier keeps no digest index."""
    return error(
        "merkle_inclusion",
        "No proof is attached and this verifier keeps no digest index, "
        "so the batch holding this credential cannot be found.",
    )


def conflict_details(res: Resolution) -> list[dict[str, str]]:
    """The anchoring issuers of a resolution, for a check's details."""
    return [{"issuer": a.issuer, "root": "0x" + a.root.hex(), "contract": a.contract} for a in res.anchors]


def _conflict_words(res: Resolution) -> str:
    return ", ".join(f"{a.issuer} in batch {short('0x' + a.root.hex())}" for a in res.anchors)


def merkle_inclusion_by_index(
    res: Resolution,
    digest: bytes,
    index: DigestIndex,
    *,
    has_document: bool,
    claimed_issuer: str | None,
    issuer: str | None,
    chain_known: bool,
) -> Finding:
    """``merkle_inclusion`` from the index's answer ``res`` (passed only with a hit whose path holds)."""
    if res.outcome in ("conflict", "unknown_issuer"):
        return _undecided(res, has_document)
    if res.outcome == "mismatch":
        return failed(
            "merkle_inclusion",
            f"Batches of other issuers list this digest ({_conflict_words(res)}), but none of "
            f"them is registered under the document's issuer id {claimed_issuer!r}.",
            conflict=conflict_details(res),
        )
    if res.hit is None:
        return _not_listed(index, issuer, chain_known)
    return _listed(res, digest, has_document)


def _undecided(res: Resolution, has_document: bool) -> Finding:
    if res.outcome == "conflict" and has_document:
        why = "more than one of them is registered under the document's issuer id"
    elif res.outcome == "conflict":
        why = (
            "a bare digest is not answered for one of them at random: present the document "
            "(it names its issuer) or name the issuer"
        )
    else:
        why = "the registered identifier of one of them is not known yet; try again shortly"
    return error(
        "merkle_inclusion",
        f"This digest was anchored by {len(res.anchors)} issuers ({_conflict_words(res)}); {why}.",
        conflict=conflict_details(res),
    )


def _not_listed(index: DigestIndex, issuer: str | None, chain_known: bool) -> Finding:
    named = f" by issuer {issuer}" if issuer else ""
    if index.caught_up() and chain_known:
        return failed(
            "merkle_inclusion",
            f"No batch anchored{named} in a trusted registry lists this credential's digest.",
        )
    return error(
        "merkle_inclusion",
        "No proof is attached and the digest index is not caught up with the "
        "chain yet, so the credential cannot be looked up right now.",
    )


def _listed(res: Resolution, digest: bytes, has_document: bool) -> Finding:
    hit = res.hit
    assert hit is not None
    root_hex = "0x" + hit.anchor.root.hex()
    if not verify_proof(hit.anchor.root, digest, hit.path):  # defensive: the index rebuilt this path
        return failed("merkle_inclusion", f"The index's path does not lead to root {short(root_hex)}.")
    others = [a for a in res.anchors if a is not hit.anchor]
    also = (
        f" Other issuers also anchored this digest ({', '.join(a.issuer for a in others)}); "
        f"it is answered for {hit.anchor.issuer}"
        + (", the issuer the document names." if has_document else ", the issuer asked for.")
        if others
        else ""
    )
    details: dict[str, Any] = {"root": root_hex, "path": ["0x" + p.hex() for p in hit.path], "via": "index"}
    if others:
        details["also_anchored_by"] = conflict_details(Resolution("conflict", anchors=others))
    return passed(
        "merkle_inclusion",
        f"Found in the batch with Merkle root {short(root_hex)} through its public "
        f"manifest ({hit.anchor.count} credentials); the path leads to that root.{also}",
        **details,
    )
