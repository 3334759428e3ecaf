"""Signed copies: a signed version of a credential whose body was issued before.

A document that arrives with its issuer's signatures and the same body (digest) as a credential
already queued or anchored is not a new credential: the one anchor covers both. It is recorded in
``credential_copies`` and gets its own output file, ``0x<digest>-<16 hex digits>.json`` (the hex is
the start of the sha256 of its proofs' JCS), holding its body, its own signatures and the anchor
proof, once the credential's batch is done.

Crash-safe like the proof files: the copies of done batches are written to temporary files, the
folder synced, renamed, synced again, and only then marked written; a run killed anywhere writes
them again. A reorg that withdraws a batch's proofs marks its copies unwritten in the same
transaction and removes their files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from registry.anchor.crash import crash_point
from registry.core.canonical import canonical_bytes, sha256
from registry.db import utcnow
from registry.db.models import batches_table, copies_table, credentials_table
from registry.db.states import BatchState
from registry.errors import RegistryError


def proofs_key(extra_proof: str | None) -> bytes | None:
    """sha256 of the JCS of a proof set (``extra_proof`` JSON: one proof or an array); None for none."""
    if extra_proof is None:
        return None
    proofs = json.loads(extra_proof)
    return sha256(canonical_bytes({"proofs": proofs if isinstance(proofs, list) else [proofs]}))


def copy_name(digest: bytes, proofs_digest: bytes) -> str:
    """The output file name of a signed copy."""
    return f"0x{digest.hex()}-{proofs_digest[:8].hex()}.json"


def write_pending(pipe: Any) -> int:
    """Write every copy whose credential's batch is done and whose file is not written yet.

    The anchor proof is read from the credential's own proof file, or its line of the batch's
    proof file (``proof_files = "batch"``), written and synced before its batch was marked done,
    so a copy carries exactly the anchor proof the credential carries.
    Returns the number of files written.
    """
    from registry.anchor.pipeline import _checked, _with_proof, _write_files, batch_file, read_batch_line
    from registry.core.formats import split_proofs
    from registry.ipfs.local import sync_filesystem

    c, t, b = copies_table, credentials_table, batches_table
    with pipe.db.engine.connect() as conn:
        rows = conn.execute(
            select(c.c.id, c.c.digest, c.c.proofs_digest, c.c.extra_proof, t.c.document, t.c.cid,
                   b.c.root, t.c.leaf_index)
            .select_from(c.join(t, t.c.digest == c.c.digest).join(b, b.c.id == t.c.batch_id))
            .where(c.c.written_at.is_(None), b.c.status == BatchState.DONE)
            .order_by(c.c.id)
        ).all()
    if not rows:
        return 0
    out_dir: Path = pipe.cfg.output_dir
    files: list[tuple[Path, bytes]] = []
    moves: list[tuple[Path, Path]] = []
    ids: list[int] = []
    for copy_id, digest, proofs_digest, extra, document, cid, root, leaf in rows:
        digest = bytes(digest)
        original = out_dir / f"0x{digest.hex()}.json"
        try:
            if not original.exists() and batch_file(out_dir, root).exists():  # proof_files = "batch"
                original = batch_file(out_dir, root)
                written = read_batch_line(original, int(leaf))
            else:
                written = original.read_bytes()
            _, anchors, _ = split_proofs(json.loads(written))
        except (OSError, ValueError, RegistryError) as exc:
            pipe.say(
                f"signed copy of 0x{digest.hex()} not written: cannot read {original} ({exc}); "
                "it is written by a run with the same output folder"
            )
            continue
        if len(anchors) != 1:
            pipe.say(f"signed copy of 0x{digest.hex()} not written: {original} has no single anchor proof")
            continue
        body = _checked(document, digest) if document is not None else None
        if body is None:
            body = pipe.store.get(cid)
        name = copy_name(digest, bytes(proofs_digest))
        tmp = out_dir / f".{name}.tmp"
        files.append((tmp, _with_proof(body, anchors[0], extra)))
        moves.append((tmp, out_dir / name))
        ids.append(int(copy_id))
    if not files:
        return 0
    _write_files(files)
    sync_filesystem(out_dir)
    for tmp, final in moves:
        os.replace(tmp, final)
    sync_filesystem(out_dir)
    crash_point("mid-copies")
    with pipe.db.begin() as conn:
        for k in range(0, len(ids), 500):
            conn.execute(c.update().where(c.c.id.in_(ids[k : k + 500])).values(written_at=utcnow()))
    pipe.say(f"{len(ids)} signed cop{'y' if len(ids) == 1 else 'ies'} written to {out_dir}")
    return len(ids)


def withdraw(conn: Any, batch_id: int) -> list[str]:
    """In the caller's transaction: mark the copies of ``batch_id``'s credentials unwritten; the
    file names to remove once it commits."""
    c, t = copies_table, credentials_table
    rows = conn.execute(
        select(c.c.id, c.c.digest, c.c.proofs_digest)
        .select_from(c.join(t, t.c.digest == c.c.digest))
        .where(t.c.batch_id == batch_id)
    ).all()
    if rows:
        ids = [int(r[0]) for r in rows]
        conn.execute(c.update().where(c.c.id.in_(ids)).values(written_at=None))
    return [copy_name(bytes(r[1]), bytes(r[2])) for r in rows]
