"""The anchoring pipeline: seal → pin manifest → sign → broadcast → mined → confirmed → proofs.

Every step reads its input from the database and commits its result before the next one starts,
so a process killed anywhere resumes where it stopped when run again (see ``crash.py`` for the
named crash points the tests use). A batch moves through::

    sealed ─ pin manifest ─> pinned ─ sign+store tx ─> submitted ─ receipt ─> mined
    mined ("anchored, not final") ─ block final, root on chain ─> confirmed ─ proof files ─> done
    mined ─ block gone (reorg) ─> submitted (same raw tx sent again)
    done ─ block gone (reorg; only possible under the depth rule) ─> proofs withdrawn ─> submitted
    submitted ─ nonce taken by a foreign tx ─> pinned (new tx)

Final means at or below the node's ``finalized`` block, or ``confirmations`` deep for a node
without that tag (``registry.chain.finality``); no proof file is written before. Every run starts
with :meth:`Pipeline.reconcile`, which re-checks done batches the chain could still revert.

Before signing, the chain is asked whether it already holds the root for this issuer; if so the
batch is adopted from the ``BatchAnchored`` event instead of being sent twice.

No failure strands a batch. When a step fails for a reason other than an unreachable node (the
registry refuses the anchor, e.g. ``NotActiveIssuer`` while the issuer is suspended; the
transaction reverts on chain; the manifest cannot be pinned), the batch stays in its open state
(``sealed`` or ``pinned``), the error is recorded on it (``last_error``, ``last_error_at``,
``failures``), the run goes on with the other batches, and the report lists it. A later run, or
``--watch`` after a back-off, retries it from its state: a root already on chain for this issuer
is adopted, so a retry never anchors a credential twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import select, update
from sqlmodel import col
from web3 import Web3

from registry.anchor.crash import crash_point, pause_point
from registry.anchor.txmanager import GWEI, Lost, Mined, TxManager, is_node_down
from registry.chain.contract import RegistryContract, decode_revert, is_revert
from registry.chain.finality import FinalityRule, FinalityView, is_final, read_view, resolve_rule
from registry.chain.schema import TxStatus
from registry.core.anchor_suite import BatchEncoder, decode_anchor_proof
from registry.core.formats import Manifest, attach_proof, format_registry
from registry.core.merkle import MerkleTree
from registry.db import Batch, Database, Transaction, utcnow
from registry.db.models import batches_table, credentials_table
from registry.db.states import BATCH_OPEN, BatchState, CredentialState, TxKind, TxState
from registry.errors import ChainError, ContractRevert, ErrorCode, RegistryError
from registry.ipfs.local import sync_filesystem

log = logging.getLogger("registry.anchor")

OPEN = BATCH_OPEN  # the batch states the pipeline still works on
BATCH_STATES = {state.value: state.describe for state in BatchState}  # `registry status` words
BATCH_ALREADY_ANCHORED = "BatchAlreadyAnchored"  # the registry's custom error for a root it holds
RETRY_BACKOFF = (5.0, 600.0)  # --watch: first and longest wait before a failed batch is retried
PROOF_WRITERS = 1  # one thread creating files while this one builds them: more contend in the kernel
PROOF_GROUP = 256  # proof files per write task
RECONCILE_INTERVAL = 10.0  # seconds between reconciliations in --watch
RECHECK_BLOCKS = 256  # depth rule: done batches this close to the head are re-checked for reorgs


@dataclass
class PipelineConfig:
    """Knobs of the pipeline (from the settings, or explicit in tests and the bench)."""

    output_dir: Path
    batch_size: int = 10_000
    max_wait: float = 60.0
    confirmations: int = 1
    finality: str = "depth"  # "finalized", "depth" or "auto" (settings default: auto)
    poll_interval: float = 0.25
    node_timeout: float | None = None  # give up after this long without a node (None: never)
    start_block: int = 0  # the registry's deployment block: event scans start there
    proof_files: str = "each"  # "each": 0x<digest>.json per credential; "batch": one JSON Lines file


@dataclass
class AnchorReport:
    """What one run did."""

    sealed: int = 0
    anchored_batches: list[dict[str, Any]] = field(default_factory=list)
    credentials: int = 0
    transactions: int = 0
    gas_used: int = 0
    failed_batches: dict[int, dict[str, Any]] = field(default_factory=dict)  # batch id -> its failure

    def to_json(self) -> dict[str, Any]:
        """JSON summary."""
        return {
            "batches_sealed": self.sealed,
            "batches_anchored": len(self.anchored_batches),
            "credentials_anchored": self.credentials,
            "transactions_sent": self.transactions,
            "gas_used": self.gas_used,
            "batches": self.anchored_batches,
            "batches_failed": list(self.failed_batches.values()),
        }


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _rfc3339(d: datetime) -> str:
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _QueueChanged(Exception):
    """Fewer credentials were still queued than the sealer read (a discard won the race)."""


class Pipeline:
    """One issuer's anchoring pipeline on one registry contract."""

    def __init__(
        self,
        db: Database,
        store: Any,
        w3: Web3,
        account: LocalAccount,
        contract: RegistryContract,
        config: PipelineConfig,
        *,
        chain_id: int | None = None,
        tx_timeout: float = 120.0,
        fee_cap_wei: int = 500 * GWEI,
        say: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
        rpc_label: str = "the chain node",
    ) -> None:
        self.db = db
        self.store = store
        self.w3 = w3
        self.account = account
        self.address: str = account.address
        self.contract = contract
        self.cfg = config
        self.chain_id = chain_id if chain_id is not None else int(w3.eth.chain_id)
        self.registry_ref = format_registry(self.chain_id, contract.address)
        self.txm = TxManager(db, w3, account, self.chain_id, tx_timeout=tx_timeout, fee_cap_wei=fee_cap_wei)
        self.say = say or (lambda msg: log.info("%s", msg))
        self.stop = stop or threading.Event()
        self.rpc_label = rpc_label
        self.report = AnchorReport()
        self._down_since: float | None = None
        self._last_down_msg = 0.0
        self._rule: FinalityRule | None = None
        self._view: FinalityView | None = None  # head and finalized block, read once per round
        self._told_not_final: set[int] = set()
        self._parked: dict[int, float] = {}  # failed batch id -> monotonic time it may be retried
        self._failures_in_run: dict[int, int] = {}
        self.after_round: Callable[[], bool] | None = None  # --watch: e.g. status list publication
        self.keepsakes: Any = None  # a registry.anchor.keepsakes.KeepsakeWriter (--pdf, --badge, --qr)

    def __repr__(self) -> str:
        return f"Pipeline(issuer={self.address}, registry={self.registry_ref})"

    # ---------------------------------------------------------------------------------------
    # sealing

    def queued_count(self) -> int:
        """Credentials waiting for a batch."""
        from sqlalchemy import func

        t = credentials_table
        with self.db.engine.connect() as conn:
            queued = select(func.count()).where(t.c.status == CredentialState.QUEUED)
            return int(conn.execute(queued).scalar() or 0)

    def _oldest_wait(self) -> float | None:
        from sqlalchemy import func

        t = credentials_table
        with self.db.engine.connect() as conn:
            first = select(func.min(t.c.queued_at)).where(t.c.status == CredentialState.QUEUED)
            oldest = conn.execute(first).scalar()
        if oldest is None:
            return None
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return (utcnow() - oldest).total_seconds()

    def seal(self, *, force: bool) -> list[int]:
        """Seal queued credentials into batches of at most ``batch_size``.

        Full batches always; a partial one when ``force`` or its oldest credential waited
        ``max_wait`` seconds. Returns the new batch ids.
        """
        made: list[int] = []
        t = credentials_table
        while not self.stop.is_set():
            with self.db.engine.connect() as conn:
                rows = conn.execute(
                    select(t.c.id, t.c.digest)
                    .where(t.c.status == CredentialState.QUEUED)
                    .order_by(t.c.id)
                    .limit(self.cfg.batch_size)
                ).all()
            if not rows:
                break
            if len(rows) < self.cfg.batch_size and not force:
                waited = self._oldest_wait()
                if waited is None or waited < self.cfg.max_wait:
                    break
            digests = [bytes(r[1]) for r in rows]
            tree = MerkleTree.build(digests)
            pause_point("before-seal")
            try:
                batch_id = self._seal_rows(rows, tree)
            except _QueueChanged:  # `registry discard` dropped some of them meanwhile: read again
                self.say("queued credentials changed while sealing (discarded?); sealing again")
                continue
            made.append(int(batch_id))
            self.report.sealed += 1
            self.say(f"sealed batch {batch_id}: {len(rows)} credentials, root 0x{tree.root.hex()}")
            crash_point("after-seal")
        return made

    def _seal_rows(self, rows: Any, tree: MerkleTree) -> int:
        """Insert the batch and move ``rows`` into it in one transaction (all still queued, or
        nothing: :class:`_QueueChanged`)."""
        t = credentials_table
        with self.db.begin() as conn:
            batch_id = conn.execute(
                batches_table.insert().values(
                    root=tree.root,
                    count=len(rows),
                    status=BatchState.SEALED,
                    issuer=self.address,
                    registry_ref=self.registry_ref,
                    sealed_at=utcnow(),
                    attempts=0,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            first, last = int(rows[0][0]), int(rows[-1][0])
            if last - first + 1 == len(rows):  # consecutive ids (the usual case): one statement
                res = conn.execute(
                    t.update()
                    .where(t.c.id >= first, t.c.id <= last, t.c.status == CredentialState.QUEUED)
                    .values(batch_id=batch_id, leaf_index=t.c.id - first, status=CredentialState.SEALED)
                )
            else:
                res = conn.execute(
                    t.update()
                    .where(t.c.id == _bind("b_id"), t.c.status == CredentialState.QUEUED)
                    .values(batch_id=batch_id, leaf_index=_bind("b_leaf"), status=CredentialState.SEALED),
                    [{"b_id": r[0], "b_leaf": i} for i, r in enumerate(rows)],
                )
            if res.rowcount != len(rows):
                raise _QueueChanged  # rolls the batch back
        return int(batch_id)

    # ---------------------------------------------------------------------------------------
    # batch steps

    def _batch(self, batch_id: int) -> Batch:
        with self.db.session() as s:
            b = s.get(Batch, batch_id)
            assert b is not None
            return b

    def _set(self, batch_id: int, **values: Any) -> None:
        with self.db.begin() as conn:
            conn.execute(batches_table.update().where(batches_table.c.id == batch_id).values(**values))

    def _tree(self, batch: Batch) -> MerkleTree:
        t = credentials_table
        with self.db.engine.connect() as conn:
            digests = [
                bytes(r[0])
                for r in conn.execute(
                    select(t.c.digest).where(t.c.batch_id == batch.id).order_by(t.c.leaf_index)
                ).all()
            ]
        tree = MerkleTree.build(digests)
        if tree.root != batch.root or len(digests) != batch.count:
            raise RegistryError(
                f"batch {batch.id}: stored credentials no longer give its root", code=ErrorCode.CORRUPT
            )
        return tree

    def open_batches(self) -> list[Batch]:
        """Batches not finished yet, oldest first."""
        with self.db.session() as s:
            return list(s.scalars(select(Batch).where(col(Batch.status).in_(OPEN)).order_by(col(Batch.id))))

    def step(self, batch: Batch) -> bool:
        """Run the next step of ``batch``; True when it moved (False: waiting on the chain)."""
        handler = {
            BatchState.SEALED: self._pin_manifest,
            BatchState.PINNED: self._submit,
            BatchState.SUBMITTED: self._await_mined,
            BatchState.MINED: self._await_confirmed,
            BatchState.CONFIRMED: self._write_proofs,
        }[BatchState(batch.status)]
        return handler(batch)

    def _pin_manifest(self, batch: Batch) -> bool:
        tree = self._tree(batch)
        manifest = Manifest.from_tree(self.registry_ref, self.address, tree)
        cid = self.store.put(manifest.to_bytes())
        self.store.pin(cid)
        self._set(batch.id, status=BatchState.PINNED, manifest_cid=cid)  # type: ignore[arg-type]
        self.say(f"batch {batch.id}: manifest pinned as {cid}")
        crash_point("after-pin")
        return True

    def _chain_batch(self, root: bytes) -> Any:
        """This issuer's batch record for ``root`` on chain (``.exists`` false when unknown)."""
        return self.contract.batch(self.address, root)

    def _fn(self, batch: Batch) -> Any:
        return self.contract.functions.anchor(batch.root, batch.count, batch.manifest_cid)

    def _submit(self, batch: Batch) -> bool:
        info = self._chain_batch(batch.root)
        if info.exists:
            return self._adopt(batch, info.issuer)
        fn = self._fn(batch)
        try:
            gas = int(fn.estimate_gas({"from": self.address}))
        except Exception as exc:
            if not is_revert(exc):
                raise
            err = decode_revert(exc)
            if err.error_name == BATCH_ALREADY_ANCHORED:
                return self._adopt(batch, self._chain_batch(batch.root).issuer)
            raise ContractRevert(
                f"batch {batch.id}: the registry refuses the anchor: {err.message}",
                error=err.error_name,
            ) from None
        data = bytes.fromhex(
            self.contract.contract.encode_abi("anchor", args=[batch.root, batch.count, batch.manifest_cid])[
                2:
            ]
        )

        def stored(session: Any, tx: Transaction) -> None:
            session.execute(
                update(Batch)
                .where(col(Batch.id) == batch.id)
                .values(
                    status=BatchState.SUBMITTED, tx_id=tx.id, tx_hash=tx.tx_hash, attempts=Batch.attempts + 1
                )
            )

        tx = self.txm.create(
            kind=TxKind.ANCHOR,
            to=self.contract.address,
            data=data,
            gas=gas + gas // 5 + 5_000,
            batch_id=batch.id,
            on_stored=stored,
        )
        self.report.transactions += 1
        crash_point("after-sign")
        self.txm.broadcast(tx)
        self.say(f"batch {batch.id}: anchor tx 0x{tx.tx_hash.hex()} sent (nonce {tx.nonce})")
        crash_point("after-broadcast")
        return True

    def _adopt(self, batch: Batch, issuer: str) -> bool:
        """The chain already holds this issuer's batch with this root: take the anchor from its
        event (this issuer's, never another issuer's copy of the root), never send twice."""
        if issuer != self.address:  # cannot happen with per-issuer batches; kept as a guard
            raise RegistryError(
                f"batch {batch.id}: root 0x{batch.root.hex()} is anchored by another issuer ({issuer}); "
                "the batch stays open and is retried",
                code=ErrorCode.ROOT_TAKEN,
            )
        logs = self.contract.anchor_events(self.address, batch.root, self.cfg.start_block)
        if not logs:
            return False  # state visible but the event not yet: look again on the next round
        ev = logs[-1]
        self._set(
            batch.id,  # type: ignore[arg-type]
            status=BatchState.MINED,
            tx_hash=bytes.fromhex(ev.transaction_hash[2:]),
            block_number=ev.block_number,
            block_hash=bytes.fromhex(ev.block_hash[2:]),
            manifest_cid=batch.manifest_cid or ev.args["manifestCid"],
        )
        self.say(
            f"batch {batch.id}: root already on chain (block {ev.block_number}); adopted, not sent again"
        )
        return True

    def _await_mined(self, batch: Batch) -> bool:
        with self.db.session() as s:
            tx = s.get(Transaction, batch.tx_id)
        if tx is None:
            self._set(batch.id, status=BatchState.PINNED)  # type: ignore[arg-type]
            return True
        res = self.txm.check(tx)
        if isinstance(res, Lost):
            self.say(f"batch {batch.id}: nonce {tx.nonce} was used by another transaction; re-sending")
            self._set(batch.id, status=BatchState.PINNED, tx_id=None, tx_hash=None)  # type: ignore[arg-type]
            return True
        if not isinstance(res, Mined):
            if res.tx.id != tx.id:
                self._set(batch.id, tx_id=res.tx.id, tx_hash=res.tx.tx_hash)  # type: ignore[arg-type]
            return False
        if res.status != TxStatus.success:
            info = self._chain_batch(batch.root)
            if info.exists:
                return self._adopt(batch, info.issuer)
            issuer = self.contract.issuer(self.address)
            # back to pinned: the next attempt estimates first (and sends only what can succeed)
            self._set(batch.id, status=BatchState.PINNED, tx_id=None, tx_hash=None)  # type: ignore[arg-type]
            raise ContractRevert(
                f"batch {batch.id}: anchor tx 0x{res.tx.tx_hash.hex()} reverted in block {res.block_number} "
                f"(issuer status {issuer.status_name}, attempt {batch.attempts}); the batch stays open "
                "and is retried",
                error="reverted",
            )
        self._set(
            batch.id,  # type: ignore[arg-type]
            status=BatchState.MINED,
            tx_id=res.tx.id,
            tx_hash=res.tx.tx_hash,
            block_number=res.block_number,
            block_hash=res.block_hash,
        )
        self.report.gas_used += res.gas_used
        self.say(f"batch {batch.id}: mined in block {res.block_number} ({res.gas_used} gas)")
        crash_point("after-mined")
        return True

    # ---------------------------------------------------------------------------------------
    # finality

    @property
    def rule(self) -> FinalityRule:
        """The finality rule in force (``auto`` resolved against the node once)."""
        if self._rule is None:
            self._rule = resolve_rule(self.cfg.finality, self.w3)
        return self._rule

    def finality_view(self, *, fresh: bool = False) -> FinalityView:
        """Head and finalized block (cached for one round of :meth:`advance_all`)."""
        if self._view is None or fresh:
            self._view = read_view(self.w3, self.rule, self.cfg.confirmations)
        return self._view

    def _canonical(self, batch: Batch) -> bool:
        """True while the anchoring transaction is in the block recorded for the batch."""
        assert batch.tx_hash is not None and batch.block_hash is not None
        receipt = self.txm._receipt(batch.tx_hash)
        return receipt is not None and bytes(receipt["blockHash"]) == batch.block_hash

    def _reorged(self, batch: Batch, *, was_done: bool = False) -> bool:
        """A reorg removed the anchoring block: send the same signed transaction again.

        ``TxManager.check`` later finds it mined (again), re-broadcasts it, or notices that its
        nonce went to another transaction and the batch is anchored anew; root adoption still
        prevents a second anchor. Proof files already written are withdrawn: they name a
        transaction the chain no longer has; they are written again once the batch is final.
        """
        self.say(
            f"batch {batch.id}: block {batch.block_number} with its anchor is no longer on the chain "
            "(reorg); sending the batch again"
        )
        with self.db.session() as s:
            tx = s.get(Transaction, batch.tx_id) if batch.tx_id is not None else None
        if was_done:
            self._withdraw_proofs(batch)
        cleared: dict[str, Any] = {"block_number": None, "block_hash": None, "anchored_at": None}
        if tx is None:
            self._set(batch.id, status=BatchState.PINNED, tx_hash=None, **cleared)  # type: ignore[arg-type]
        else:
            self._set(batch.id, status=BatchState.SUBMITTED, **cleared)  # type: ignore[arg-type]
            self.txm.reopen(tx)
        crash_point("after-reorg")
        return True

    def _withdraw_proofs(self, batch: Batch) -> None:
        """Credentials of a batch back to ``sealed``; their proof files removed."""
        t = credentials_table
        with self.db.engine.connect() as conn:
            digests = [bytes(r[0]) for r in conn.execute(select(t.c.digest).where(t.c.batch_id == batch.id))]
        from registry.anchor import copies

        with self.db.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.batch_id == batch.id)
                .values(status=CredentialState.SEALED, anchored_at=None)
            )
            conn.execute(
                batches_table.update()
                .where(batches_table.c.id == batch.id)
                .values(status=BatchState.MINED, done_at=None)
            )
            copy_files = copies.withdraw(conn, int(batch.id))  # type: ignore[arg-type]
        from registry.anchor.keepsakes import names_of

        documents = [n for d in digests for n in names_of(f"0x{d.hex()}")]  # before the proofs they show
        for name in documents + [f"0x{d.hex()}.json" for d in digests] + copy_files:
            with contextlib.suppress(FileNotFoundError):
                (self.cfg.output_dir / name).unlink()
        with contextlib.suppress(FileNotFoundError):  # proof_files = "batch" (or an earlier such run)
            batch_file(self.cfg.output_dir, batch.root).unlink()
        sync_filesystem(self.cfg.output_dir)
        self.say(f"batch {batch.id}: {len(digests)} proof files withdrawn until the batch is final again")

    def _await_confirmed(self, batch: Batch) -> bool:
        """``mined`` -> ``confirmed`` once the anchoring block is final (and still canonical)."""
        assert batch.tx_hash is not None and batch.block_hash is not None and batch.block_number is not None
        if not self._canonical(batch):
            return self._reorged(batch)
        view = self.finality_view()
        if not is_final(batch.block_number, view):
            if batch.id not in self._told_not_final:
                self._told_not_final.add(batch.id)  # type: ignore[arg-type]
                self.say(
                    f"batch {batch.id}: anchored in block {batch.block_number}, not final yet "
                    f"(waiting for {view.describe()}; final block now {max(view.final_block, 0)})"
                )
            return False
        info = self._chain_batch(batch.root)
        if not info.exists:  # the receipt is canonical but the state says otherwise: a node lag
            return False
        if info.issuer != self.address:
            raise RegistryError(f"batch {batch.id}: root held by {info.issuer}", code=ErrorCode.ROOT_TAKEN)
        self._set(batch.id, status=BatchState.CONFIRMED, anchored_at=_dt(info.anchored_at))  # type: ignore[arg-type]
        if batch.tx_id is not None:
            with self.db.begin() as conn:
                conn.execute(
                    update(Transaction)
                    .where(col(Transaction.id) == batch.tx_id)
                    .values(status=TxState.CONFIRMED)
                )
        return True

    def reconcile(self) -> int:
        """Check done batches the chain could still revert; reopen those a reorg removed.

        Under the ``finalized`` rule a done batch is final, so only batches above the finalized
        block (a node that moved its finalized block back) are read; under ``depth`` every done
        batch within ``RECHECK_BLOCKS`` of the head is. One receipt read per batch checked.
        Returns the number of batches reopened.
        """
        view = self.finality_view(fresh=True)
        floor = view.finalized if view.finalized is not None else view.head - RECHECK_BLOCKS
        with self.db.session() as s:
            recent = list(
                s.scalars(
                    select(Batch)
                    .where(col(Batch.status) == BatchState.DONE, col(Batch.block_number) > floor)
                    .order_by(col(Batch.id))
                )
            )
        reopened = 0
        for batch in recent:
            if batch.tx_hash is None or batch.block_hash is None or self._canonical(batch):
                continue
            self._reorged(batch, was_done=True)
            reopened += 1
        return reopened

    def _write_proofs(self, batch: Batch) -> bool:
        """``confirmed`` -> ``done``: every credential of the batch written with its proof."""
        assert batch.anchored_at is not None and batch.tx_hash is not None and batch.block_number is not None
        common = {
            "registry": self.registry_ref,
            "issuer": self.address,
            "transactionHash": "0x" + batch.tx_hash.hex(),
            "blockNumber": int(batch.block_number),
            "anchoredAt": _rfc3339(batch.anchored_at),
            "manifestCid": batch.manifest_cid,
        }
        t = credentials_table
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.leaf_index, t.c.digest, t.c.cid, t.c.extra_proof, t.c.document)
                .where(t.c.batch_id == batch.id)
                .order_by(t.c.leaf_index)
            ).all()
        out_dir = self.cfg.output_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        if self.cfg.proof_files == "batch":
            # one file for the batch: written, fsynced, renamed, its folder fsynced
            tmp, final = self._write_batch_file(batch, rows, common)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            where = str(final)
        else:
            moves = self._write_proof_files(batch, rows, common)
            # one sync for the whole batch, then the atomic renames, then one more sync: no proof
            # file is ever visible half-written, and all are durable before the batch is marked done
            sync_filesystem(out_dir)
            for tmp, dest in moves:
                os.replace(tmp, dest)
            sync_filesystem(out_dir)
            where = f"{len(rows)} proof files in {out_dir}"
        with self.db.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.batch_id == batch.id)
                .values(status=CredentialState.ANCHORED, anchored_at=batch.anchored_at)
            )
            conn.execute(
                batches_table.update()
                .where(batches_table.c.id == batch.id)
                .values(status=BatchState.DONE, done_at=utcnow())
            )
        self._report_anchored(batch, len(rows), "0x" + batch.tx_hash.hex())
        self.say(f"batch {batch.id}: {len(rows)} credentials with their proofs written ({where})")
        if self.keepsakes is not None:  # their certificates and badges: after the proofs are durable
            self.keepsakes.proofs_written(r[1] for r in rows)
        return True

    def _proof_documents(
        self, batch: Batch, rows: Sequence[Any], common: dict[str, Any]
    ) -> Iterator[tuple[str, bytes]]:
        """Every credential of the batch with its anchor proof, in leaf order: (0x digest, bytes).

        The first proof of every batch is decoded and its path checked against the root.
        """
        tree = self._tree(batch)
        paths = tree.all_proofs()
        encoder = BatchEncoder("0x" + batch.root.hex(), common)
        for n, (leaf, digest, cid, extra, document) in enumerate(rows):
            digest_hex = "0x" + bytes(digest).hex()
            proof = encoder.proof_json(digest_hex, cid, paths[leaf])
            if n == 0:  # the format is public: check the first of every batch by decoding it
                self._check_first_proof(batch, json.loads(proof))
            body = _checked(document, digest) if document is not None else None
            if body is None:  # rows from before migration 0002, or a damaged copy: the store has it
                body = self.store.get(cid)
            yield digest_hex, (_with_proof_json(body, proof) if extra is None
                               else _with_proof(body, json.loads(proof), extra))

    def _write_batch_file(
        self, batch: Batch, rows: Sequence[Any], common: dict[str, Any]
    ) -> tuple[Path, Path]:
        """``proof_files = "batch"``: every credential with its proof as one JSON Lines file (line
        n+1 is leaf n), written to a temporary file and fsynced; (temporary, final) names. The
        first half is on disk before the ``mid-proofs`` crash point."""
        final = batch_file(self.cfg.output_dir, batch.root)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp")  # same name on a rerun: no leftovers
        half = len(rows) // 2
        with open(tmp, "wb") as fh:
            for n, (_, data) in enumerate(self._proof_documents(batch, rows, common)):
                if n == half and n:
                    fh.flush()
                    crash_point("mid-proofs")
                fh.write(data + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        return tmp, final

    def _write_proof_files(
        self, batch: Batch, rows: Sequence[Any], common: dict[str, Any]
    ) -> list[tuple[Path, Path]]:
        """Write every credential with its proof to a temporary file; the (temporary, final) names.

        A thread creates the files while this one builds them; the first half is on disk before
        the ``mid-proofs`` crash point.
        """
        out_dir = self.cfg.output_dir
        half = len(rows) // 2
        pool = ThreadPoolExecutor(PROOF_WRITERS)  # file creation (kernel time) overlaps building
        pending: list[Future[None]] = []
        moves: list[tuple[Path, Path]] = []  # (temporary file, final name)
        group: list[tuple[Path, bytes]] = []
        try:
            for n, (digest_hex, data) in enumerate(self._proof_documents(batch, rows, common)):
                if n == half and n:
                    if group:
                        pending.append(pool.submit(_write_files, group))
                        group = []
                    for f in pending:
                        f.result()
                    crash_point("mid-proofs")
                tmp = out_dir / f".{digest_hex}.json.tmp"  # same name on a rerun: no leftovers
                moves.append((tmp, out_dir / f"{digest_hex}.json"))
                group.append((tmp, data))
                if len(group) >= PROOF_GROUP:
                    pending.append(pool.submit(_write_files, group))
                    group = []
            if group:
                pending.append(pool.submit(_write_files, group))
            for f in pending:
                f.result()  # every file written (or the error) before anything is renamed
        finally:
            pool.shutdown(wait=True)
        return moves

    @staticmethod
    def _check_first_proof(batch: Batch, proof: dict[str, Any]) -> None:
        if not decode_anchor_proof(proof).verify_inclusion():
            raise RegistryError(
                f"batch {batch.id}: Merkle path does not reach the root", code=ErrorCode.CORRUPT
            )

    def _report_anchored(self, batch: Batch, credentials: int, transaction: str) -> None:
        gas = None
        if batch.tx_id is not None:
            with self.db.session() as s:
                tx = s.get(Transaction, batch.tx_id)
                gas = tx.gas_used if tx is not None else None
        self.report.credentials += credentials
        self.report.anchored_batches.append(
            {
                "batch": batch.id,
                "root": "0x" + batch.root.hex(),
                "count": batch.count,
                "transaction": transaction,
                "block": batch.block_number,
                "manifest_cid": batch.manifest_cid,
                "gas_used": gas,
            }
        )

    # ---------------------------------------------------------------------------------------
    # loops

    def _guard(self, fn: Callable[[], bool]) -> bool | None:
        """Run one step; a node that cannot be reached means wait (None), not crash."""
        try:
            result = fn()
        except RegistryError as exc:
            if isinstance(exc, ChainError) and exc.code is ErrorCode.CHAIN_UNAVAILABLE:
                self._node_down(exc)
                return None
            raise
        except Exception as exc:
            if is_node_down(exc):
                self._node_down(exc)
                return None
            raise
        if self._down_since is not None:
            self.say(f"{self.rpc_label} answers again; resuming")
            self._down_since = None
        return result

    def _node_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            self._last_down_msg = 0.0
        waited = now - self._down_since
        if self.cfg.node_timeout is not None and waited > self.cfg.node_timeout:
            raise ChainError(f"{self.rpc_label} unreachable for {waited:.0f}s; giving up (state is saved)")
        if now - self._last_down_msg >= 30 or self._last_down_msg == 0.0:
            self._last_down_msg = now
            self.say(
                f"waiting for {self.rpc_label}: cannot reach it ({type(exc).__name__}); "
                f"retrying, nothing is lost"
            )
        backoff = min(5.0, 0.5 * 2 ** min(6, int(waited // 2)))
        self.stop.wait(backoff)

    def _record_failure(self, batch: Batch, exc: BaseException) -> None:
        """Keep the batch open, record why its step failed, and park it (this run / back-off)."""
        assert batch.id is not None
        if isinstance(exc, RegistryError):
            text = f"{exc.code}: {exc.message}"
        else:
            text = f"{type(exc).__name__}: {exc}"
        text = " ".join(text.split())[:1000]
        now = utcnow()
        with self.db.begin() as conn:
            conn.execute(
                batches_table.update()
                .where(batches_table.c.id == batch.id)
                .values(last_error=text, last_error_at=now, failures=batches_table.c.failures + 1)
            )
        n = self._failures_in_run.get(batch.id, 0) + 1
        self._failures_in_run[batch.id] = n
        first, longest = RETRY_BACKOFF
        self._parked[batch.id] = time.monotonic() + min(longest, first * 2 ** (n - 1))
        fresh = self._batch(batch.id)
        self.report.failed_batches[batch.id] = {
            "batch": batch.id,
            "root": "0x" + batch.root.hex(),
            "count": batch.count,
            "status": fresh.status,
            "attempts": fresh.attempts,
            "failures": fresh.failures,
            "error": text,
        }
        self.say(f"batch {batch.id}: not anchored this time: {text} (state {fresh.status}; retried later)")

    def advance_all(self, *, retry_parked: bool = False) -> bool:
        """One round over the open batches; True when every batch not parked is finished.

        A batch whose step fails is recorded and parked instead of stopping the run; with
        ``retry_parked`` (``--watch``) a parked batch is tried again once its back-off is over.
        """
        pending = False
        self._view = None  # head and finalized block are read again, once, in this round
        for batch in self.open_batches():
            if self.stop.is_set():
                return False
            assert batch.id is not None
            until = self._parked.get(batch.id)
            if until is not None:
                if not retry_parked or time.monotonic() < until:
                    continue
                del self._parked[batch.id]
            while batch.status in OPEN and not self.stop.is_set():
                try:
                    moved = self._guard(lambda b=batch: self.step(b))  # type: ignore[misc]
                except Exception as exc:
                    self._record_failure(batch, exc)
                    break
                if not moved:
                    pending = True
                    break
                batch = self._batch(batch.id)
            else:
                if batch.status == "done":  # its last_error stays: the history `registry status` shows
                    self.report.failed_batches.pop(int(batch.id or 0), None)
        if not self.stop.is_set():
            from registry.anchor import copies

            copies.write_pending(self)  # signed copies of credentials whose batch is done
            if self.keepsakes is not None:
                self.keepsakes.write_due(self.cfg.output_dir, self.say)
        return not pending and all(b.id in self._parked for b in self.open_batches())

    def run_once(self) -> AnchorReport:
        """Reconcile, seal everything queued and drive every open batch to ``done`` (or until stopped)."""
        while self._guard(lambda: self.reconcile() >= 0) is None and not self.stop.is_set():
            pass
        sealed = self._guard(lambda: bool(self.seal(force=True)))
        while sealed is None and not self.stop.is_set():
            sealed = self._guard(lambda: bool(self.seal(force=True)))
        while not self.stop.is_set():
            if self.advance_all():
                break
            self.stop.wait(self.cfg.poll_interval)
        return self.report

    def watch(self, *, idle: float = 1.0) -> AnchorReport:
        """Keep sealing (full batch, or oldest waited ``max_wait``) and anchoring until stopped."""
        self.say(f"watching: batches of up to {self.cfg.batch_size}, sealed after {self.cfg.max_wait:g}s")
        last_reconcile = -RECONCILE_INTERVAL
        while not self.stop.is_set():
            due = time.monotonic() - last_reconcile >= RECONCILE_INTERVAL
            if due and self._guard(lambda: self.reconcile() >= 0) is not None:
                last_reconcile = time.monotonic()
            self._guard(lambda: bool(self.seal(force=False)))
            if self.stop.is_set():
                break
            done = self.advance_all(retry_parked=True)
            if self.after_round is not None:
                self._guard(self.after_round)
            self.stop.wait(idle if done else self.cfg.poll_interval)
        self.say("stopped cleanly")
        return self.report


def proof_dict(
    digest_hex: str, cid: str, root_hex: str, path: list[bytes], common: dict[str, Any]
) -> dict[str, Any]:
    """The ``registry-anchor-2026`` proof of one credential as a plain dict, built without a
    pydantic model (the pipeline keeps one :class:`BatchEncoder` per batch; this is one proof).

    ``common`` holds registry, issuer, transactionHash, blockNumber, anchoredAt, manifestCid;
    tests/pipeline/test_pipeline_proof_format.py checks the equality with
    :func:`registry.core.anchor_suite.encode_anchor_proof`, and every batch decodes its first proof.
    """
    return BatchEncoder(root_hex, common).proof(digest_hex, cid, path)


def batch_file(output_dir: Path, root: bytes) -> Path:
    """The JSON Lines proof file of the batch with ``root`` (``proof_files = "batch"``)."""
    return output_dir / "batches" / f"0x{bytes(root).hex()}.jsonl"


def read_batch_line(path: Path, leaf: int) -> bytes:
    """Line ``leaf + 1`` of a batch proof file (the credential at that leaf), without the newline."""
    with open(path, "rb") as fh:
        for n, line in enumerate(fh):
            if n == leaf:
                return line.rstrip(b"\n")
    raise RegistryError(f"{path} has no line {leaf + 1}", code=ErrorCode.CORRUPT)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _bind(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name)


def _checked(document: bytes, digest: bytes) -> bytes | None:
    """The stored canonical bytes when they still hash to the digest."""
    data = bytes(document)
    return data if hashlib.sha256(data).digest() == bytes(digest) else None


def _with_proof(body: bytes, proof: dict[str, Any], extra: str | None) -> bytes:
    """The credential's canonical bytes with ``"proof": [...other proofs, anchor proof]`` added
    (no re-serialisation of the body when there are no other proofs)."""
    if extra is not None:
        doc = json.loads(body)
        doc["proof"] = json.loads(extra)
        return json.dumps(attach_proof(doc, proof), ensure_ascii=False, separators=(",", ":")).encode()
    return _with_proof_json(body, json.dumps(proof, separators=(",", ":")).encode())


def _with_proof_json(body: bytes, proof_json: bytes) -> bytes:
    """The credential's canonical bytes with ``"proof":[<proof_json>]`` appended inside the object."""
    inner = body.rstrip()
    if not inner.endswith(b"}"):
        raise RegistryError("stored credential is not a JSON object", code=ErrorCode.CORRUPT)
    sep = b"," if inner[:-1].strip() not in (b"{", b"") else b""
    return inner[:-1] + sep + b'"proof":[' + proof_json + b"]}"


def _write_files(files: list[tuple[Path, bytes]]) -> None:
    """Write each (path, bytes); no fsync here: the caller syncs the filesystem once for all."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for path, data in files:
        fd = os.open(path, flags, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
