"""Revoke, suspend, reinstate credentials on chain, and report where credentials stand.

Status changes go through the same durable transaction manager as anchors (nonce from the
database, raw transaction stored before broadcast), and are recorded in ``revocations``. A change
interrupted by a crash is finished by the next issuer command (:func:`finish_pending`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import col

from registry.anchor.pipeline import BATCH_STATES, OPEN, Pipeline
from registry.anchor.txmanager import Lost, Mined
from registry.chain.contract import decode_revert, is_revert
from registry.chain.schema import CredentialStatus, TxStatus
from registry.chain.tx import checkpoint_margin
from registry.db import Batch, Credential, Database, Revocation, Transaction, utcnow
from registry.db.models import credentials_table
from registry.db.states import TX_LIVE, ChainMirror, RevocationState, StatusAction
from registry.errors import ContractRevert, ErrorCode, InputError, NotFoundError, RegistryError

ACTIONS = {  # the registry function of each status change
    StatusAction.REVOKE: "revokeCredentials",
    StatusAction.SUSPEND: "suspendCredentials",
    StatusAction.REINSTATE: "reinstateCredentials",
}
MAX_PER_TX = 500


def parse_digests(values: Sequence[str]) -> list[bytes]:
    """``0x`` hex digests (or CIDs of credentials) from the command line, de-duplicated in order."""
    from registry.core.cid import digest_from_cid
    from registry.core.hexutil import bytes32

    out: list[bytes] = []
    for v in values:
        v = v.strip()
        if not v:
            continue
        d = bytes32(v, what="digest") if v.startswith(("0x", "0X")) or len(v) == 64 else digest_from_cid(v)
        if d not in out:
            out.append(d)
    if not out:
        raise InputError("give at least one credential digest (0x…)", code=ErrorCode.NO_DIGESTS)
    return out


def change_status(
    pipe: Pipeline,
    action: str,
    digests: Sequence[bytes],
    reason: str | None = None,
    *,
    limit: int = MAX_PER_TX,
) -> dict[str, Any]:
    """Send one status change for ``digests`` (at most ``limit``) and wait until it is confirmed."""
    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r}")
    action = StatusAction(action)
    if action == StatusAction.REVOKE and not (reason and reason.strip()):
        raise InputError("a revocation needs a reason (--reason)", code=ErrorCode.REASON_REQUIRED)
    if len(digests) > limit:
        raise InputError(f"at most {limit} digests per command", code=ErrorCode.TOO_MANY)
    finish_pending(pipe)
    known = _known(pipe.db, digests)
    unknown = [d for d in digests if d not in known]
    args: list[Any] = [list(digests)] + ([reason] if action == StatusAction.REVOKE else [])
    fn = getattr(pipe.contract.functions, ACTIONS[action])(*args)
    gas = _guarded(pipe, lambda: _estimate(fn, pipe.address))
    data = bytes.fromhex(pipe.contract.contract.encode_abi(ACTIONS[action], args=args)[2:])
    with pipe.db.session() as s:
        rev = Revocation(
            action=action,
            digests=json.dumps(["0x" + d.hex() for d in digests]),
            reason=reason,
            status=RevocationState.PENDING,
            created_at=utcnow(),
        )
        s.add(rev)
        s.commit()
        rev_id = rev.id

    def stored(session: Any, tx: Transaction) -> None:
        session.execute(
            update(Revocation)
            .where(col(Revocation.id) == rev_id)
            .values(status=RevocationState.SUBMITTED, tx_id=tx.id)
        )

    tx = _guarded(
        pipe,
        lambda: pipe.txm.create(
            kind=action,
            to=pipe.contract.address,
            data=data,
            gas=min(gas + gas // 5 + 10_000 + checkpoint_margin(fn), _block_gas_limit(pipe)),
            revocation_id=rev_id,
            on_stored=stored,
        ),
    )
    _guarded(pipe, lambda: _broadcast(pipe, tx))
    pipe.say(f"{action}: tx 0x{tx.tx_hash.hex()} sent for {len(digests)} credential(s)")
    result = _finish(pipe, rev_id)  # type: ignore[arg-type]
    result["unknown_locally"] = ["0x" + d.hex() for d in unknown]
    return result


def _broadcast(pipe: Pipeline, tx: Transaction) -> bool:
    pipe.txm.broadcast(tx)
    return True


def _block_gas_limit(pipe: Pipeline) -> int:
    """The latest block's gas limit: no margin may make a transaction that no block can hold."""
    return int(_guarded(pipe, lambda: pipe.w3.eth.get_block("latest")["gasLimit"]))


def _estimate(fn: Any, sender: str) -> int:
    try:
        # pending: a status change opening a new checkpoint (later second) costs more
        return int(fn.estimate_gas({"from": sender}, "pending"))
    except Exception as exc:
        if is_revert(exc):
            err = decode_revert(exc)
            raise ContractRevert(
                f"the registry refuses: {err.message}", error=err.error_name
            ) from None
        raise


def _guarded(pipe: Pipeline, fn: Any) -> Any:
    while True:
        res = pipe._guard(lambda: fn())
        if res is not None:
            return res
        if pipe.stop.is_set():
            raise RegistryError("stopped while waiting for the chain node", code=ErrorCode.STOPPED)


def _known(db: Database, digests: Sequence[bytes]) -> set[bytes]:
    t = credentials_table
    with db.engine.connect() as conn:
        return {bytes(r[0]) for r in conn.execute(select(t.c.digest).where(t.c.digest.in_(list(digests))))}


def _finish(pipe: Pipeline, rev_id: int) -> dict[str, Any]:
    """Wait for a submitted status change: mined, at depth, then mirror it locally."""
    while True:
        with pipe.db.session() as s:
            rev = s.get(Revocation, rev_id)
            assert rev is not None
            tx = s.get(Transaction, rev.tx_id) if rev.tx_id is not None else None
        if tx is None:
            raise RegistryError(f"status change {rev_id} has no transaction", code=ErrorCode.CORRUPT)
        res = _guarded(pipe, lambda t=tx: pipe.txm.check(t))  # type: ignore[misc]
        if isinstance(res, Lost):
            _set_rev(pipe.db, rev_id, status=RevocationState.FAILED)
            raise RegistryError(f"status change {rev_id}: nonce used by another transaction; run it again")
        if isinstance(res, Mined):
            break
        pipe.stop.wait(pipe.cfg.poll_interval)
        if pipe.stop.is_set():
            raise RegistryError("stopped while waiting for the transaction", code=ErrorCode.STOPPED)
    if res.status != TxStatus.success:
        _set_rev(pipe.db, rev_id, status=RevocationState.FAILED)
        raise ContractRevert(f"status change tx 0x{res.tx.tx_hash.hex()} reverted", error="reverted")
    while True:
        depth = _guarded(pipe, lambda: pipe.txm.depth(res.tx.tx_hash, res.block_hash) or -1)
        if depth >= pipe.cfg.confirmations or depth == -1:
            break
        pipe.stop.wait(pipe.cfg.poll_interval)
    digests = [bytes.fromhex(h[2:]) for h in json.loads(rev.digests)]
    mirror = {
        StatusAction.REVOKE: ChainMirror.REVOKED,
        StatusAction.SUSPEND: ChainMirror.SUSPENDED,
        StatusAction.REINSTATE: None,
    }[StatusAction(rev.action)]
    with pipe.db.begin() as conn:
        t = credentials_table
        q = t.update().where(t.c.digest.in_(digests))
        if rev.action != StatusAction.REVOKE:
            q = q.where((t.c.chain_status.is_(None)) | (t.c.chain_status != ChainMirror.REVOKED))
        conn.execute(q.values(chain_status=mirror))
    _set_rev(pipe.db, rev_id, status=RevocationState.CONFIRMED, confirmed_at=utcnow())
    pipe.say(f"{rev.action}: confirmed in block {res.block_number}")
    return {
        "action": rev.action,
        "digests": json.loads(rev.digests),
        "reason": rev.reason,
        "transaction": "0x" + res.tx.tx_hash.hex(),
        "block": res.block_number,
        "gas_used": res.gas_used,
        "status": RevocationState.CONFIRMED,
    }


def _set_rev(db: Database, rev_id: int, **values: Any) -> None:
    with db.begin() as conn:
        conn.execute(update(Revocation).where(col(Revocation.id) == rev_id).values(**values))


def finish_pending(pipe: Pipeline) -> list[dict[str, Any]]:
    """Finish status changes a crash left submitted (re-broadcast or record as mined)."""
    with pipe.db.session() as s:
        submitted = select(Revocation).where(col(Revocation.status) == RevocationState.SUBMITTED)
        ids = [r.id for r in s.scalars(submitted)]
    return [_finish(pipe, i) for i in ids if i is not None]


# --------------------------------------------------------------------------------------------
# status


def overview(db: Database) -> dict[str, Any]:
    """Counts of credentials and batches by state, the latest batches, pending transactions."""
    with db.session() as s:
        creds = _count_by(s, Credential)
        batches = _count_by(s, Batch)
        recent = list(s.scalars(select(Batch).order_by(col(Batch.id).desc()).limit(10)))
        pending = list(
            s.scalars(
                select(Transaction).where(col(Transaction.status).in_(TX_LIVE))
            )
        )
        revs = _count_by(s, Revocation)
        failing = list(
            s.scalars(
                select(Batch)
                .where(col(Batch.status).in_(OPEN), col(Batch.last_error).is_not(None))
                .order_by(col(Batch.id))
            )
        )
    return {
        "credentials": {k: int(v) for k, v in creds.items()},
        "batches": {k: int(v) for k, v in batches.items()},
        "revocations": {k: int(v) for k, v in revs.items()},
        "pending_transactions": [
            {"hash": "0x" + t.tx_hash.hex(), "nonce": t.nonce, "kind": t.kind, "status": t.status}
            for t in pending
        ],
        "recent_batches": [_batch_json(b) for b in recent],
        "failing_batches": [_batch_json(b) for b in failing],  # open, their last step failed
    }


def _count_by(s: Any, model: Any) -> dict[str, int]:
    status = model.__table__.c.status
    return {str(k): int(v) for k, v in s.execute(select(status, func.count()).group_by(status)).all()}


def _batch_json(b: Batch) -> dict[str, Any]:
    return {
        "batch": b.id,
        "root": "0x" + b.root.hex(),
        "count": b.count,
        "status": b.status,
        "state": BATCH_STATES.get(b.status, b.status),
        "manifest_cid": b.manifest_cid,
        "transaction": "0x" + b.tx_hash.hex() if b.tx_hash else None,
        "block": b.block_number,
        "anchored_at": b.anchored_at.isoformat() if b.anchored_at else None,
        "attempts": b.attempts,
        "failures": b.failures,
        "last_error": b.last_error,
        "last_error_at": b.last_error_at.isoformat() if b.last_error_at else None,
    }


def _copies_json(db: Database, digest: bytes) -> list[dict[str, Any]]:
    """The signed copies of one credential: their file name and whether it is written."""
    from registry.anchor.copies import copy_name
    from registry.db.models import copies_table as c

    with db.engine.connect() as conn:
        rows = conn.execute(
            select(c.c.proofs_digest, c.c.source, c.c.written_at).where(c.c.digest == digest).order_by(c.c.id)
        ).all()
    return [
        {"file": copy_name(digest, bytes(pd)), "source": src, "written_at": w.isoformat() if w else None}
        for pd, src, w in rows
    ]


def credential_status(db: Database, digest: bytes, *, pipe: Pipeline | None = None) -> dict[str, Any]:
    """Where one credential stands: locally (queue, batch, proof file) and, when given, on chain."""
    with db.session() as s:
        c = s.scalars(select(Credential).where(col(Credential.digest) == digest)).first()
        b = s.get(Batch, c.batch_id) if c is not None and c.batch_id is not None else None
    if c is None:
        raise NotFoundError(f"no credential 0x{digest.hex()} in this issuer's database")
    out: dict[str, Any] = {
        "digest": "0x" + digest.hex(),
        "cid": c.cid,
        "id": c.credential_id,
        "name": c.name,
        "status": c.status,
        "queued_at": c.queued_at.isoformat() if c.queued_at else None,
        "local_chain_status": c.chain_status,
        "batch": _batch_json(b) if b is not None else None,
        "signed_copies": _copies_json(db, digest),
    }
    if pipe is not None:
        proof_file = pipe.cfg.output_dir / f"0x{digest.hex()}.json"
        out["proof_file"] = str(proof_file) if proof_file.exists() else None
        if out["proof_file"] is None and b is not None and c.leaf_index is not None:
            from registry.anchor.pipeline import batch_file

            lines = batch_file(pipe.cfg.output_dir, b.root)  # proof_files = "batch"
            if lines.exists():
                out["proof_file"] = f"{lines} line {c.leaf_index + 1} (`registry proofs export`)"
        try:
            code = pipe.contract.credential_status(pipe.address, digest)
            out["chain"] = {"credential_status": CredentialStatus.word_of(code)}
            if b is not None:
                info = pipe._chain_batch(b.root)
                out["chain"].update(
                    batch_on_chain=info.exists,
                    batch_revoked=bool(info.revoked_at),
                    anchored_at=info.anchored_at,
                )
        except RegistryError as exc:
            out["chain"] = {"error": str(exc)}
    return out
