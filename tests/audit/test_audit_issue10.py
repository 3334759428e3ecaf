"""Issue 10 in the audit: a digest anchored by several issuers (item 2) and status changes a
stolen issuer key made at or after the key cut-off (item 3), planted on anvil and reported;
legitimate activity stays clean."""

from __future__ import annotations

from pathlib import Path

from audit_kit import ISSUER_A, ISSUER_B, Scenario
from helpers import ADMIN, dev_account, set_next_block_timestamp

from registry.audit import Auditor
from registry.audit import model as m
from registry.chain.tx import send

MANAGER = dev_account(7)


def auditor(sc: Scenario, tmp_path: Path | None = None) -> Auditor:
    cursor = tmp_path / "cursor.json" if tmp_path is not None else None
    return Auditor(sc.w3, sc.reg.address, sc.store, cursor_path=cursor, genesis_block=sc.deploy_block)


def test_a_digest_anchored_by_two_issuers_is_flagged(scenario: Scenario) -> None:
    sc = scenario
    original = sc.issue(ISSUER_A, 3)
    same_root = sc.copy(ISSUER_B, original)  # the same root, now B's own batch
    mixed = sc.copy(ISSUER_B, original, extra=1)  # A's digests inside a batch of another root
    assert same_root.root == original.root and mixed.root != original.root

    report = auditor(sc).audit()

    shared = [a for a in report.anomalies if a.kind == m.DIGEST_ANCHORED_BY_SEVERAL_ISSUERS]
    assert [a.kind for a in report.anomalies] == [m.DIGEST_ANCHORED_BY_SEVERAL_ISSUERS]
    (a,) = shared
    for who in (ISSUER_A.address, ISSUER_B.address):
        assert who in a.message
    for root in (original.root_hex, mixed.root_hex):
        assert root in a.message
    assert "3 digest(s)" in a.message and "0x" + original.digests[0].hex() in a.message
    assert a.block_number == mixed.block  # reported at the batch that completed the collision
    # both copies are their issuers' own batches (per-issuer scoping): no state mismatch
    assert [(b.issuer, b.root) for b in report.batches] == [
        (ISSUER_A.address, original.root_hex),
        (ISSUER_B.address, original.root_hex),
        (ISSUER_B.address, mixed.root_hex),
    ]
    assert report.to_json()["anomalyCounts"] == {m.DIGEST_ANCHORED_BY_SEVERAL_ISSUERS: 1}


def test_the_same_issuer_anchoring_a_digest_twice_is_not_flagged(scenario: Scenario) -> None:
    sc = scenario
    first = sc.issue(ISSUER_A, 2)
    sc.copy(ISSUER_A, first, extra=1)  # A re-anchors its own documents in a new batch
    sc.issue(ISSUER_B, 2)
    report = auditor(sc).audit()
    assert report.ok, report.anomalies


def test_status_changes_by_the_key_after_its_cutoff_are_flagged(scenario: Scenario, tmp_path: Path) -> None:
    sc = scenario
    batch = sc.issue(ISSUER_A, 4)
    d = ["0x" + x.hex() for x in batch.digests]
    base = int(sc.w3.eth.get_block("latest")["timestamp"])
    since = base + 100
    set_next_block_timestamp(sc.w3, since - 1)
    sc.issuer_tx(ISSUER_A, "suspendCredentials", [batch.digests[0]])  # the real issuer, before
    # the thief, at and after the cut-off second
    set_next_block_timestamp(sc.w3, since)
    sc.issuer_tx(ISSUER_A, "reinstateCredentials", [batch.digests[0]])
    sc.issuer_tx(ISSUER_A, "revokeCredentials", [batch.digests[1]], "thief")
    sc.issuer_tx(ISSUER_A, "revokeBatch", batch.root, "thief")
    # an audit run before the cut-off is declared has nothing to say yet
    first = auditor(sc, tmp_path).audit()
    assert first.ok, first.anomalies
    sc.admin("revokeIssuerKey", ISSUER_A.address, since)
    sc.admin("setIssuerManager", ISSUER_A.address, MANAGER.address)
    send(sc.w3, MANAGER, sc.reg.functions.revokeCredentialsOf(ISSUER_A.address, [batch.digests[2]], "real"))
    send(sc.w3, ADMIN, sc.reg.functions.suspendCredentialsOf(ISSUER_A.address, [batch.digests[3]]))

    for report in (auditor(sc, tmp_path).audit(), auditor(sc).audit()):  # resumed, and from genesis
        flagged = [a for a in report.anomalies if a.kind == m.STATUS_CHANGE_AFTER_KEY_CUTOFF]
        assert [a.kind for a in report.anomalies] == [m.STATUS_CHANGE_AFTER_KEY_CUTOFF] * 3
        text = [a.message for a in flagged]
        assert text[0].startswith(f"CredentialReinstated of {d[0]}")
        assert text[1].startswith(f"CredentialRevoked of {d[1]}")
        assert text[2].startswith(f"BatchRevoked of {batch.root_hex}")
        assert all("ignored by the contract" in t and str(since) in t for t in text)
        assert all(a.issuer == ISSUER_A.address for a in flagged)
        assert flagged[2].root == batch.root_hex
    # the effective statuses: the thief's changes do not count, the manager's and owner's do
    report = auditor(sc).audit()
    assert report.credentials[ISSUER_A.address] == {
        d[0]: "suspended",
        d[1]: "none",
        d[2]: "revoked",
        d[3]: "suspended",
    }
    assert report.batches[0].revoked_at == 0


def test_manager_activity_after_a_cutoff_is_clean(scenario: Scenario) -> None:
    sc = scenario
    batch = sc.issue(ISSUER_A, 2)
    sc.issuer_tx(ISSUER_A, "suspendCredentials", [batch.digests[0]])
    since = int(sc.w3.eth.get_block("latest")["timestamp"]) + 1
    sc.admin("revokeIssuerKey", ISSUER_A.address, since)
    sc.admin("setIssuerManager", ISSUER_A.address, MANAGER.address)
    send(sc.w3, MANAGER, sc.reg.functions.reinstateCredentialsOf(ISSUER_A.address, [batch.digests[0]]))
    send(sc.w3, MANAGER, sc.reg.functions.revokeBatchOf(ISSUER_A.address, batch.root, "successor"))
    report = auditor(sc).audit()
    assert report.ok, report.anomalies
    assert report.events["IssuerManagerSet"] == 1
    assert report.batches[0].revoked_at > 0 and report.batches[0].revoke_reason == "successor"
