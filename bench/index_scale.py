"""Benchmark of the shared digest index at scale: build time and size, lookups, worker memory.

Starts anvil, deploys a registry and anchors synthetic batches (random digests; the manifests
are generated here and put in a local content store), up to each step of ``--steps`` indexed
credentials. At every step:

- ``build``: a follower (a child process: ``IndexFollower.poll``) indexes the new batches: wall
  and CPU seconds, its peak RSS, credentials per second; the index's size on disk;
- ``lookup``: bare lookups through the shared index (``SharedIndex.find``: the digest's row, its
  batch, the tiles of its Merkle path), in this process, for known and unknown digests: p50/p99;
- ``worker``: a ``registry serve`` worker (``REGISTRY_INDEX_FOLLOW=off``) answering bare-document
  verifications (``POST /api/v1/verify`` without proof: index, path, one chain read): p50/p99
  and its RSS after them (the figure that must not grow with the registry);
- ``replicas`` (last step only): verification throughput with 1 and 2 ``registry serve``
  replicas (one worker each) reading the same index.

Engines: ``--engines sqlite,postgresql`` (PostgreSQL: a throwaway server, tests/pg_server.py).
Every JSON line carries the load average (``cat /proc/loadavg``): 2 cores shared here.

Usage: ``python bench/index_scale.py [--steps 1000000,10000000] [--batch-size 100000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from eth_account import Account  # noqa: E402

from registry.chain.anvil import DEV_KEYS, free_port, start_anvil  # noqa: E402
from registry.chain.connection import connect  # noqa: E402
from registry.chain.contract import RegistryContract  # noqa: E402
from registry.chain.deploy import deploy_registry  # noqa: E402
from registry.chain.tx import send  # noqa: E402
from registry.core.canonical import document_digest  # noqa: E402
from registry.core.formats import Manifest, format_registry  # noqa: E402
from registry.core.merkle import MerkleTree  # noqa: E402
from registry.ipfs import LocalStore  # noqa: E402

CLI = [sys.executable, "-c", "from registry.cli.main import run; run()"]
SAMPLE_PER_BATCH = 200  # known digests kept per batch for the lookups


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def emit(**line: Any) -> None:
    """Print one JSON line with the load average."""
    print(json.dumps({"bench": "index_scale", **line, "loadavg": loadavg()}), flush=True)


def manifest_bytes(registry: str, issuer: str, tree: MerkleTree) -> bytes:
    """The canonical (RFC 8785) manifest of a tree, written directly (same bytes as
    ``Manifest.from_tree(...).to_bytes()``, checked on a small batch at start)."""
    digests = ",".join(f'"0x{d.hex()}"' for d in tree.digests)
    return (
        f'{{"count":{len(tree.digests)},"digests":[{digests}],"format":"credential-registry/manifest/v1",'
        f'"issuer":"{issuer}","registry":"{registry}","root":"0x{tree.root.hex()}",'
        f'"tree":"oz-standard-v1:bytes32"}}'
    ).encode()


def bench_docs(n: int) -> list[dict[str, Any]]:
    """Small credentials (the replica figure verifies them as bare documents)."""
    return [
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
            "type": ["VerifiableCredential"],
            "issuer": {"id": "https://bench.example/issuer", "name": "Bench University"},
            "validFrom": "2025-01-01T00:00:00Z",
            "validUntil": "2099-01-01T00:00:00Z",
            "credentialSubject": {"id": f"did:example:{i}", "name": f"Holder {i}"},
        }
        for i in range(n)
    ]


class Chain:
    """Anvil with one registry and one issuer anchoring synthetic batches."""

    def __init__(self, store: LocalStore) -> None:
        self.anvil = start_anvil()
        self.w3 = connect(self.anvil.url)
        self.admin, self.issuer = Account.from_key(DEV_KEYS[0]), Account.from_key(DEV_KEYS[1])
        self.reg = RegistryContract(self.w3, deploy_registry(self.w3, self.admin))
        send(self.w3, self.admin, self.reg.functions.registerIssuer(self.issuer.address, "Bench", "https://bench.example"))
        self.registry = format_registry(int(self.w3.eth.chain_id), str(self.reg.address))
        self.store = store
        self.count = 0
        self.sample: list[bytes] = []
        small = MerkleTree.build([os.urandom(32) for _ in range(3)])
        expected = Manifest.from_tree(self.registry, self.issuer.address, small).to_bytes()
        assert manifest_bytes(self.registry, self.issuer.address, small) == expected

    def anchor(self, digests: list[bytes]) -> None:
        """Anchor one batch and pin its manifest."""
        tree = MerkleTree.build(digests)
        cid = self.store.put(manifest_bytes(self.registry, self.issuer.address, tree))
        send(self.w3, self.issuer, self.reg.functions.anchor(tree.root, len(digests), cid))
        self.count += len(digests)
        self.sample.extend(random.sample(digests, min(SAMPLE_PER_BATCH, len(digests))))

    def anchor_random(self, n: int) -> None:
        """Anchor one batch of ``n`` random digests."""
        blob = os.urandom(32 * n)
        self.anchor([blob[i : i + 32] for i in range(0, len(blob), 32)])


def settings_env(chain: Chain, index_url: str, store: Path, data: Path) -> dict[str, str]:
    """The ``REGISTRY_*`` environment of the bench's followers and workers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_RPC_URL=chain.anvil.url,
        REGISTRY_TRUSTED_REGISTRIES=json.dumps([chain.registry]),
        REGISTRY_INDEX_URL=index_url,
        REGISTRY_STORE_DIR=str(store),
        REGISTRY_DATA_DIR=str(data),
        REGISTRY_FINALITY="depth",
        REGISTRY_CACHE_STALENESS="15",
        REGISTRY_INDEX_FOLLOW="off",
        PYTHONPATH=str(ROOT),
    )
    return env


CHILD_BUILD = """
import json, resource, sys, time
from registry.settings import load_settings
from registry.index.db import open_index
from registry.index.follower import IndexFollower, follower_reader, source_spec
from registry.ipfs import open_store
s = load_settings()
idb = open_index(s)
reader = follower_reader(s)
t0, c0 = time.perf_counter(), time.process_time()
f = IndexFollower(reader, idb, source_spec(reader), open_store(s))
f.poll()
for _ in range(100):
    if not f.writer.pending:
        break
    f.poll()
print(json.dumps({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "events": reader.stats["events"]}))
"""


def build(env: dict[str, str]) -> dict[str, Any]:
    """Run a follower in a child process until every anchored batch is indexed."""
    cmd = [sys.executable, "-c", CHILD_BUILD]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def index_size(url: str) -> int:
    """Bytes on disk of the index (SQLite file + WAL; PostgreSQL: the idx_ tables with indexes)."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    from sqlalchemy import create_engine, text

    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.connect() as conn:
        conn.execute(text("CHECKPOINT"))
        size = conn.execute(
            text("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relname LIKE 'idx\\_%' "
                 "AND c.relkind = 'r'")
        ).scalar()
    eng.dispose()
    return int(size or 0)


def pct(xs: list[float], p: float) -> float:
    """Percentile in milliseconds."""
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))] * 1000, 3) if xs else 0.0


def lookups(chain: Chain, url: str, n: int) -> dict[str, Any]:
    """Bare lookups through SharedIndex.find in this process: known and unknown digests."""
    from registry.index.db import IndexDB
    from registry.index.replica import SharedIndex
    from registry.verify.reader import ChainReader

    idb = IndexDB(url)
    reader = ChainReader(chain.anvil.url, [str(chain.reg.address)])
    index = SharedIndex(idb, reader)
    assert index.bind()
    for d in chain.sample[:50]:  # warm up: connections, compiled statements
        index.find(d)
    known = random.sample(chain.sample, min(n, len(chain.sample)))
    times: list[float] = []
    misses: list[float] = []
    for d in known:
        t0 = time.perf_counter()
        hit = index.find(d)
        times.append(time.perf_counter() - t0)
        assert hit is not None and len(hit.path) >= 1
    for _ in range(n // 4):
        d = os.urandom(32)
        t0 = time.perf_counter()
        assert index.find(d) is None
        misses.append(time.perf_counter() - t0)
    reader.close()
    idb.close()
    return {"lookups": len(times), "p50_ms": pct(times, 0.5), "p99_ms": pct(times, 0.99),
            "unknown_p50_ms": pct(misses, 0.5), "unknown_p99_ms": pct(misses, 0.99)}


class Follow:
    """``registry index follow`` (resumes from the recorded cursor: rebuilds nothing)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "index", "follow", "--retry", "0.5"],
            env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Serve:
    """``registry serve`` (one worker) on its own port."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.port), "--log-level", "warning"],
            env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"registry serve did not become ready: {err[-2000:]}")
            time.sleep(0.2)

    def rss_mib(self) -> float:
        """The worker's resident memory."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def bare_bodies(docs: list[dict[str, Any]]) -> list[bytes]:
    """The documents as request bodies (no proof: the index places them)."""
    return [json.dumps(d).encode() for d in docs]


def run_engine(engine: str, args: argparse.Namespace, tmp: Path) -> None:
    """Every step on one engine."""
    from verify_load import load  # bench/verify.py's load generator, imported below

    pg = None
    if engine == "postgresql":
        from pg_server import start_throwaway

        pg = start_throwaway()
        url = pg.server.url()
    else:
        url = f"sqlite:///{tmp / 'index.db'}"
    store_dir = tmp / "store"
    chain = Chain(LocalStore(store_dir))
    try:
        docs = bench_docs(args.documents)
        chain.anchor([document_digest(d) for d in docs])  # real documents, verified as bare documents
        bodies = bare_bodies(docs)
        env = settings_env(chain, url, store_dir, tmp)
        prev = chain.count
        for step in args.steps:
            t_gen = time.perf_counter()
            while chain.count < step:
                chain.anchor_random(min(args.batch_size, step - chain.count))
            gen_s = time.perf_counter() - t_gen
            res = build(env)
            emit(engine=engine, figure="build", credentials=chain.count, batch_size=args.batch_size,
                 generate_and_anchor_s=round(gen_s, 1), build_wall_s=round(res["wall_s"], 1),
                 build_cpu_s=round(res["cpu_s"], 1), follower_peak_rss_mib=round(res["peak_rss_mib"], 1),
                 new_credentials=chain.count - prev,
                 credentials_per_s=round((chain.count - prev) / max(res["wall_s"], 1e-9)),
                 index_bytes=index_size(url), bytes_per_credential=round(index_size(url) / chain.count, 1))
            prev = chain.count
            emit(engine=engine, figure="lookup", credentials=chain.count, **lookups(chain, url, args.lookups))
            follower = Follow(env, tmp)
            server = Serve(env, tmp)
            try:
                rss0 = server.rss_mib()
                res = asyncio.run(load(server.port, bodies, 4, None, total=args.requests))
                emit(engine=engine, figure="worker", credentials=chain.count,
                     endpoint="POST /api/v1/verify (bare)", rss_ready_mib=rss0,
                     rss_after_mib=server.rss_mib(), **res)
            finally:
                server.stop()
                follower.stop()
        follower = Follow(env, tmp)
        for n in (1, 2):
            servers = [Serve(env, tmp) for _ in range(n)]
            try:
                for s in servers:  # warm each replica's chain cache
                    asyncio.run(load(s.port, bodies, 4, None, total=len(bodies)))
                ports = [s.port for s in servers]
                results = asyncio.run(_spread(ports, bodies, args.connections, args.seconds))
                emit(engine=engine, figure="replicas", replicas=n, credentials=chain.count,
                     connections=args.connections, endpoint="POST /api/v1/verify (bare)", **results)
            finally:
                for s in servers:
                    s.stop()
        follower.stop()
    finally:
        chain.anvil.stop()
        if pg is not None:
            pg.stop()


async def _spread(ports: list[int], bodies: list[bytes], connections: int, seconds: float) -> dict[str, Any]:
    from verify_load import load

    per = max(1, connections // len(ports))
    parts = await asyncio.gather(*(load(p, bodies, per, seconds) for p in ports))
    total = sum(p["requests"] for p in parts)
    secs = max(p["seconds"] for p in parts)
    return {"requests": total, "seconds": secs, "verifications_per_s": round(total / secs, 1),
            "p50_ms": max(p["p50_ms"] for p in parts), "p99_ms": max(p["p99_ms"] for p in parts),
            "errors": sum(p["errors"] for p in parts), "not_valid": sum(p["not_valid"] for p in parts)}


def main() -> None:
    """Parse the options and run every engine."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--steps", default="1000000,10000000", help="indexed credentials at each measure")
    ap.add_argument("--batch-size", type=int, default=100_000)
    ap.add_argument("--engines", default="sqlite,postgresql")
    ap.add_argument("--lookups", type=int, default=2000, help="index lookups per step")
    ap.add_argument("--documents", type=int, default=500, help="real documents verified as bare documents")
    ap.add_argument("--requests", type=int, default=2000, help="HTTP verifications per worker figure")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    args.steps = [int(x) for x in args.steps.split(",")]
    sys.path.insert(0, str(ROOT / "bench"))
    import importlib

    sys.modules["verify_load"] = importlib.import_module("verify")
    for engine in args.engines.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-index-{engine}-") as tmp:
            run_engine(engine, args, Path(tmp))
    emit(figure="done", maxrss_bench_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))


if __name__ == "__main__":
    main()
