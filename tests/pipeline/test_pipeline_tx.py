"""Durable transactions against a real anvil: stored before broadcast, DB nonces, replacement."""

from __future__ import annotations

import os

import pytest
from helpers import SteppedClock
from hexbytes import HexBytes
from pipeline_kit import Chain
from sqlalchemy import select
from web3.exceptions import TransactionNotFound

from registry.anchor.txmanager import GWEI, Lost, Mined, Pending, TxManager, bump
from registry.chain.tx import send
from registry.db import Account, Transaction, open_database


def _anchor_data(chain: Chain, seed: int | None = None) -> bytes:
    root = os.urandom(32) if seed is None else seed.to_bytes(32, "big")
    return bytes.fromhex(chain.registry.contract.encode_abi("anchor", args=[root, 1, "bafk-test"])[2:])


def _manager(chain: Chain, db_url: str, **kw: object) -> TxManager:
    db = open_database(db_url)
    return TxManager(db, chain.w3, chain.issuer, int(chain.w3.eth.chain_id), **kw)  # type: ignore[arg-type]


def test_raw_tx_is_stored_before_broadcast_and_sent_later(chain: Chain, db_url: str) -> None:
    txm = _manager(chain, db_url)
    tx = txm.create(kind="anchor", to=chain.registry.address, data=_anchor_data(chain), gas=200_000)
    with txm.db.session() as s:
        row = s.get(Transaction, tx.id)
    assert row is not None and row.status == "signed" and row.raw and row.tx_hash == tx.tx_hash
    with pytest.raises(TransactionNotFound):  # nothing sent yet
        chain.w3.eth.get_transaction(HexBytes(tx.tx_hash))
    res = txm.check(tx)  # a "restart": the stored raw bytes are broadcast
    if isinstance(res, Pending):
        res = txm.wait_mined(tx, timeout=30)
    assert isinstance(res, Mined) and res.status == 1
    assert chain.w3.eth.get_transaction(HexBytes(tx.tx_hash))["nonce"] == tx.nonce
    fetched = chain.w3.eth.get_transaction(HexBytes(tx.tx_hash))
    assert fetched["chainId"] == chain.w3.eth.chain_id and fetched["type"] == 2


def test_nonces_come_from_the_database(chain: Chain, db_url: str) -> None:
    txm = _manager(chain, db_url)
    start = chain.w3.eth.get_transaction_count(chain.issuer.address)
    txs = [
        txm.create(kind="anchor", to=chain.registry.address, data=_anchor_data(chain), gas=200_000)
        for _ in range(3)
    ]
    assert [t.nonce for t in txs] == [start, start + 1, start + 2]
    with txm.db.session() as s:
        acct = s.scalars(select(Account)).one()
    assert acct.next_nonce == start + 3
    for t in reversed(txs):  # out of order: the node holds the later ones until the gap closes
        txm.broadcast(t)
    for t in txs:
        res = txm.wait_mined(t, timeout=30)
        assert isinstance(res, Mined) and res.status == 1
    assert chain.w3.eth.get_transaction_count(chain.issuer.address) == start + 3


def test_stuck_tx_is_replaced_with_bumped_fees(chain: Chain, db_url: str) -> None:
    chain.rpc("evm_setAutomine", False)
    clock = SteppedClock()
    txm = _manager(chain, db_url, tx_timeout=0.2, clock=clock)
    tx = txm.create(kind="anchor", to=chain.registry.address, data=_anchor_data(chain), gas=200_000)
    txm.broadcast(tx)
    clock.advance(0.4)
    res = txm.check(tx)
    assert isinstance(res, Pending) and res.tx.id != tx.id
    new = res.tx
    assert new.nonce == tx.nonce
    assert new.max_fee >= tx.max_fee * 1.125 and new.priority_fee >= tx.priority_fee * 1.125
    chain.rpc("evm_mine")
    mined = txm.check(tx)
    assert isinstance(mined, Mined) and mined.tx.tx_hash == new.tx_hash
    with txm.db.session() as s:
        old = s.get(Transaction, tx.id)
    assert old is not None and old.status == "dropped"
    with pytest.raises(TransactionNotFound):
        chain.w3.eth.get_transaction_receipt(HexBytes(tx.tx_hash))


def test_fee_cap_stops_the_bumping(chain: Chain, db_url: str) -> None:
    chain.rpc("evm_setAutomine", False)
    probe = _manager(chain, db_url)
    cap = probe.current_fees().max_fee + 1  # no room for a 12.5 % bump
    clock = SteppedClock()
    txm = TxManager(
        probe.db, chain.w3, chain.issuer, probe.chain_id, tx_timeout=0.2, fee_cap_wei=cap, clock=clock
    )
    tx = txm.create(kind="anchor", to=chain.registry.address, data=_anchor_data(chain), gas=200_000)
    txm.broadcast(tx)
    clock.advance(0.4)
    res = txm.check(tx)
    assert isinstance(res, Pending) and res.tx.id == tx.id
    with txm.db.session() as s:
        assert len(s.scalars(select(Transaction)).all()) == 1
    chain.rpc("evm_mine")
    assert isinstance(txm.check(tx), Mined)


def test_nonce_taken_by_a_foreign_tx_is_reported_lost(chain: Chain, db_url: str) -> None:
    txm = _manager(chain, db_url)
    tx = txm.create(kind="anchor", to=chain.registry.address, data=_anchor_data(chain), gas=200_000)
    # the same key used elsewhere (e.g. by hand) takes that nonce first
    send(chain.w3, chain.issuer, chain.registry.functions.anchor(os.urandom(32), 1, "bafk-other"))
    res = txm.check(tx)
    assert isinstance(res, Lost)
    with txm.db.session() as s:
        row = s.get(Transaction, tx.id)
        acct = s.scalars(select(Account)).one()
    assert row is not None and row.status == "dropped"
    assert acct.next_nonce == chain.w3.eth.get_transaction_count(chain.issuer.address)


def test_depth_notices_a_reorg(chain: Chain, db_url: str) -> None:
    txm = _manager(chain, db_url)
    snap = chain.rpc("evm_snapshot")
    tx = txm.create(kind="anchor", to=chain.registry.address, data=_anchor_data(chain), gas=200_000)
    txm.broadcast(tx)
    res = txm.wait_mined(tx, timeout=30)
    assert isinstance(res, Mined)
    assert txm.depth(tx.tx_hash, res.block_hash) == 1
    chain.rpc("evm_mine")
    assert txm.depth(tx.tx_hash, res.block_hash) == 2
    chain.rpc("evm_revert", snap)
    assert txm.depth(tx.tx_hash, res.block_hash) is None


def test_bump_is_at_least_twelve_and_a_half_percent() -> None:
    for v in (1, 7, 8, 1_000_000_007, 3 * GWEI):
        assert bump(v) * 8 >= v * 9 and bump(v) > v
