"""CLI commands of the shared digest index: ``registry index follow`` and ``registry index status``.

``follow`` is the one process that reads the chain and the manifests and writes the index
(``REGISTRY_INDEX_URL``); run it next to ``registry serve`` workers started with
``REGISTRY_INDEX_FOLLOW=off``. A second ``follow`` waits as a standby and takes over when the
first dies (the follower lock: a PostgreSQL advisory lock, or a file lock on SQLite).
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import typer

from registry.cli.common import print_json, settings

index_app = typer.Typer(help="The shared digest index (one follower writes it, every verifier reads it).")


@index_app.command("follow")
def _follow(
    retry: float = typer.Option(2.0, "--retry", min=0.1, help="seconds between tries of the follower lock"),
    duration: float | None = typer.Option(None, "--for", help="stop after this many seconds (default never)"),
) -> None:
    """Follow the chain and write the shared digest index while holding the follower lock."""
    import logging

    from registry.index.db import open_index
    from registry.index.follower import FollowerLease

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = settings()
    idb = open_index(s)
    lease = FollowerLease(s, idb, retry=retry)
    done = threading.Event()

    def _stop(*_: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    lease.start()
    end = None if duration is None else time.monotonic() + duration
    while not done.wait(0.2):
        if end is not None and time.monotonic() >= end:
            break
    lease.stop()
    idb.close()


@index_app.command("status")
def _status() -> None:
    """Print every followed registry set: its cursor, last sync, follower and batch counts."""
    from sqlalchemy import func, select

    from registry.index.db import open_index
    from registry.index.schema import batches, sources

    idb = open_index(settings())
    out = []
    with idb.engine.connect() as conn:
        for row in conn.execute(select(sources).order_by(sources.c.id)).all():
            counts: dict[Any, Any] = dict(
                conn.execute(
                    select(batches.c.state, func.count())
                    .where(batches.c.source == row.id, ~batches.c.dropped)
                    .group_by(batches.c.state)
                ).all()
            )
            out.append(
                {
                    "source": row.id,
                    "chain_id": row.chain_id,
                    "contracts": row.contracts.split(","),
                    "next_block": row.next_block,
                    "head": row.head,
                    "synced_ago": None if row.synced_at is None else round(time.time() - row.synced_at, 3),
                    "follower": row.follower,
                    "reorging": bool(row.reorging),
                    "batches": {str(k): int(v) for k, v in counts.items()},
                    "last_error": row.last_error,
                }
            )
    idb.close()
    print_json(out)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.add_typer(index_app, name="index")
