"""Status list benchmark: revoke 10,000 credentials in bulk, then publish the lists.

Embedded defaults: SQLite, the local content store, anvil (started here and stopped afterwards).
The credentials are allocated and bound as intake does (random indexes in list 0); the revocation
goes through ``registry.status.bulk.change_many`` (chunks sized by gas, durable transactions) and
the publication through ``Publisher.publish`` (events read, bits derived, signed, pinned,
recorded, written). Then the audit's pass rebuilds the published versions from the chain.
Prints one JSON line per figure. Nothing here asserts a time.

    .venv/bin/python bench/status_lists.py                # 10,000 credentials
    .venv/bin/python bench/status_lists.py --count 2000   # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def emit(figure: str, value: Any, unit: str = "", **extra: Any) -> None:
    """One JSON line on stdout."""
    print(
        json.dumps({"bench": "status_lists", "figure": figure, "value": value, "unit": unit, **extra}),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10_000, help="credentials to revoke (default 10000)")
    ap.add_argument("--workdir", type=Path, default=None, help="work folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args(argv)

    from bench_chain import bench_registry

    from registry.anchor.context import build_pipeline
    from registry.audit.model import AuditReport
    from registry.chain.anvil import start_anvil
    from registry.db import open_database
    from registry.settings import load_settings
    from registry.status.allocate import allocate, bind
    from registry.status.audit import StatusListAudit
    from registry.status.bulk import change_many
    from registry.status.issuer import publisher_for

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-status-"))
    node = start_anvil()
    try:
        w3, issuer, reg = bench_registry(node.url)
        settings = load_settings(
            data_dir=work / "data",
            rpc_url=node.url,
            contract=reg.address,
            confirmations=1,
            private_key="0x" + bytes(issuer.key).hex(),
            status_signing_key=os.urandom(32).hex(),
            public_url="https://registry.example",
        )
        db = open_database(settings=settings)
        rng = random.Random(13)
        digests = [rng.randbytes(32) for _ in range(args.count)]
        t = time.perf_counter()
        bind(db, allocate(db, args.count), digests)
        emit("allocate_and_bind", round(time.perf_counter() - t, 3), "s", credentials=args.count)
        pipe = build_pipeline(settings, db, say=lambda _m: None)
        publisher = publisher_for(settings, pipe)
        publisher.publish()  # version 1: nothing revoked
        t = time.perf_counter()
        out = change_many(pipe, "revoke", ["0x" + d.hex() for d in digests], "bench")
        took = time.perf_counter() - t
        emit("revoke_time", round(took, 2), "s", credentials=args.count)
        emit("revoke_rate", round(args.count / took), "credentials/s")
        emit("revoke_transactions", len(out["transactions"]), "tx", per_transaction=out["per_transaction"])
        emit("revoke_gas", out["gas_used"], "gas", per_credential=round(out["gas_used"] / args.count))
        t = time.perf_counter()
        report = publisher.publish()
        emit("publish_time", round(time.perf_counter() - t, 3), "s", lists=len(report.published))
        folder = settings.resolved_status_lists_dir / issuer.address / "0" / "revocation"
        size = (folder / "v2.json").stat().st_size
        emit("list_bytes", size, "B", note=f"signed revocation list, 131072 entries, {args.count} revoked")
        t = time.perf_counter()
        audit = AuditReport(
            registry="",
            address=reg.address,
            chain_id=int(w3.eth.chain_id),
            from_block=0,
            to_block=int(w3.eth.block_number),
        )
        StatusListAudit(w3, reg, pipe.store, settings.resolved_status_lists_dir, bound_seconds=600).run(
            audit, int(w3.eth.block_number)
        )
        emit(
            "audit_time",
            round(time.perf_counter() - t, 3),
            "s",
            versions=audit.status_list_versions_checked,
            anomalies=len(audit.anomalies),
        )
        db.close()
    finally:
        node.stop()
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
