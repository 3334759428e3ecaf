"""Benchmark of "when and why" (issue 14): what explaining a revoked credential costs, and that a
valid one costs nothing extra.

Starts anvil, deploys a registry, anchors a batch, mines ``--gap`` empty blocks, revokes half of
the credentials with a reason, and verifies each credential with the core and a reader whose
cache is off (``staleness=0``: every verification reads the chain). Prints one JSON line per
figure: ``valid`` and ``revoked`` (wall and CPU ms per verification, log queries per
verification), and ``explain`` (the explanation alone: ms and log queries for the block range from
the anchor to the head, in chunks of ``--log-chunk`` blocks). Figures, not pass/fail.

Usage: ``python bench/status_detail.py [--credentials 100] [--gap 10000] [--log-chunk 5000]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
from eth_account import Account  # noqa: E402
from verify import anchor_credentials  # noqa: E402

from registry.chain.anvil import DEV_KEYS, start_anvil  # noqa: E402
from registry.chain.connection import connect  # noqa: E402
from registry.chain.contract import RegistryContract  # noqa: E402
from registry.chain.tx import send  # noqa: E402
from registry.core.formats import parse_registry  # noqa: E402
from registry.verify.core import VerifyConfig, prepare_document, run_chain, verify_credential  # noqa: E402
from registry.verify.reader import ChainReader  # noqa: E402
from registry.verify.result import Status  # noqa: E402
from registry.verify.status_detail import explain  # noqa: E402


def _figure(name: str, **values: object) -> None:
    print(json.dumps({"bench": "status_detail", "figure": name, **values, "loadavg": os.getloadavg()[0]}))


def _measure(
    bodies: list[bytes], reader: ChainReader, config: VerifyConfig, want: Status
) -> dict[str, float]:
    queries = reader.stats["log_queries"]
    wall, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        res = verify_credential(body, reader, config)
        assert res.status is want, res.status
        assert (res.status_detail is not None) == (want is Status.revoked)
    n = len(bodies)
    return {
        "per_verification_ms": round((time.perf_counter() - wall) * 1000 / n, 3),
        "per_verification_cpu_ms": round((time.process_time() - cpu) * 1000 / n, 3),
        "log_queries_per_verification": round((reader.stats["log_queries"] - queries) / n, 2),
        "credentials": n,
    }


def main() -> None:
    """Run the bench and print its figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--credentials", type=int, default=100)
    ap.add_argument("--gap", type=int, default=10_000, help="empty blocks between anchoring and revoking")
    ap.add_argument("--log-chunk", type=int, default=5_000)
    args = ap.parse_args()
    node = start_anvil()
    try:
        registry, bodies = anchor_credentials(node.url, args.credentials)
        chain_id, address = parse_registry(registry)
        w3 = connect(node.url)
        mine = {"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [hex(args.gap)]}
        httpx.post(node.url, json=mine, timeout=600).raise_for_status()
        issuer = Account.from_key(DEV_KEYS[1])
        reg = RegistryContract(w3, address)
        config = VerifyConfig(trusted=frozenset({(chain_id, address)}))
        half = args.credentials // 2
        digests = [prepare_document(b, config).digest for b in bodies[:half]]
        send(w3, issuer, reg.functions.revokeCredentials(digests, "bench: withdrawn"))
        reader = ChainReader(node.url, [address], staleness=0.0, log_chunk=args.log_chunk)
        try:
            verify_credential(bodies[-1], reader, config)  # warm: chain id, issuer record, anchor log
            _figure("valid", **_measure(bodies[half:], reader, config, Status.valid))
            _figure("revoked", **_measure(bodies[:half], reader, config, Status.revoked))
            prep = prepare_document(bodies[0], config)
            view, _ = run_chain(prep, reader)
            assert view is not None and prep.root is not None and prep.digest is not None
            queries, wall = reader.stats["log_queries"], time.perf_counter()
            rounds = 20
            for _ in range(rounds):
                assert explain(view, prep.root, prep.digest, reader, Status.revoked) is not None
            _figure(
                "explain",
                ms=round((time.perf_counter() - wall) * 1000 / rounds, 3),
                log_queries=(reader.stats["log_queries"] - queries) / rounds,
                blocks=view.head - (view.anchor.block_number if view.anchor else 0) + 1,
                log_chunk=args.log_chunk,
            )
        finally:
            reader.close()
    finally:
        node.stop()


if __name__ == "__main__":
    main()
