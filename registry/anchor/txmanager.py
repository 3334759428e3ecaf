"""Durable transactions: nonces in the database, raw transaction stored before broadcast.

The life of a transaction:

1. :meth:`TxManager.create` takes the next nonce from the ``accounts`` table, signs an EIP-1559
   transaction with an explicit ``chainId`` and stores the raw bytes, all in one database
   transaction. A crash after this point loses nothing: the raw bytes can be sent again.
2. :meth:`TxManager.broadcast` sends the raw bytes; "already known" and friends are not errors.
3. :meth:`TxManager.check` looks for a receipt of every transaction sharing the nonce (the
   original and its replacements). Not mined and unknown to the node → re-broadcast. Not mined
   after ``tx_timeout`` → replaced with the same nonce and both fee fields raised by at least
   12.5 %, never above the fee cap. The nonce used by a transaction that is not ours → ``lost``.
4. :meth:`TxManager.depth` counts confirmations and notices a reorg that dropped the block.

Keys: the account object signs; its key never reaches a log line, an error or the database.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout
from sqlalchemy import update
from sqlmodel import Session, col, select
from web3 import Web3
from web3.exceptions import (
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)

from registry.chain.schema import TxStatus
from registry.db import Account, Database, Transaction, utcnow
from registry.db.states import TX_LIVE, TxState
from registry.errors import ChainError, ConfigError

log = logging.getLogger("registry.anchor.tx")

GWEI = 10**9
BUMP_NUM, BUMP_DEN = 9, 8  # +12.5 %
LIVE = TX_LIVE  # may still be mined


# every exception meaning "the node cannot be reached right now": web3's own, requests' (the HTTP
# provider; subclasses of OSError, listed to say so) and the OS's (aiohttp's connector errors
# included: they are OSError too)
NODE_DOWN: tuple[type[BaseException], ...] = (
    ChainError, ProviderConnectionError, RequestTimedOut, TimeExhausted,
    RequestsConnectionError, RequestsTimeout, OSError, TimeoutError, ConnectionError,
)  # fmt: skip


def is_node_down(exc: BaseException) -> bool:
    """True for errors that mean "the node cannot be reached right now" (worth waiting for)."""
    return isinstance(exc, NODE_DOWN)


def bump(value: int) -> int:
    """``value`` raised by 12.5 %, rounded up (strictly more than the node's 10 % minimum)."""
    return max(value + 1, math.ceil(value * BUMP_NUM / BUMP_DEN))


@dataclass
class Fees:
    """EIP-1559 fee fields in wei."""

    max_fee: int
    priority_fee: int


@dataclass
class Mined:
    """A transaction of the nonce group was mined."""

    tx: Transaction
    block_number: int
    block_hash: bytes
    status: int
    gas_used: int


@dataclass
class Pending:
    """Nothing mined yet (``tx`` is the newest of the group, maybe a fresh replacement)."""

    tx: Transaction


@dataclass
class Lost:
    """The nonce was consumed by a transaction that is not one of ours."""

    tx: Transaction


def _error_text(exc: BaseException) -> str:
    msg = exc.args[0] if exc.args else exc
    if isinstance(msg, dict):
        msg = msg.get("message", msg)
    return str(msg).lower()


class TxManager:
    """Sends and tracks one account's transactions on one chain, durably."""

    def __init__(
        self,
        db: Database,
        w3: Web3,
        account: LocalAccount,
        chain_id: int,
        *,
        tx_timeout: float = 120.0,
        fee_cap_wei: int = 500 * GWEI,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.w3 = w3
        self.account = account
        self.address: str = account.address
        self.chain_id = chain_id
        self.tx_timeout = tx_timeout
        self.fee_cap = fee_cap_wei
        self.clock = clock  # what "now" is when a transaction's age is judged (tests inject one)

    def __repr__(self) -> str:
        return f"TxManager(address={self.address}, chain_id={self.chain_id})"

    # fees ------------------------------------------------------------------------------------
    def current_fees(self) -> Fees:
        """Fees for a new transaction: 2 x base fee + tip, capped."""
        block = self.w3.eth.get_block("latest")
        base = int(block.get("baseFeePerGas") or 0)
        try:
            tip = int(self.w3.eth.max_priority_fee)
        except Web3RPCError:
            tip = GWEI
        max_fee = min(2 * base + tip, self.fee_cap)
        if max_fee < base:
            raise ConfigError(
                f"fee cap {self.fee_cap / GWEI:g} gwei is below the current base fee {base / GWEI:g} gwei"
            )
        return Fees(max_fee=max_fee, priority_fee=min(tip, max_fee))

    # nonces ----------------------------------------------------------------------------------
    def _take_nonce(self, session: Session) -> int:
        """Next nonce from the database (first use: read once from the chain)."""
        where = (col(Account.chain_id) == self.chain_id) & (col(Account.address) == self.address)
        # UPDATE first: takes the row (PostgreSQL) or database (SQLite) write lock at once.
        res = session.execute(update(Account).where(where).values(next_nonce=Account.next_nonce + 1))
        if res.rowcount:  # type: ignore[attr-defined]
            return int(session.exec(select(Account.next_nonce).where(where)).one()) - 1
        chain_nonce = int(self.w3.eth.get_transaction_count(self.address, "pending"))  # type: ignore[arg-type]
        session.add(Account(chain_id=self.chain_id, address=self.address, next_nonce=chain_nonce + 1))
        session.flush()
        return chain_nonce

    def _resync_nonce(self, session: Session, at_least: int) -> None:
        where = (col(Account.chain_id) == self.chain_id) & (col(Account.address) == self.address)
        acct = session.exec(select(Account).where(where)).one_or_none()
        if acct is not None and acct.next_nonce < at_least:
            acct.next_nonce = at_least
            session.add(acct)

    # signing ---------------------------------------------------------------------------------
    def _sign(self, *, nonce: int, to: str, data: bytes, gas: int, fees: Fees) -> tuple[bytes, bytes]:
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": to,
            "value": 0,
            "data": data,
            "gas": gas,
            "maxFeePerGas": fees.max_fee,
            "maxPriorityFeePerGas": fees.priority_fee,
        }
        signed = self.account.sign_transaction(tx)
        return bytes(signed.raw_transaction), bytes(signed.hash)

    def create(
        self,
        *,
        kind: str,
        to: str,
        data: bytes,
        gas: int,
        batch_id: int | None = None,
        revocation_id: int | None = None,
        on_stored: Callable[[Session, Transaction], None] | None = None,
    ) -> Transaction:
        """Take a nonce, sign and store the transaction (not yet broadcast), in one DB commit.

        ``on_stored(session, tx)`` runs inside the same database transaction, so a caller can
        move its own state (a batch to ``submitted``) atomically with the stored transaction.
        """
        fees = self.current_fees()
        with self.db.session() as session:
            nonce = self._take_nonce(session)
            raw, tx_hash = self._sign(nonce=nonce, to=to, data=data, gas=gas, fees=fees)
            tx = Transaction(
                chain_id=self.chain_id,
                sender=self.address,
                nonce=nonce,
                kind=kind,
                to_address=to,
                data=data,
                batch_id=batch_id,
                revocation_id=revocation_id,
                tx_hash=tx_hash,
                raw=raw,
                gas=gas,
                max_fee=fees.max_fee,
                priority_fee=fees.priority_fee,
                status=TxState.SIGNED,
                created_at=utcnow(),
            )
            session.add(tx)
            session.flush()
            if on_stored is not None:
                on_stored(session, tx)
            session.commit()
        log.info("signed %s tx 0x%s nonce %d", kind, tx_hash.hex(), nonce)
        return tx

    # broadcasting ----------------------------------------------------------------------------
    def broadcast(self, tx: Transaction) -> None:
        """Send the stored raw bytes; a node that already has them is fine."""
        try:
            self.w3.eth.send_raw_transaction(tx.raw)
        except Web3RPCError as exc:
            text = _error_text(exc)
            if "already known" in text or "already imported" in text or "known transaction" in text:
                pass
            elif "nonce too low" in text or "underpriced" in text or "nonce" in text:
                # mined already, or a twin with the same nonce is in the pool: check() decides.
                log.info("broadcast of 0x%s: %s", tx.tx_hash.hex(), text[:200])
            else:
                raise ChainError(f"node refused transaction 0x{tx.tx_hash.hex()}: {text[:300]}") from None
        with self.db.session() as session:
            row = session.get(Transaction, tx.id)
            assert row is not None
            if row.status == TxState.SIGNED:
                row.status = TxState.BROADCAST
            if row.broadcast_at is None:
                row.broadcast_at = utcnow()
            session.add(row)
            session.commit()
            tx.status, tx.broadcast_at = row.status, row.broadcast_at

    def _known_to_node(self, tx: Transaction) -> bool:
        try:
            self.w3.eth.get_transaction(tx.tx_hash)  # type: ignore[arg-type]
            return True
        except TransactionNotFound:
            return False

    # tracking --------------------------------------------------------------------------------
    def group(self, session: Session, tx: Transaction) -> list[Transaction]:
        """Every transaction of ours with the nonce of ``tx``, oldest first."""
        return list(
            session.exec(
                select(Transaction)
                .where(
                    Transaction.chain_id == tx.chain_id,
                    Transaction.sender == tx.sender,
                    Transaction.nonce == tx.nonce,
                )
                .order_by(col(Transaction.id))
            ).all()
        )

    def _receipt(self, tx_hash: bytes) -> Any:
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    def check(self, tx: Transaction) -> Mined | Pending | Lost:
        """Where the nonce group of ``tx`` stands; re-broadcasts and replaces as needed."""
        with self.db.session() as session:
            members = self.group(session, tx)
        for m in members:
            if m.status == TxState.DROPPED:
                continue
            receipt = self._receipt(m.tx_hash)
            if receipt is not None:
                mined = Mined(
                    tx=m,
                    block_number=int(receipt["blockNumber"]),
                    block_hash=bytes(receipt["blockHash"]),
                    status=int(receipt["status"]),
                    gas_used=int(receipt["gasUsed"]),
                )
                self._record_mined(mined, members)
                return mined
        latest = members[-1]
        chain_nonce = int(self.w3.eth.get_transaction_count(self.address, "latest"))  # type: ignore[arg-type]
        if chain_nonce > latest.nonce:
            # nonce consumed, but by none of our hashes (checked above; receipts can lag a block)
            receipt = None
            for m in members:
                receipt = self._receipt(m.tx_hash)
                if receipt is not None:
                    return self.check(tx)
            if any(m.status != TxState.SIGNED and self._known_to_node(m) for m in members):
                # the node holds one of ours: it took the nonce, its receipt is not served yet
                # (anvil, a block of ~27M gas: the account's nonce moves before the receipt shows)
                return Pending(latest)
            self._mark_group(members, TxState.DROPPED, error="nonce used by another transaction")
            with self.db.session() as session:
                self._resync_nonce(session, chain_nonce)
                session.commit()
            log.warning("nonce %d of %s was used by a foreign transaction", latest.nonce, self.address)
            return Lost(latest)
        if latest.status == TxState.SIGNED or not self._known_to_node(latest):
            if latest.status != TxState.SIGNED:
                log.info("node does not know tx 0x%s; broadcasting it again", latest.tx_hash.hex())
            self.broadcast(latest)
        elif latest.broadcast_at is not None and self._age(latest) > self.tx_timeout:
            replacement = self._replace(latest)
            if replacement is not None:
                return Pending(replacement)
        return Pending(latest)

    def _age(self, tx: Transaction) -> float:
        assert tx.broadcast_at is not None
        sent = tx.broadcast_at
        if sent.tzinfo is None:
            from datetime import UTC

            sent = sent.replace(tzinfo=UTC)
        return (self.clock() - sent).total_seconds()

    def _replace(self, old: Transaction) -> Transaction | None:
        """Same nonce, both fee fields up by at least 12.5 % (never past the cap)."""
        now = self.current_fees()
        priority = max(bump(old.priority_fee), now.priority_fee)
        max_fee = max(bump(old.max_fee), now.max_fee, priority)
        if max_fee > self.fee_cap:
            max_fee = self.fee_cap
            priority = min(priority, max_fee)
        if max_fee < bump(old.max_fee) or priority < bump(old.priority_fee):
            log.warning(
                "tx 0x%s stuck for %.0fs but the fee cap (%g gwei) allows no further bump; waiting",
                old.tx_hash.hex(),
                self._age(old),
                self.fee_cap / GWEI,
            )
            # restart the clock so this line is not printed on every poll
            with self.db.session() as session:
                session.execute(
                    update(Transaction).where(col(Transaction.id) == old.id).values(broadcast_at=utcnow())
                )
                session.commit()
            old.broadcast_at = utcnow()
            return None
        fees = Fees(max_fee=max_fee, priority_fee=priority)
        raw, tx_hash = self._sign(nonce=old.nonce, to=old.to_address, data=old.data, gas=old.gas, fees=fees)
        with self.db.session() as session:
            new = Transaction(
                chain_id=old.chain_id,
                sender=old.sender,
                nonce=old.nonce,
                kind=old.kind,
                to_address=old.to_address,
                data=old.data,
                batch_id=old.batch_id,
                revocation_id=old.revocation_id,
                tx_hash=tx_hash,
                raw=raw,
                gas=old.gas,
                max_fee=fees.max_fee,
                priority_fee=fees.priority_fee,
                status=TxState.SIGNED,
                replaces_id=old.id,
                created_at=utcnow(),
            )
            session.add(new)
            session.execute(
                update(Transaction).where(col(Transaction.id) == old.id).values(status=TxState.REPLACED)
            )
            session.flush()
            self._repoint(session, old, new)
            session.commit()
        log.warning(
            "tx 0x%s not mined after %.0fs; replaced by 0x%s (nonce %d, max fee %g -> %g gwei)",
            old.tx_hash.hex(),
            self._age(old),
            tx_hash.hex(),
            old.nonce,
            old.max_fee / GWEI,
            fees.max_fee / GWEI,
        )
        self.broadcast(new)
        return new

    @staticmethod
    def _repoint(session: Session, old: Transaction, new: Transaction) -> None:
        from registry.db import Batch, Revocation

        if old.batch_id is not None:
            session.execute(update(Batch).where(col(Batch.id) == old.batch_id).values(tx_id=new.id))
        if old.revocation_id is not None:
            session.execute(
                update(Revocation).where(col(Revocation.id) == old.revocation_id).values(tx_id=new.id)
            )

    def _mark_group(self, members: list[Transaction], status: TxState, *, error: str | None = None) -> None:
        with self.db.session() as session:
            ids = [m.id for m in members if m.status in LIVE]
            if ids:
                session.execute(
                    update(Transaction).where(col(Transaction.id).in_(ids)).values(status=status, error=error)
                )
                session.commit()

    def _record_mined(self, mined: Mined, members: list[Transaction]) -> None:
        with self.db.session() as session:
            others = [m.id for m in members if m.id != mined.tx.id and m.status in LIVE]
            if others:
                session.execute(
                    update(Transaction).where(col(Transaction.id).in_(others)).values(status=TxState.DROPPED)
                )
            session.execute(
                update(Transaction)
                .where(col(Transaction.id) == mined.tx.id)
                .values(
                    status=TxState.MINED if mined.status == TxStatus.success else TxState.FAILED,
                    block_number=mined.block_number,
                    block_hash=mined.block_hash,
                    gas_used=mined.gas_used,
                )
            )
            self._repoint(session, mined.tx, mined.tx)
            session.commit()

    def depth(self, tx_hash: bytes, block_hash: bytes) -> int | None:
        """Confirmations of a mined transaction (1 = in the head block); ``None`` after a reorg.

        A reorg is: no receipt any more, or a receipt in another block than the one recorded.
        """
        receipt = self._receipt(tx_hash)
        if receipt is None or bytes(receipt["blockHash"]) != block_hash:
            return None
        head = int(self.w3.eth.block_number)
        return head - int(receipt["blockNumber"]) + 1

    def reopen(self, tx: Transaction) -> None:
        """After a reorg dropped its block: the transaction is pending again, send it again."""
        with self.db.session() as session:
            session.execute(
                update(Transaction)
                .where(col(Transaction.id) == tx.id)
                .values(status=TxState.BROADCAST, block_number=None, block_hash=None, gas_used=None)
            )
            session.commit()
        tx.status = TxState.BROADCAST
        self.broadcast(tx)

    def wait_mined(self, tx: Transaction, *, poll: float = 0.2, timeout: float | None = None) -> Mined | Lost:
        """Poll :meth:`check` until mined or lost (node errors propagate to the caller)."""
        start = time.monotonic()
        while True:
            res = self.check(tx)
            if isinstance(res, Mined | Lost):
                return res
            tx = res.tx
            if timeout is not None and time.monotonic() - start > timeout:
                raise ChainError(f"transaction 0x{tx.tx_hash.hex()} not mined after {timeout:.0f}s")
            time.sleep(poll)
