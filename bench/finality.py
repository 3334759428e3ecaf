"""Finality figures: how long an anchor takes to become final on the dev anvil, and what waiting
for finality and reconciling cost in JSON-RPC calls.

Prints JSON lines (figures, not pass/fail). anvil runs as `registry dev` runs it
(``fast_finality``: a block every second, ``finalized`` two blocks behind the head).

    .venv/bin/python bench/finality.py [--batches 4] [--per-batch 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def emit(name: str, value: Any, unit: str, **extra: Any) -> None:
    """One figure as a JSON line."""
    line = {"bench": "finality", "figure": name, "value": value, "unit": unit, **extra}
    print(json.dumps(line), flush=True)


def _counting(w3: Any) -> Counter[str]:
    """Count every JSON-RPC method the pipeline's Web3 sends."""
    counts: Counter[str] = Counter()
    inner = w3.provider.make_request

    def make_request(method: str, params: Any) -> Any:
        counts[str(method)] += 1
        return inner(method, params)

    w3.provider.make_request = make_request
    w3.provider._request_func_cache = (None, None)  # web3 caches the composed request function
    return counts


def main() -> None:
    """Issue ``batches`` × ``per-batch`` credentials, anchor them, count calls until all are final."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--per-batch", type=int, default=5)
    args = ap.parse_args()

    from bench_chain import bench_registry

    from registry.anchor.context import build_pipeline, open_store_from
    from registry.anchor.demo import ISSUER, write_jsonl
    from registry.anchor.intake import Intake
    from registry.chain.anvil import start_anvil
    from registry.db import open_database
    from registry.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="bench-finality-"))
    node = start_anvil(fast_finality=True)
    try:
        w3, issuer, reg = bench_registry(node.url)
        settings = load_settings(
            data_dir=work / "data",
            rpc_url=node.url,
            contract=reg.address,
            private_key="0x" + bytes(issuer.key).hex(),
            finality="auto",
            batch_size=args.per_batch,
        )
        db = open_database(settings=settings)
        n = args.batches * args.per_batch
        write_jsonl(work / "docs.jsonl", n, seed=f"finality-{time.time_ns()}")
        Intake(db, open_store_from(settings), issuer_id=str(ISSUER["id"])).run([work / "docs.jsonl"])
        emit("load_average_1m", round(os.getloadavg()[0], 2), "", cpus=os.cpu_count())
        pipe = build_pipeline(settings, db, say=lambda _m: None)
        emit("rule", str(pipe.rule), "")
        counts = _counting(pipe.w3)
        pipe.seal(force=True)
        mined_at: dict[int, float] = {}
        final_at: dict[int, float] = {}
        rounds_waiting = 0
        pending_seen = 0
        calls_waiting: Counter[str] = Counter()
        while pipe.open_batches():
            all_waiting = all(b.status == "mined" for b in pipe.open_batches())
            pending_now = len(pipe.open_batches())
            before = Counter(counts)
            pipe.advance_all()
            now = time.perf_counter()
            for b in pipe.open_batches():
                if b.status == "mined":
                    mined_at.setdefault(int(b.id or 0), now)
            for bid in list(mined_at):
                if bid not in final_at and pipe._batch(bid).status == "done":
                    final_at[bid] = now
            if all_waiting and all(b.status == "mined" for b in pipe.open_batches()):
                rounds_waiting += 1  # a round in which every batch only waited for finality
                calls_waiting += counts - before
                pending_seen = pending_now
            time.sleep(0.1)
        waits = [final_at[b] - mined_at[b] for b in final_at if b in mined_at]
        if waits:
            emit("mined_to_final_seconds_mean", round(sum(waits) / len(waits), 2), "s", batches=len(waits))
        if rounds_waiting:
            per_round = {m: round(c / rounds_waiting, 2) for m, c in sorted(calls_waiting.items())}
            emit(
                "rpc_calls_per_round_while_waiting",
                round(sum(calls_waiting.values()) / rounds_waiting, 2),
                "calls",
                pending_batches=pending_seen,
                by_method=per_round,
            )
        before = Counter(counts)
        t = time.perf_counter()
        reopened = pipe.reconcile()
        emit(
            "reconcile_rpc_calls",
            sum((counts - before).values()),
            "calls",
            done_batches=args.batches,
            reopened=reopened,
            seconds=round(time.perf_counter() - t, 4),
            by_method=dict(counts - before),
        )
    finally:
        node.stop()


if __name__ == "__main__":
    main()
