"""Benchmark of quorum chain reads (issue 16 item 3): cold verification with 1 and 3 endpoints.

Starts anvil, anchors a batch (bench/verify.py's ``anchor_credentials``), starts pass-through
JSON-RPC proxies of that one anvil, each in a child process (tests/verify/rpc_proxies.py, so their
CPU is not this process's), and verifies the credentials in-process with ``verify_credential`` and a
``ChainReader`` whose cache is cold (``staleness=0``: every verification reads the chain; the
anchor's log is read once per batch, as in the service). ``--concurrency`` threads verify at once.
Prints one JSON line per figure, with the load average:

- ``direct``: 1 endpoint, anvil itself;
- ``proxy-1``: 1 endpoint behind one proxy (the proxy's cost, for a fair comparison);
- ``quorum-3``: 3 proxies, quorum 2 (every read asks all three, answers when 2 agree);
- ``quorum-3-slow``: the same with one proxy answering 50 ms late (the quorum does not wait for it).

Usage: ``python bench/quorum.py [--seconds 8] [--concurrency 8] [--credentials 300]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests" / "verify")]

from registry.chain.anvil import start_anvil  # noqa: E402
from registry.core.formats import parse_registry  # noqa: E402
from registry.verify.core import VerifyConfig, verify_credential  # noqa: E402
from registry.verify.quorum import QuorumClient  # noqa: E402
from registry.verify.reader import ChainReader  # noqa: E402
from registry.verify.result import Status  # noqa: E402


def serve_proxies(upstream: str, delays: list[float]) -> None:
    """Child process: one proxy per delay; print their URLs as one JSON line; serve until stdin ends."""
    from rpc_proxies import proxy

    with ExitStack() as stack:
        ps = [stack.enter_context(proxy(upstream, delay=d)) for d in delays]
        print(json.dumps([p.url for p in ps]), flush=True)
        sys.stdin.read()


class Proxies:
    """Proxies of ``upstream``, each in its own child process (its own interpreter lock)."""

    def __init__(self, upstream: str, delays: list[float]) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--serve-proxies", upstream, "--delays", str(d)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for d in delays
        ]
        self.urls: list[str] = []
        for proc in self.procs:
            assert proc.stdout is not None
            self.urls += json.loads(proc.stdout.readline())

    def stop(self) -> None:
        """Close the children's stdin and wait for them."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in self.procs:
            proc.wait(timeout=20)


def run(
    urls: list[str], registry: str, bodies: list[bytes], seconds: float, concurrency: int
) -> dict[str, Any]:
    """Verify ``bodies`` round robin from ``concurrency`` threads for ``seconds``; the figures."""
    chain_id, address = parse_registry(registry)
    config = VerifyConfig(trusted=frozenset({(chain_id, address)}))
    reader = ChainReader(urls if len(urls) > 1 else urls[0], [address], staleness=0.0, timeout=5.0)
    for body in bodies[:1]:  # the batch's anchor log is read once, then known (as in the service)
        assert verify_credential(body, reader, config).status is Status.valid
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(w: int) -> None:
        i = w
        while time.monotonic() < stop:
            t = time.perf_counter()
            status = verify_credential(bodies[i % len(bodies)], reader, config).status
            dt = time.perf_counter() - t
            with lock:
                latencies.append(dt)
                errors[0] += status is not Status.valid
            i += concurrency

    cpu0, t0 = _cpu(), time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, cpu = time.monotonic() - t0, _cpu() - cpu0
    stats = dict(reader.rpc.stats) if isinstance(reader.rpc, QuorumClient) else {}
    reader.close()
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    n = len(latencies)
    return {
        "verifications": n,
        "seconds": round(elapsed, 2),
        "verifications_per_s": round(n / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "cpu_ms_per_verification": round(cpu / n * 1000, 3),
        "not_valid": errors[0],
        **({"second_rounds": stats["second_rounds"], "no_quorum": stats["no_quorum"]} if stats else {}),
    }


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    """Print the four figures as JSON lines."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=8.0, help="duration of each figure")
    ap.add_argument("--concurrency", type=int, default=8, help="verifications in flight")
    ap.add_argument("--credentials", type=int, default=300, help="distinct credentials in the batch")
    ap.add_argument("--figures", default="direct,proxy-1,quorum-3,quorum-3-slow")
    ap.add_argument("--serve-proxies", metavar="UPSTREAM", help=argparse.SUPPRESS)
    ap.add_argument("--delays", default="0", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_proxies:
        return serve_proxies(args.serve_proxies, [float(d) for d in args.delays.split(",")])
    from verify import anchor_credentials

    anvil = start_anvil()
    try:
        registry, bodies = anchor_credentials(anvil.url, args.credentials)
        setups = {
            "direct": None,
            "proxy-1": [0.0],
            "quorum-3": [0.0, 0.0, 0.0],
            "quorum-3-slow": [0.0, 0.0, 0.05],
        }
        for figure in args.figures.split(","):
            delays = setups[figure]
            proxies = Proxies(anvil.url, delays) if delays is not None else None
            try:
                urls = proxies.urls if proxies is not None else [anvil.url]
                out = run(urls, registry, bodies, args.seconds, args.concurrency)
            finally:
                if proxies is not None:
                    proxies.stop()
            line = {
                "bench": "quorum",
                "figure": figure,
                "endpoints": len(urls),
                "quorum": len(urls) // 2 + 1,
                "cache": "cold",
                "concurrency": args.concurrency,
                **out,
                "loadavg": os.getloadavg(),
            }
            print(json.dumps(line), flush=True)
    finally:
        anvil.stop()


if __name__ == "__main__":
    main()
