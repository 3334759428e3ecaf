"""Pure verdict tests: every check and the verdict fold on an in-memory chain view (no node).

Each case is a document (or a bare digest), the chain's records and the expected verdict with the
outcome of every named check; time comes from ``now=``, never from the clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from anchor_forms import anchor_of, tamper, to_legacy
from memory_chain import (
    ANCHORED_AT,
    BLOCK,
    CHAIN_ID,
    CONFIG,
    CONTRACT,
    ISSUER,
    NOW,
    OTHER_ISSUER,
    MemoryChain,
    MemoryIndex,
    anchored,
    credential,
    index_hit,
)

from registry.chain.finality import FinalityRule
from registry.core.canonical import document_digest
from registry.core.formats import format_timestamp
from registry.errors import ChainError
from registry.verify.core import VerifyConfig, verify_credential, verify_digest
from registry.verify.index import Resolution
from registry.verify.reader import AnchorEvent, IssuerRecord
from registry.verify.result import CHECK_NAMES, Status, VerificationResult

P, F, E, S = "passed", "failed", "error", "skipped"
DEFAULT = {"signature": S}  # the other checks pass unless a case says otherwise; unsigned: skipped


@dataclass
class Case:
    """One verification on the in-memory chain and what it must answer."""

    status: Status
    checks: dict[str, str]  # check name -> expected check status (the others: passed)
    doc: dict[str, Any] | bytes | None = None
    chain: MemoryChain | None = field(default_factory=MemoryChain)
    index: MemoryIndex | None = None
    digest: bytes | None = None  # a bare digest lookup instead of a document
    config: VerifyConfig = CONFIG
    words: str = ""  # a phrase one message must contain

    def run(self) -> VerificationResult:
        """Verify this case at :data:`NOW`."""
        if self.digest is not None:
            return verify_digest(self.digest, self.chain, self.config, now=NOW, index=self.index)
        data = self.doc if isinstance(self.doc, bytes) else json.dumps(self.doc)
        return verify_credential(data, self.chain, self.config, now=NOW, index=self.index)


def _skips(after: str, status: str = S) -> dict[str, str]:
    names = CHECK_NAMES[CHECK_NAMES.index(after) + 1 : -1]
    out = dict.fromkeys(names, status)
    out["signature"] = S  # an unsigned document: nothing to check, whatever the chain says
    return out


DOC = credential()
GOOD = anchored(DOC)
DIGEST = document_digest(DOC)
LATE = ANCHORED_AT + 50


def _tampered() -> dict[str, Any]:
    doc = anchored(DOC)
    doc["credentialSubject"]["name"] = "Eve"
    return doc


def _other_proof() -> dict[str, Any]:
    doc = anchored(DOC)
    return {**doc, "proof": [*doc["proof"], {"type": "DataIntegrityProof", "proofValue": "z1"}]}


def _two_anchor_proofs() -> dict[str, Any]:
    doc = anchored(DOC)
    return {**doc, "proof": [*doc["proof"], *doc["proof"]]}


def _untyped(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "proof": [{k: v for k, v in anchor_of(doc).items() if k != "type"}]}


def _malformed(doc: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    tamper(out, lambda f: f.__setitem__("blockNumber", "x"))
    return out


def _event(**kw: Any) -> AnchorEvent:
    from memory_chain import MANIFEST, TX, root_of

    fields: dict[str, Any] = {
        "contract": CONTRACT,
        "root": root_of(DOC),
        "issuer": ISSUER,
        "count": 1,
        "manifest_cid": MANIFEST,
        "block_number": BLOCK,
        "transaction_hash": TX,
        "log_index": 0,
    }
    fields.update(kw)
    return AnchorEvent(**fields)


CHAIN = MemoryChain()
PROOF_REFUSED = {"format": F, **_skips("format")}  # the credential was read: its validity is checked
FORMAT_FAILED = {"format": F, **_skips("format"), "validity_window": S}
CASES: dict[str, Case] = {
    "valid": Case(Status.valid, {}, GOOD, words="Issued by Example University"),
    "not_json": Case(Status.invalid, FORMAT_FAILED, b"{not json"),
    "too_deep": Case(Status.invalid, FORMAT_FAILED, b"[" * 100 + b"]" * 100, words="nesting deeper"),
    "no_issuer": Case(Status.invalid, FORMAT_FAILED, {**DOC, "issuer": 7}),
    "two_anchor_proofs": Case(Status.invalid, PROOF_REFUSED, _two_anchor_proofs()),
    "legacy_and_di_anchor_proofs": Case(
        Status.invalid, PROOF_REFUSED, {**GOOD, "proof": [*GOOD["proof"], to_legacy(GOOD)["proof"]]}
    ),
    "untyped_proof": Case(Status.invalid, PROOF_REFUSED, _untyped(GOOD)),
    "untyped_legacy_proof": Case(Status.invalid, PROOF_REFUSED, _untyped(to_legacy(GOOD))),
    "malformed_proof": Case(Status.invalid, PROOF_REFUSED, _malformed(GOOD), words="malformed"),
    "malformed_legacy_proof": Case(
        Status.invalid, PROOF_REFUSED, _malformed(to_legacy(GOOD)), words="malformed"
    ),
    "legacy_valid": Case(Status.valid, {}, to_legacy(GOOD), words="Issued by Example University"),
    "other_proof_noted": Case(Status.valid, {}, _other_proof(), words="did not verify"),
    "tampered": Case(
        Status.invalid, {"integrity": F, "merkle_inclusion": F, **_skips("trusted_registry")}, _tampered()
    ),
    "wrong_path": Case(
        Status.invalid,
        {"merkle_inclusion": F, **_skips("trusted_registry")},
        anchored(DOC, merkleRoot="0x" + "11" * 32),
    ),
    "untrusted_registry": Case(
        Status.invalid,
        {"trusted_registry": F, **_skips("trusted_registry")},
        anchored(DOC, registry=f"eip155:{CHAIN_ID}:0x" + "22" * 20),
    ),
    "chain_down": Case(
        Status.indeterminate,
        _skips("trusted_registry", E),
        GOOD,
        MemoryChain(error=ChainError("cannot reach the chain node at http://127.0.0.1:1: ConnectError")),
    ),
    "no_reader": Case(Status.indeterminate, _skips("trusted_registry", E), GOOD, None),
    "other_chain": Case(Status.indeterminate, _skips("trusted_registry", E), GOOD, MemoryChain(chain_id=1)),
    "not_anchored": Case(
        Status.invalid,
        {"anchored": F, **_skips("anchored")},
        GOOD,
        CHAIN.with_lookup(issuer="0x" + "00" * 20, anchored_at=0),
    ),
    "reorged_away": Case(
        Status.indeterminate,
        {"anchored": E, **_skips("anchored")},
        GOOD,
        MemoryChain(head=BLOCK - 1).with_lookup(anchored_at=0),
        words="reorganised away",
    ),
    "no_event": Case(
        Status.indeterminate,
        {"anchored": E},
        GOOD,
        MemoryChain(no_event=True).with_lookup(),
    ),
    "other_tx_final": Case(
        Status.invalid, {"anchored": F}, GOOD, MemoryChain(anchor=_event(transaction_hash="0x" + "cd" * 32))
    ),
    "other_time_and_block": Case(
        Status.invalid,
        {"anchored": F},
        GOOD,
        MemoryChain(anchor=_event(block_number=BLOCK + 1, manifest_cid="bafyother")).with_lookup(
            anchored_at=LATE
        ),
    ),
    "other_tx_moving": Case(
        Status.indeterminate,
        {"anchored": E},
        GOOD,
        MemoryChain(head=BLOCK + 1, anchor=_event(transaction_hash="0x" + "cd" * 32)),
        config=VerifyConfig(trusted=CONFIG.trusted, confirmations=12),
        words="a reorg moved the anchor",
    ),
    "not_deep_enough": Case(
        Status.indeterminate,
        {"anchored": E},
        GOOD,
        MemoryChain(head=BLOCK + 2),
        config=VerifyConfig(trusted=CONFIG.trusted, confirmations=12),
        words="required confirmations",
    ),
    "not_finalized": Case(
        Status.indeterminate,
        {"anchored": E},
        GOOD,
        MemoryChain(rule=FinalityRule.finalized, finalized=BLOCK - 1),
        words="has not finalized",
    ),
    "finalized": Case(
        Status.valid,
        {},
        GOOD,
        MemoryChain(rule=FinalityRule.finalized, finalized=BLOCK),
        words="finalized block",
    ),
    "proof_names_other_issuer": Case(
        Status.invalid, {"issuer": F}, GOOD, CHAIN.with_lookup(issuer=OTHER_ISSUER), words="but the batch was"
    ),
    "unregistered_issuer": Case(
        Status.invalid,
        {"issuer": F, "issuer_binding": S},
        GOOD,
        MemoryChain(issuer=None).with_lookup(issuer_status=0),
    ),
    "impersonation": Case(
        Status.invalid,
        {"issuer_binding": F},
        GOOD,
        MemoryChain(issuer=IssuerRecord(ISSUER, 1, 1, 0, "Other College", "https://other.example")),
        words="is not the issuer that anchored it",
    ),
    "key_revoked_before": Case(
        Status.invalid, {"issuer": F}, GOOD, CHAIN.with_lookup(key_revoked_since=ANCHORED_AT - 1)
    ),
    "key_revoked_after_suspended": Case(
        Status.valid,
        {},
        GOOD,
        CHAIN.with_lookup(key_revoked_since=LATE, issuer_status=2),
        words="currently suspended",
    ),
    "batch_revoked": Case(
        Status.revoked, {"batch_not_revoked": F}, GOOD, CHAIN.with_lookup(batch_revoked_at=LATE)
    ),
    "credential_revoked": Case(
        Status.revoked,
        {"credential_not_revoked": F, "credential_not_suspended": S},
        GOOD,
        CHAIN.with_lookup(credential_status=1),
    ),
    "credential_suspended": Case(
        Status.suspended, {"credential_not_suspended": F}, GOOD, CHAIN.with_lookup(credential_status=2)
    ),
    "revoked_and_expired": Case(
        Status.revoked,
        {"credential_not_revoked": F, "credential_not_suspended": S, "validity_window": F},
        anchored(credential(validUntil="2026-01-01T00:00:00Z")),
        CHAIN.with_lookup(credential_status=1),
    ),
    "suspended_not_yet_valid": Case(
        Status.suspended,
        {"credential_not_suspended": F, "validity_window": F},
        anchored(credential(validFrom="2027-01-01T00:00:00Z")),
        CHAIN.with_lookup(credential_status=2),
    ),
    "expired": Case(
        Status.expired, {"validity_window": F}, anchored(credential(validUntil="2026-01-01T00:00:00Z"))
    ),
    "not_yet_valid": Case(
        Status.not_yet_valid, {"validity_window": F}, anchored(credential(validFrom="2027-01-01T00:00:00Z"))
    ),
    "invalid_beats_indeterminate": Case(
        Status.invalid,
        {"anchored": E, "issuer": F, "issuer_binding": S},
        GOOD,
        MemoryChain(no_event=True).with_lookup(issuer_status=0),
    ),
    "indeterminate_beats_revoked": Case(
        Status.indeterminate,
        {"anchored": E, "batch_not_revoked": F},
        GOOD,
        MemoryChain(rule=FinalityRule.finalized, finalized=0).with_lookup(batch_revoked_at=LATE),
    ),
    "bare_document_no_index": Case(
        Status.indeterminate,
        {"merkle_inclusion": E, **_skips("merkle_inclusion")},
        DOC,
        words="no digest index",
    ),
    "bare_document_found": Case(
        Status.valid, {}, DOC, index=MemoryIndex(Resolution("hit", index_hit(DOC))), words="public manifest"
    ),
    "bare_document_not_found": Case(
        Status.invalid,
        {"merkle_inclusion": F, **_skips("merkle_inclusion")},
        DOC,
        index=MemoryIndex(Resolution("none")),
    ),
    "bare_document_index_behind": Case(
        Status.indeterminate,
        {"merkle_inclusion": E, **_skips("merkle_inclusion")},
        DOC,
        index=MemoryIndex(Resolution("none"), fresh=False),
        words="not caught up",
    ),
    "bare_document_conflict": Case(
        Status.indeterminate,
        {"merkle_inclusion": E, **_skips("merkle_inclusion")},
        DOC,
        index=MemoryIndex(
            Resolution("conflict", anchors=[index_hit(DOC).anchor, index_hit(DOC, OTHER_ISSUER).anchor])
        ),
        words="anchored by 2 issuers",
    ),
    "bare_document_unknown_issuer": Case(
        Status.indeterminate,
        {"merkle_inclusion": E, **_skips("merkle_inclusion")},
        DOC,
        index=MemoryIndex(Resolution("unknown_issuer", anchors=[index_hit(DOC).anchor])),
        words="not known yet",
    ),
    "bare_document_mismatch": Case(
        Status.invalid,
        {"merkle_inclusion": F, **_skips("merkle_inclusion")},
        DOC,
        index=MemoryIndex(Resolution("mismatch", anchors=[index_hit(DOC, OTHER_ISSUER).anchor])),
        words="none of them is registered",
    ),
    "bare_document_also_anchored": Case(
        Status.valid,
        {},
        DOC,
        index=MemoryIndex(
            Resolution("hit", index_hit(DOC), [index_hit(DOC).anchor, index_hit(DOC, OTHER_ISSUER).anchor])
        ),
        words="Other issuers also anchored",
    ),
    "digest_valid": Case(
        Status.valid,
        {"format": S, "integrity": S, "issuer_binding": S, "validity_window": S},
        digest=DIGEST,
        index=MemoryIndex(Resolution("hit", index_hit(DOC))),
        words="document itself was not presented",
    ),
    "digest_conflict": Case(
        Status.indeterminate,
        {
            "format": S,
            "integrity": S,
            "merkle_inclusion": E,
            **_skips("merkle_inclusion"),
            "validity_window": S,
        },
        digest=DIGEST,
        index=MemoryIndex(
            Resolution("conflict", anchors=[index_hit(DOC).anchor, index_hit(DOC, OTHER_ISSUER).anchor])
        ),
        words="name the issuer",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_case(name: str) -> None:
    """Each case: its verdict, every check's status, every check named in order, one sentence."""
    case = CASES[name]
    result = case.run()
    assert [c.name for c in result.checks] == list(CHECK_NAMES)
    got = {c.name: c.status.value for c in result.checks}
    want = {n: case.checks.get(n, DEFAULT.get(n, P)) for n in CHECK_NAMES}
    assert (result.status, got) == (case.status, want), [c.message for c in result.checks]
    assert result.verified is (case.status is Status.valid)
    assert all(c.message for c in result.checks)
    if case.words:
        assert any(case.words in c.message for c in result.checks) or case.words in result.summary
    assert result.checked_at == format_timestamp(NOW)


def test_only_chain_checks_read_the_chain() -> None:
    """A local failure never reads the chain; a local success reads it once with the proof's block."""
    chain = MemoryChain()
    verify_credential(json.dumps(_tampered()), chain, CONFIG, now=NOW)
    assert chain.reads == []
    verify_credential(json.dumps(GOOD), chain, CONFIG, now=NOW)
    assert [(r[0], r[3], r[4]) for r in chain.reads] == [(CONTRACT, ISSUER, BLOCK)]


def test_the_validity_window_follows_the_injected_clock() -> None:
    """The same document is not yet valid, valid, then expired as ``now`` moves."""
    doc = anchored(credential(validFrom="2026-01-01T00:00:00Z", validUntil="2027-01-01T00:00:00Z"))
    chain = MemoryChain()
    start = NOW.replace(year=2026, month=1, day=1)

    def at(dt: timedelta) -> Status:
        return verify_credential(json.dumps(doc), chain, CONFIG, now=start + dt).status

    assert at(timedelta(seconds=-1)) is Status.not_yet_valid
    assert at(timedelta(0)) is Status.valid
    assert at(timedelta(days=365, seconds=-1)) is Status.valid
    assert at(timedelta(days=365)) is Status.expired
