"""The audit engine against real chains (anvil) and a real content store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_kit import ISSUER_A, ISSUER_B, STRANGER, Scenario, issuers_slot, read_word, set_issuer_word
from helpers import dev_account
from web3 import Web3

from registry.audit import Auditor, load_cursor
from registry.audit import model as m
from registry.audit.events import ChainEvent, EventReader
from registry.chain.anvil import Anvil, start_anvil
from registry.chain.connection import connect
from registry.errors import ChainError, ContractRevert, InputError


def auditor(sc: Scenario, tmp_path: Path | None = None, **kw: object) -> Auditor:
    cursor = tmp_path / "cursor.json" if tmp_path is not None else None
    return Auditor(sc.w3, sc.reg.address, sc.store, cursor_path=cursor, genesis_block=sc.deploy_block, **kw)  # type: ignore[arg-type]


def tamper(store_dir: Path, original: bytes, replacement: bytes) -> None:
    """Overwrite the stored object holding ``original`` (whatever the store's file layout)."""
    hits = [p for p in store_dir.rglob("*") if p.is_file() and p.read_bytes() == original]
    assert len(hits) == 1, f"expected one stored copy, found {hits}"
    hits[0].write_bytes(replacement)


def test_clean_chain_passes_with_every_kind_of_event(scenario: Scenario, tmp_path: Path) -> None:
    sc = scenario
    b1 = sc.issue(ISSUER_A, 3)
    b2 = sc.issue(ISSUER_A, 5)
    b3 = sc.issue(ISSUER_B, 1)
    sc.issuer_tx(ISSUER_A, "revokeBatch", b1.root, "printed with the wrong grade")
    sc.issuer_tx(ISSUER_A, "revokeCredentials", [b2.digests[0]], "plagiarism")
    sc.issuer_tx(ISSUER_A, "suspendCredentials", [b2.digests[1], b2.digests[2]])
    sc.issuer_tx(ISSUER_A, "reinstateCredentials", [b2.digests[2]])
    sc.admin("suspendIssuer", ISSUER_B.address)
    sc.admin("reinstateIssuer", ISSUER_B.address)
    b4 = sc.issue(ISSUER_B, 2)  # after reinstatement: allowed

    report = auditor(sc, tmp_path).audit()

    assert report.ok, report.anomalies
    assert [b.root for b in report.batches] == [b.root_hex for b in (b1, b2, b3, b4)]
    assert [b.count for b in report.batches] == [3, 5, 1, 2]
    assert all(b.manifest == "ok" for b in report.batches)
    assert [b.digests for b in report.batches] == [3, 5, 1, 2]
    assert (
        report.batches[0].revoked_at > 0 and report.batches[0].revoke_reason == "printed with the wrong grade"
    )
    assert [b.revoked_at for b in report.batches[1:]] == [0, 0, 0]
    assert report.batches[0].block_number == b1.block
    assert report.batches[0].issuer == ISSUER_A.address and report.batches[2].issuer == ISSUER_B.address
    assert report.credentials == {
        ISSUER_A.address: {
            "0x" + b2.digests[0].hex(): "revoked",
            "0x" + b2.digests[1].hex(): "suspended",
            "0x" + b2.digests[2].hex(): "none",
        }
    }
    assert report.issuers[ISSUER_A.address].status == "active"
    assert report.issuers[ISSUER_B.address].name == "Beta Academy"
    assert report.events == {
        "BatchAnchored": 4,
        "BatchRevoked": 1,
        "CredentialReinstated": 1,
        "CredentialRevoked": 1,
        "CredentialSuspended": 2,
        "IssuerRegistered": 2,
        "IssuerReinstated": 1,
        "IssuerSuspended": 1,
    }
    doc = report.to_json()
    assert doc["ok"] is True and doc["registry"] == sc.caip
    json.dumps(doc)  # serialisable as is


def test_every_planted_anomaly_is_found_and_nothing_else(scenario: Scenario, store_dir: Path) -> None:
    sc = scenario
    clean = sc.issue(ISSUER_A, 3)
    no_manifest = sc.issue(ISSUER_A, 2, manifest_cid="")
    not_pinned = sc.issue(ISSUER_A, 2, pin=False)
    other = [bytes([7]) * 32, bytes([8]) * 32]
    wrong_digests = sc.issue(ISSUER_A, 2, manifest_digests=other)
    wrong_count = sc.issue(ISSUER_A, 2, count=3)
    tampered = sc.issue(ISSUER_A, 2)
    original = sc.store.get(tampered.manifest_cid)
    tamper(store_dir, original, original.replace(b"oz-standard", b"oz-standarX"))
    foreign = sc.issue(ISSUER_A, 2, manifest_issuer=ISSUER_B.address)
    garbage_cid = sc.store.put(b'{"hello": "not a manifest"}')
    garbage = sc.issue(ISSUER_A, 1, manifest_cid=garbage_cid)
    not_a_cid = sc.issue(ISSUER_A, 1, manifest_cid="ipfs://nothing-here")

    report = auditor(sc).audit()

    found: dict[str, list[str]] = {}
    for a in report.anomalies:
        found.setdefault(a.root or "", []).append(a.kind)
    assert found == {
        no_manifest.root_hex: [m.MANIFEST_MISSING],
        not_pinned.root_hex: [m.MANIFEST_MISSING],
        wrong_digests.root_hex: [m.ROOT_MISMATCH],
        wrong_count.root_hex: [m.COUNT_MISMATCH],
        tampered.root_hex: [m.MANIFEST_UNREADABLE],
        foreign.root_hex: [m.MANIFEST_MISMATCH],
        garbage.root_hex: [m.MANIFEST_INVALID],
        not_a_cid.root_hex: [m.MANIFEST_MISSING],
    }
    assert clean.root_hex not in found
    assert not report.ok
    by_root = {b.root: b for b in report.batches}
    assert by_root[clean.root_hex].manifest == "ok"
    assert by_root[no_manifest.root_hex].manifest == "missing"
    assert by_root[tampered.root_hex].manifest == "unreadable"
    assert by_root[wrong_digests.root_hex].manifest == "mismatch"
    assert all(
        a.block_number > sc.deploy_block and a.transaction_hash.startswith("0x") for a in report.anomalies
    )
    assert report.to_json()["anomalyCounts"][m.MANIFEST_MISSING] == 3


def test_contract_rejects_anchors_by_strangers_suspended_and_key_revoked_issuers(scenario: Scenario) -> None:
    sc = scenario
    root = bytes([1]) * 32
    with pytest.raises(ContractRevert) as stranger:
        sc.issuer_tx(STRANGER, "anchor", root, 1, "bafy")
    assert stranger.value.details["error"] == "NotActiveIssuer"
    sc.admin("suspendIssuer", ISSUER_B.address)
    with pytest.raises(ContractRevert) as suspended:
        sc.issuer_tx(ISSUER_B, "anchor", root, 1, "bafy")
    assert suspended.value.details["error"] == "NotActiveIssuer"
    sc.admin("revokeIssuerKey", ISSUER_A.address, 1)
    with pytest.raises(ContractRevert) as revoked:
        sc.issuer_tx(ISSUER_A, "anchor", root, 1, "bafy")
    assert revoked.value.details["error"] == "NotActiveIssuer"
    assert not sc.reg.batch(ISSUER_A.address, root).exists
    report = auditor(sc).audit()
    assert report.ok and report.batches == []


def test_anchor_by_non_issuer_in_forged_chain_state_is_an_anomaly(scenario: Scenario, anvil: Anvil) -> None:
    """The contract cannot be made to accept such anchors, so the state is forged with
    anvil_setStorageAt: the events then show anchors the issuer history does not allow."""
    sc = scenario
    slot = issuers_slot(sc.reg, ISSUER_A.address)
    active_word = read_word(sc.reg, slot, ISSUER_A.address)
    ok_batch = sc.issue(ISSUER_A, 2)

    # a stranger the admin never admitted
    set_issuer_word(anvil.rpc, sc.reg, slot, STRANGER.address, active_word)
    by_stranger = sc.issue(STRANGER, 2)
    set_issuer_word(anvil.rpc, sc.reg, slot, STRANGER.address, b"")

    # an issuer suspended by the admin, its status flipped back behind the contract's back
    sc.admin("suspendIssuer", ISSUER_B.address)
    suspended_word = read_word(sc.reg, slot, ISSUER_B.address)
    set_issuer_word(anvil.rpc, sc.reg, slot, ISSUER_B.address, active_word)
    by_suspended = sc.issue(ISSUER_B, 2)
    set_issuer_word(anvil.rpc, sc.reg, slot, ISSUER_B.address, suspended_word)
    assert sc.reg.issuer(ISSUER_B.address).status_name == "suspended"

    report = auditor(sc).audit()

    kinds = {(a.root, a.kind) for a in report.anomalies}
    assert kinds == {
        (by_stranger.root_hex, m.ANCHOR_BY_NON_ISSUER),
        (by_suspended.root_hex, m.ANCHOR_BY_NON_ISSUER),
    }
    messages = {a.root: a.message for a in report.anomalies}
    assert "never admitted" in messages[by_stranger.root_hex]
    assert "suspended" in messages[by_suspended.root_hex]
    assert ok_batch.root_hex not in messages
    assert report.issuers[STRANGER.address].status == "none"


def _ev(event: str, block: int, **args: object) -> ChainEvent:
    return ChainEvent(event, block, 0, "0x" + "ab" * 32, dict(args))


def test_event_replay_checks_issuer_history_in_chain_order(scenario: Scenario) -> None:
    """The same check on a crafted event list (what a forged or foreign chain could hold)."""
    sc = scenario
    a, b, c = (dev_account(i).address for i in (5, 6, 7))
    root = lambda i: "0x" + bytes([i]).hex() * 32  # noqa: E731
    events = [
        _ev("IssuerRegistered", 10, issuer=a, name="A", uri="u"),
        _ev("BatchAnchored", 11, root=root(1), issuer=a, count=1, manifestCid=""),  # fine
        _ev("BatchAnchored", 11, root=root(2), issuer=b, count=1, manifestCid=""),  # never admitted
        _ev("IssuerSuspended", 12, issuer=a),
        _ev("BatchAnchored", 13, root=root(3), issuer=a, count=1, manifestCid=""),  # suspended
        _ev("IssuerReinstated", 14, issuer=a),
        _ev("BatchAnchored", 15, root=root(4), issuer=a, count=1, manifestCid=""),  # fine again
        _ev("IssuerKeyRevoked", 16, issuer=a, since=5),
        _ev("BatchAnchored", 17, root=root(5), issuer=a, count=1, manifestCid=""),  # key revoked
        _ev("CredentialRevoked", 18, issuer=c, digest=root(9), reason="x"),  # stranger's credential op
    ]
    report = m.AuditReport(sc.caip, sc.reg.address, 31337, 10, 18)
    touched = auditor(sc).replay(report, {}, events)
    got = [(x.kind, x.root, x.block_number) for x in report.anomalies]
    assert got == [
        (m.ANCHOR_BY_NON_ISSUER, root(2), 11),
        (m.ANCHOR_BY_NON_ISSUER, root(3), 13),
        (m.ANCHOR_BY_NON_ISSUER, root(5), 17),
        (m.CREDENTIAL_OP_BY_NON_ISSUER, None, 18),
    ]
    assert "key had been revoked" in report.anomalies[2].message
    assert touched == {(c, root(9))}
    assert [r.root for r in report.batches] == [root(i) for i in (1, 2, 3, 4, 5)]


def test_resume_from_cursor_keeps_issuer_history(scenario: Scenario, tmp_path: Path) -> None:
    sc = scenario
    first = sc.issue(ISSUER_A, 2)
    r1 = auditor(sc, tmp_path).audit()
    assert r1.ok and not r1.resumed and [b.root for b in r1.batches] == [first.root_hex]
    cur = load_cursor(tmp_path / "cursor.json")
    assert cur is not None and cur.next_block == r1.to_block + 1 and cur.batches == 1
    assert cur.issuers[ISSUER_B.address].status == 1

    # B was admitted before the cursor: a resumed run must still know it
    second = sc.issue(ISSUER_B, 3)
    r2 = auditor(sc, tmp_path).audit()
    assert r2.resumed and r2.from_block == r1.to_block + 1
    assert [b.root for b in r2.batches] == [second.root_hex]
    assert r2.ok, r2.anomalies

    # nothing new: an empty range, still ok
    r3 = auditor(sc, tmp_path).audit()
    assert r3.empty_range and r3.batches == [] and r3.ok

    # an explicit --from-block replays the issuer history before it (no false anomaly)
    r4 = auditor(sc, tmp_path).audit(from_block=second.block)
    assert not r4.resumed and [b.root for b in r4.batches] == [second.root_hex] and r4.ok
    # and --no-resume starts from the genesis block again
    r5 = auditor(sc, tmp_path).audit(resume=False)
    assert [b.root for b in r5.batches] == [first.root_hex, second.root_hex]


def test_resumed_run_counts_earlier_anomalies(scenario: Scenario, tmp_path: Path) -> None:
    sc = scenario
    sc.issue(ISSUER_A, 2, manifest_cid="")
    r1 = auditor(sc, tmp_path).audit()
    assert [a.kind for a in r1.anomalies] == [m.MANIFEST_MISSING]
    sc.issue(ISSUER_A, 2)
    r2 = auditor(sc, tmp_path).audit()
    assert r2.ok and r2.previous_anomalies == 1
    assert load_cursor(tmp_path / "cursor.json").anomalies == 1  # type: ignore[union-attr]


def test_chunked_replay_gives_the_same_report(scenario: Scenario) -> None:
    sc = scenario
    for n in (1, 2, 3, 4):
        sc.issue(ISSUER_A if n % 2 else ISSUER_B, n)
    whole = auditor(sc).audit()
    small = auditor(sc, chunk_size=2)
    chunked = small.audit()
    assert chunked.to_json() == whole.to_json()
    blocks = whole.to_block - whole.from_block + 1
    assert small.reader.calls >= (blocks + 1) // 2 > 1


def test_event_reader_splits_a_range_the_node_refuses(scenario: Scenario) -> None:
    """Test double for a public node's log-range cap (anvil has none): ranges wider than two
    blocks fail, the reader halves them and still returns every event in order."""
    sc = scenario
    batches = [sc.issue(ISSUER_A, 1) for _ in range(4)]

    class CappedReader(EventReader):
        def _get_logs(self, start, end, topics):  # type: ignore[no-untyped-def]
            if end - start + 1 > 2:
                self.calls += 1
                raise ValueError("query exceeds max block range 2")
            return super()._get_logs(start, end, topics)

    reader = CappedReader(sc.w3, sc.reg.contract, chunk_size=100)
    got = [
        e.args["root"]
        for e in reader.read(sc.deploy_block, sc.w3.eth.block_number)
        if e.name == "BatchAnchored"
    ]
    assert got == [b.root_hex for b in batches]


def test_reorg_below_the_cursor_is_detected(tmp_path: Path, store: object) -> None:
    node = start_anvil()
    try:
        w3 = connect(node.url)
        sc = Scenario.deploy(w3, store)
        sc.admit(ISSUER_A)
        snap = node.rpc("evm_snapshot")
        sc.issue(ISSUER_A, 2)
        auditor(sc, tmp_path).audit()
        node.rpc("evm_revert", snap)
        sc.issue(ISSUER_A, 3)  # another block at the same height
        with pytest.raises(ChainError) as err:
            auditor(sc, tmp_path).audit()
        assert err.value.code == "reorg_detected"
    finally:
        node.stop()


def test_audit_rejects_an_address_without_code(anvil_w3: Web3, store: object) -> None:
    with pytest.raises(ChainError) as err:
        Auditor(anvil_w3, STRANGER.address, store)  # type: ignore[arg-type]
    assert err.value.code == "no_contract"


def test_follow_in_process_continues_where_each_round_stopped(scenario: Scenario) -> None:
    """Without a cursor file the auditor resumes from memory; new blocks mined between rounds
    (here from the round callback) are audited once each."""
    sc = scenario
    first = sc.issue(ISSUER_A, 1)
    head = sc.w3.eth.block_number
    added: list[object] = []
    rounds: list[tuple[int, int]] = []

    def on_round(rnd: m.AuditReport) -> None:
        rounds.append((rnd.from_block, rnd.to_block))
        if not added:
            added.append(sc.issue(ISSUER_B, 2))
            added.append(sc.issue(ISSUER_A, 3, pin=False))

    report = auditor(sc).follow(until_block=head + 2, poll_interval=0.01, max_seconds=300, on_round=on_round)
    assert rounds[0] == (sc.deploy_block, head)
    assert report.from_block == sc.deploy_block and report.to_block == head + 2
    assert [b.root for b in report.batches] == [first.root_hex] + [b.root_hex for b in added]  # type: ignore[attr-defined]
    assert [(a.kind, a.root) for a in report.anomalies] == [(m.MANIFEST_MISSING, added[1].root_hex)]  # type: ignore[attr-defined]


def test_confirmations_keep_the_audit_behind_the_head(scenario: Scenario) -> None:
    sc = scenario
    early = sc.issue(ISSUER_A, 1)
    sc.issue(ISSUER_A, 1)
    sc.issue(ISSUER_B, 1)
    latest = sc.w3.eth.block_number
    report = auditor(sc, confirmations=2).audit()
    assert report.to_block == latest - 2
    assert [b.root for b in report.batches] == [early.root_hex]


def test_a_cursor_of_another_registry_is_refused(scenario: Scenario, anvil_w3: Web3, tmp_path: Path) -> None:
    sc = scenario
    auditor(sc, tmp_path).audit()
    other = Scenario.deploy(anvil_w3, sc.store)
    with pytest.raises(InputError) as err:
        auditor(other, tmp_path).audit()
    assert err.value.code == "invalid_cursor"
    (tmp_path / "cursor.json").write_text('{"format": "something else"}')
    with pytest.raises(InputError):
        auditor(sc, tmp_path).audit()
