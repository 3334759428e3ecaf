"""Issue 14, item 1: when and why a credential is revoked or suspended, from the chain's events.

The events are read only for a revoked or suspended verdict, by exact topics in a bounded block
range; the event shown is the one the contract counts (a stolen key's change after the cut-off
is never the reason shown). Real anvil, real contract; the pure rule also on hand-made events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers import ADMIN, latest_timestamp, set_next_block_timestamp
from verify_helpers import Batch, Env, anchor_batch, make_credential

from registry.chain.anvil import Anvil
from registry.chain.tx import send
from registry.verify.core import VerifyConfig, verify_credential, verify_digest
from registry.verify.reader import ChainReader
from registry.verify.result import Status, VerificationResult
from registry.verify.status_detail import (
    MAX_REASON_CHARS,
    DetailCache,
    KeyCut,
    StatusEvent,
    StatusHistory,
    clean_reason,
    credential_event,
    replacement,
)


class CountingReader(ChainReader):
    """A real reader that counts the status history reads (the hot path must not make any)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.histories: list[tuple[str, int]] = []

    def status_history(self, contract: str, issuer: str, scope: str, **kw: Any) -> Any:
        self.histories.append((scope, kw["start"]))
        return super().status_history(contract, issuer, scope, **kw)


@pytest.fixture
def counting(anvil: Anvil, env: Env) -> Iterator[CountingReader]:
    r = CountingReader(anvil.url, [env.address], staleness=0.0, timeout=5.0, log_chunk=7)
    try:
        yield r
    finally:
        r.close()


def _verify(doc: dict[str, Any], reader: ChainReader, config: VerifyConfig) -> VerificationResult:
    return verify_credential(doc, reader, config)


def _tx_time(env: Env, receipt: Any) -> str:
    from registry.core.formats import format_timestamp

    return format_timestamp(int(env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]))


def _hex(receipt: Any) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()


def test_a_valid_credential_reads_no_status_events(
    env: Env, batch: Batch, counting: CountingReader, config: VerifyConfig
) -> None:
    res = _verify(batch.credentials[0], counting, config)
    assert res.status is Status.valid and res.status_detail is None
    assert counting.histories == []


def test_revoked_shows_when_and_why(
    env: Env, batch: Batch, counting: CountingReader, config: VerifyConfig
) -> None:
    receipt = env.tx(env.issuer, env.reg.functions.revokeCredentials([batch.digests[1]], "diploma withdrawn"))
    env.tx(env.issuer, env.reg.functions.revokeCredentials([batch.digests[2]], "other"))  # another's event
    res = _verify(batch.credentials[1], counting, config)
    assert res.status is Status.revoked
    d = res.status_detail
    assert d is not None and d.status == "revoked" and d.scope == "credential"
    assert d.reason == "diploma withdrawn" and d.replaced_by is None
    assert d.transaction == _hex(receipt) and d.block == receipt["blockNumber"]
    assert d.at == _tx_time(env, receipt)
    # bounded: from the anchor block to the head, in chunks of the reader's log_chunk (7 blocks)
    assert counting.histories == [("credential", batch.block_number)]


def test_suspended_shows_the_latest_suspension(
    env: Env, batch: Batch, counting: CountingReader, config: VerifyConfig
) -> None:
    env.suspend([batch.digests[0]])
    env.reinstate([batch.digests[0]])
    receipt = env.tx(env.issuer, env.reg.functions.suspendCredentials([batch.digests[0]]))
    res = _verify(batch.credentials[0], counting, config)
    assert res.status is Status.suspended
    d = res.status_detail
    assert d is not None and d.status == "suspended" and d.reason is None
    assert d.transaction == _hex(receipt) and d.at == _tx_time(env, receipt)


def test_batch_revocation_shows_its_reason(
    env: Env, batch: Batch, counting: CountingReader, config: VerifyConfig
) -> None:
    receipt = env.tx(env.issuer, env.reg.functions.revokeBatch(batch.root, "wrong graduation list"))
    res = _verify(batch.credentials[3], counting, config)
    assert res.status is Status.revoked
    d = res.status_detail
    assert d is not None and d.scope == "batch" and d.reason == "wrong graduation list"
    assert d.transaction == _hex(receipt) and d.at == res.anchor.batch_revoked_at  # type: ignore[union-attr]


def test_a_revocation_before_the_anchor_is_found(
    env: Env, counting: CountingReader, config: VerifyConfig
) -> None:
    from registry.core.canonical import document_digest

    doc = make_credential("Early")
    receipt = env.tx(env.issuer, env.reg.functions.revokeCredentials([document_digest(doc)], "revoked early"))
    late = anchor_batch(env, [doc])
    before = counting.stats["log_queries"]
    res = _verify(late.credentials[0], counting, config)
    head = env.w3.eth.block_number
    # chunks of 7 blocks: the anchor's range, then the whole range from the reader's start block
    assert counting.stats["log_queries"] - before >= (head + 1) // 7
    assert res.status is Status.revoked and res.status_detail is not None
    assert res.status_detail.reason == "revoked early" and res.status_detail.transaction == _hex(receipt)
    assert [s for s, _ in counting.histories] == ["credential", "credential"]  # the anchor's range, then all


def test_a_stolen_keys_revocation_after_the_cutoff_is_not_the_reason(
    env: Env, batch: Batch, counting: CountingReader, config: VerifyConfig
) -> None:
    d = batch.digests
    genuine = env.tx(env.issuer, env.reg.functions.revokeCredentials([d[0]], "genuine, before the theft"))
    since = latest_timestamp(env.w3) + 100
    set_next_block_timestamp(env.w3, since)
    # the thief, with the stolen key, at and after the cut-off second
    env.tx(env.issuer, env.reg.functions.revokeCredentials([d[1], d[2]], "stolen key says so"))
    env.tx(env.issuer, env.reg.functions.revokeBatch(batch.root, "stolen key revokes the batch"))
    env.revoke_issuer_key(env.issuer.address, since)
    managed = send(
        env.w3, ADMIN, env.reg.functions.revokeCredentialsOf(env.issuer.address, [d[2]], "the real reason")
    )

    first = _verify(batch.credentials[0], counting, config)
    assert first.status is Status.revoked and first.status_detail is not None
    assert first.status_detail.reason == "genuine, before the theft"
    assert first.status_detail.transaction == _hex(genuine)

    ignored = _verify(batch.credentials[1], counting, config)
    assert ignored.status is Status.valid and ignored.status_detail is None  # the contract ignores it

    third = _verify(batch.credentials[2], counting, config)
    assert third.status is Status.revoked and third.status_detail is not None
    assert third.status_detail.reason == "the real reason" and third.status_detail.transaction == _hex(
        managed
    )
    assert "stolen" not in third.model_dump_json()


def test_a_stolen_keys_batch_revocation_is_not_the_reason(
    env: Env, batch: Batch, counting: CountingReader, config: VerifyConfig
) -> None:
    since = latest_timestamp(env.w3) + 100
    set_next_block_timestamp(env.w3, since)
    env.tx(env.issuer, env.reg.functions.revokeBatch(batch.root, "stolen key revokes the batch"))
    env.revoke_issuer_key(env.issuer.address, since)
    assert _verify(batch.credentials[0], counting, config).status is Status.valid
    real = send(
        env.w3, ADMIN, env.reg.functions.revokeBatchOf(env.issuer.address, batch.root, "operator: fraud")
    )
    res = _verify(batch.credentials[0], counting, config)
    assert res.status is Status.revoked and res.status_detail is not None
    assert res.status_detail.scope == "batch" and res.status_detail.reason == "operator: fraud"
    assert res.status_detail.transaction == _hex(real)


def test_reasons_are_cleaned_and_replacements_parsed(
    env: Env, batch: Batch, counting: CountingReader, config: VerifyConfig
) -> None:
    new = "0x" + "ab" * 32
    env.tx(
        env.issuer,
        env.reg.functions.revokeCredentials(
            [batch.digests[0]], f"replaced by 0x{new[2:].upper()}: grade corrected"
        ),
    )
    nasty = "\u202eevil\u202c\x07\nline two <script>alert(1)</script>" + "x" * 2000
    env.tx(env.issuer, env.reg.functions.revokeCredentials([batch.digests[1]], nasty))
    a = _verify(batch.credentials[0], counting, config).status_detail
    assert a is not None and a.replaced_by == new and a.replaced_note == "grade corrected"
    b = _verify(batch.credentials[1], counting, config).status_detail
    assert b is not None and b.reason is not None
    assert b.reason.startswith("evil line two <script>alert(1)</script>xxx")
    assert len(b.reason) == MAX_REASON_CHARS and b.reason.endswith("…")
    assert not any(ch in b.reason for ch in "\u202e\u202c\x07\n")


def test_a_bare_digest_gets_the_detail_too(env: Env, anvil: Anvil, tmp_path: Any) -> None:
    from registry.ipfs import LocalStore
    from registry.verify.index import DigestIndex

    store = LocalStore(tmp_path / "store")
    b = anchor_batch(env, [make_credential("Bare")], store=store)
    env.tx(env.issuer, env.reg.functions.revokeCredentials([b.digests[0]], "bare reason"))
    reader = ChainReader(anvil.url, [env.address], staleness=15.0, timeout=5.0)
    try:
        index = DigestIndex(reader, store)
        reader.poll()
        assert index.caught_up()
        config = VerifyConfig(trusted=frozenset({(env.chain_id, env.address)}))
        res = verify_digest(b.digests[0], reader, config, index=index)
        assert res.status is Status.revoked and res.status_detail is not None
        assert res.status_detail.reason == "bare reason"
    finally:
        reader.close()


# -- the pure rule ---------------------------------------------------------------------------------


def _ev(name: str, block: int, reason: str | None = None) -> StatusEvent:
    return StatusEvent(name, block, 0, f"0x{block:064x}", f"0x{block + 1000:064x}", reason)


def _times(*blocks: int) -> dict[str, int]:
    return {f"0x{b:064x}": 1000 + 10 * b for b in blocks}


def test_rule_without_cutoff_the_key_decides() -> None:
    events = (_ev("CredentialSuspended", 1), _ev("CredentialReinstated", 2), _ev("CredentialSuspended", 3))
    h = StatusHistory("credential", events, None, _times(1, 2, 3))
    assert credential_event(h, 2) == events[2]
    assert credential_event(h, 1) is None  # not revoked by these events


def test_rule_key_changes_at_or_after_since_do_not_count() -> None:
    # block 5 is at t=1050 = since: ignored; the key's suspension at t=1010 stands
    events = (_ev("CredentialSuspended", 1), _ev("CredentialReinstated", 5))
    cut = KeyCut(6, 0, since=1050)
    h = StatusHistory("credential", events, cut, _times(1, 5))
    assert credential_event(h, 2) == events[0]


def test_rule_the_managers_change_wins() -> None:
    events = (_ev("CredentialSuspended", 1), _ev("CredentialRevoked", 8, "manager"))
    h = StatusHistory("credential", events, KeyCut(6, 0, since=2000), _times(1, 8))
    assert credential_event(h, 1) == events[1]
    assert credential_event(h, 2) is None


def test_rule_an_unknown_block_time_does_not_count() -> None:
    h = StatusHistory("credential", (_ev("CredentialRevoked", 1, "?"),), KeyCut(6, 0, since=2000), {})
    assert credential_event(h, 1) is None


def test_clean_reason_and_replacement() -> None:
    assert clean_reason("a\u200b\u2066b\u2069\tc\u2028d") == "ab c d"
    assert clean_reason("\x00\x01") is None and clean_reason(None) is None
    digest = "0x" + "0f" * 32
    assert replacement(f"replaced by {digest}") == (digest, None)
    assert replacement(f"Replaced by {digest.upper().replace('0X', '0x')} : new name") == (digest, "new name")
    assert replacement("replaced by 0x1234") == (None, None)
    assert replacement(f"not replaced by {digest}") == (None, None)


def test_detail_cache_keeps_revocations_and_expires_the_rest() -> None:
    from registry.verify.result import StatusDetail

    now = [0.0]
    cache = DetailCache(ttl=5, size=2, clock=lambda: now[0])
    rev = StatusDetail(status="revoked", scope="credential", transaction="0x1", block=1)
    sus = StatusDetail(status="suspended", scope="credential", transaction="0x2", block=2)
    cache.put(("r",), rev)
    cache.put(("s",), sus)
    now[0] = 10
    assert cache.get(("r",)) == (True, rev) and cache.get(("s",)) == (False, None)
    cache.put(("x",), None)
    cache.put(("y",), None)
    assert cache.get(("r",)) == (False, None)  # bounded: the oldest went


def test_registry_verify_prints_when_why_and_the_replacement(
    anvil: Anvil, env: Env, batch: Batch, tmp_path: Any
) -> None:
    import json
    import subprocess
    import sys

    from helpers import newcomer_env
    from verify_helpers import write_json

    new = "0x" + "cd" * 32
    receipt = env.tx(
        env.issuer, env.reg.functions.revokeCredentials([batch.digests[0]], f"replaced by {new}: name fixed")
    )
    f = write_json(tmp_path / "cred.json", batch.credentials[0])
    cli = newcomer_env()
    cli["REGISTRY_DATA_DIR"] = str(tmp_path / ".registry")
    cli["REGISTRY_PUBLIC_URL"] = "https://verify.example.edu"
    cmd = [sys.executable, "-c", "from registry.cli.main import run; run()", "verify", str(f)]
    cmd += ["--rpc-url", anvil.url, "--trusted", env.registry]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=cli)
    assert res.returncode == 1, res.stderr
    when = _tx_time(env, receipt).replace("T", " ").replace("Z", " UTC")
    assert f"revoked on {when}: replaced by {new}: name fixed (transaction {_hex(receipt)}" in res.stdout
    link = f"https://verify.example.edu/v/{new}?issuer={env.issuer.address}"
    assert f"replaced by: {new} — {link}" in res.stdout
    js = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120, env=cli)
    detail = json.loads(js.stdout)["status_detail"]
    assert detail["replaced_by"] == new and detail["replaced_note"] == "name fixed"
    assert detail["at"] == _tx_time(env, receipt)


def test_a_suspended_credential_in_a_revoked_batch_shows_the_batch(
    env: Env, batch: Batch, counting: CountingReader, config: VerifyConfig
) -> None:
    env.suspend([batch.digests[0]])
    receipt = env.tx(env.issuer, env.reg.functions.revokeBatch(batch.root, "whole batch withdrawn"))
    res = _verify(batch.credentials[0], counting, config)
    assert res.status is Status.revoked and res.status_detail is not None
    assert res.status_detail.scope == "batch" and res.status_detail.status == "revoked"
    assert res.status_detail.reason == "whole batch withdrawn" and res.status_detail.transaction == _hex(
        receipt
    )
    assert [s for s, _ in counting.histories] == ["batch"]  # the suspension is not what the verdict says


def test_a_stolen_keys_reinstatement_leaves_the_real_suspension_shown(
    env: Env, batch: Batch, counting: CountingReader, config: VerifyConfig
) -> None:
    since = latest_timestamp(env.w3) + 100
    set_next_block_timestamp(env.w3, since - 1)
    real = env.tx(env.issuer, env.reg.functions.suspendCredentials([batch.digests[0]]))  # the issuer
    set_next_block_timestamp(env.w3, since)
    env.reinstate([batch.digests[0]])  # the thief, at the cut-off second: ignored
    env.revoke_issuer_key(env.issuer.address, since)
    res = _verify(batch.credentials[0], counting, config)
    assert res.status is Status.suspended and res.status_detail is not None
    assert res.status_detail.transaction == _hex(real) and res.status_detail.at == _tx_time(env, real)


def test_status_logs_from_the_node_are_checked() -> None:
    from eth_abi import encode

    from registry.chain.schema import EVENTS, topic_of_address
    from registry.errors import ChainError
    from registry.verify.reader import MAX_REASON_DATA, _status_event

    contract, issuer = "0x" + "11" * 20, "0x" + "22" * 20
    from eth_utils import to_checksum_address

    contract = str(to_checksum_address(contract))

    def entry(reason: str, **over: Any) -> dict[str, Any]:
        e = {
            "address": contract,
            "topics": [EVENTS["CredentialRevoked"].topic, topic_of_address(issuer), "0x" + "33" * 32],
            "data": "0x" + encode(["string"], [reason]).hex(),
            "blockNumber": "0x5",
            "logIndex": "0x1",
            "blockHash": "0x" + "44" * 32,
            "transactionHash": "0x" + "55" * 32,
        }
        e.update(over)
        return e

    ev = _status_event(entry("why"), contract)
    assert (ev.name, ev.block_number, ev.log_index, ev.reason) == ("CredentialRevoked", 5, 1, "why")
    assert _status_event(entry("x" * (MAX_REASON_DATA + 1)), contract).reason == "(a reason too long to show)"
    for bad in (
        entry("why", address="0x" + "66" * 20),  # another contract's log
        {k: v for k, v in entry("why").items() if k != "blockHash"},
        entry("why", topics=["0x" + "77" * 32]),  # an event the registry does not have
        entry("why", data="0xzz"),
        "not a log",
    ):
        with pytest.raises(ChainError):
            _status_event(bad, contract)
