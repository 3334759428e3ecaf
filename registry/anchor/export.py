"""``registry proofs export``: per-credential proof files from the batch proof files.

With ``proof_files = "batch"`` the pipeline writes one JSON Lines file per batch,
``<output_dir>/batches/0x<root>.jsonl`` (line n+1 is the credential at leaf n). A holder needs
``0x<digest>.json``: this writes those files for every done batch (or the batches named), each
line checked first (its body must hash to the credential's digest in the database), written to
a temporary file, synced and renamed, so a file is never seen half-written. Files already there
with the same bytes are left alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from registry.anchor.pipeline import _write_files, batch_file
from registry.core.canonical import canonical_bytes, sha256
from registry.core.formats import split_proof
from registry.db import Database
from registry.db.models import batches_table, credentials_table
from registry.db.states import BatchState
from registry.errors import ErrorCode, RegistryError
from registry.ipfs.local import sync_filesystem

EXPORT_GROUP = 2000  # files written (then synced and renamed) at a time


@dataclass
class ExportReport:
    """What one export did."""

    written: int = 0
    unchanged: int = 0
    batches: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # done batches without a batch file

    def to_json(self) -> dict[str, Any]:
        """JSON summary."""
        return dict(self.__dict__)


def export_proofs(
    db: Database, output_dir: Path, *, dest: Path | None = None, batch_ids: list[int] | None = None
) -> ExportReport:
    """Write ``0x<digest>.json`` into ``dest`` (default ``output_dir``) for the credentials of the
    done batches (all, or ``batch_ids``) that have a batch proof file."""
    dest = dest or output_dir
    dest.mkdir(parents=True, exist_ok=True)
    report = ExportReport()
    b = batches_table
    query = select(b.c.id, b.c.root, b.c.count).where(b.c.status == BatchState.DONE).order_by(b.c.id)
    if batch_ids:
        query = query.where(b.c.id.in_(batch_ids))
    with db.engine.connect() as conn:
        batches = conn.execute(query).all()
    for batch_id, root, count in batches:
        path = batch_file(output_dir, bytes(root))
        if not path.is_file():
            report.missing.append(int(batch_id))
            continue
        _export_batch(db, int(batch_id), int(count), path, dest, report)
        report.batches.append(int(batch_id))
    return report


def _export_batch(
    db: Database, batch_id: int, count: int, path: Path, dest: Path, report: ExportReport
) -> None:
    t = credentials_table
    with db.engine.connect() as conn:
        digests = [
            bytes(r[0])
            for r in conn.execute(select(t.c.digest).where(t.c.batch_id == batch_id).order_by(t.c.leaf_index))
        ]
    if len(digests) != count:
        raise RegistryError(f"batch {batch_id}: {len(digests)} credentials for a count of {count}",
                            code=ErrorCode.CORRUPT)
    group: list[tuple[Path, Path, bytes]] = []
    n = -1
    with open(path, "rb") as fh:
        for n, line in enumerate(fh):
            if n >= count:
                raise RegistryError(f"{path}: more lines than the batch's {count} credentials",
                                    code=ErrorCode.CORRUPT)
            data = line.rstrip(b"\n")
            body, _ = split_proof(json.loads(data))
            if sha256(canonical_bytes(body)) != digests[n]:
                raise RegistryError(f"{path}: line {n + 1} is not the credential 0x{digests[n].hex()}",
                                    code=ErrorCode.CORRUPT)
            final = dest / f"0x{digests[n].hex()}.json"
            if _same(final, data):
                report.unchanged += 1
                continue
            group.append((final.with_name(f".{final.name}.tmp"), final, data))
            if len(group) >= EXPORT_GROUP:
                _flush(group, dest, report)
    if n + 1 != count:
        raise RegistryError(
            f"{path}: {n + 1} lines for the batch's {count} credentials", code=ErrorCode.CORRUPT
        )
    _flush(group, dest, report)


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _flush(group: list[tuple[Path, Path, bytes]], dest: Path, report: ExportReport) -> None:
    if not group:
        return
    _write_files([(tmp, data) for tmp, _, data in group])
    sync_filesystem(dest)
    for tmp, final, _ in group:
        os.replace(tmp, final)
    sync_filesystem(dest)
    report.written += len(group)
    group.clear()
