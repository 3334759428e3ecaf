"""Core benchmark: canonical form + digest throughput, Merkle build + all proofs vs OpenZeppelin.

Prints one JSON line per figure. Run from the repository root:

    .venv/bin/python bench/core_bench.py                 # 10k, 100k, 1M leaves (OpenZeppelin at 1M: ~30 min)
    .venv/bin/python bench/core_bench.py --oz-max-leaves 100000   # OpenZeppelin up to 100k only
    .venv/bin/python bench/core_bench.py --sizes 10000 100000 --docs 2000

The OpenZeppelin figures come from ``@openzeppelin/merkle-tree`` (node_modules) run by node on the
same machine in the same run, on the same digests; its root must equal ours.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from registry.core.canonical import canonical_bytes, document_digest, load_document  # noqa: E402
from registry.core.merkle import MerkleTree  # noqa: E402
from registry.core.samples import sample_badge  # noqa: E402

OZ_SCRIPT = Path(__file__).with_name("core_bench_oz.js")


def emit(**fields: Any) -> None:
    """Print one figure as a JSON line."""
    print(json.dumps(fields), flush=True)


def best_of(fn: Any, repeat: int) -> float:
    """Fastest of ``repeat`` timed runs (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_keccak() -> None:
    """Per-call cost of each keccak256 binding available (the Merkle code uses the fastest)."""
    data = os.urandom(64)
    n = 200_000
    impls: dict[str, Any] = {}
    try:
        import sha3

        impls["safe-pysha3"] = lambda: sha3.keccak_256(data).digest()
    except ImportError:
        pass
    from Crypto.Hash import keccak as pc

    impls["pycryptodome"] = lambda: pc.new(data=data, digest_bits=256).digest()
    try:
        from eth_hash.auto import keccak as eth_keccak

        impls["eth_hash.auto"] = lambda: eth_keccak(data)
    except ImportError:
        pass
    for name, fn in impls.items():
        def run(fn: Any = fn) -> None:
            for _ in range(n):
                fn()
        s = best_of(run, 3)
        emit(bench="keccak256_64B", impl=name, ns_per_hash=round(s / n * 1e9, 1))


def bench_canonical(n_docs: int) -> None:
    """canonicalize + sha256 on ~1.5 KB Open Badges 3.0 documents."""
    docs = [sample_badge(i, issuer_id="https://learn.example.edu/issuers/7", issuer_name="Example University",
                         seed=1) for i in range(n_docs)]
    raws = [json.dumps(d, indent=2, ensure_ascii=False).encode() for d in docs]
    total_canonical = sum(len(canonical_bytes(d)) for d in docs)

    def digest_only() -> None:
        for d in docs:
            document_digest(d)

    def parse_and_digest() -> None:
        for r in raws:
            document_digest(load_document(r))

    s = best_of(digest_only, 3)
    emit(bench="canonicalize_digest", docs=n_docs, avg_canonical_bytes=round(total_canonical / n_docs),
         seconds=round(s, 4), docs_per_s=round(n_docs / s), mb_per_s=round(total_canonical / s / 1e6, 2))
    s = best_of(parse_and_digest, 3)
    total_raw = sum(len(r) for r in raws)
    emit(bench="strict_parse_canonicalize_digest", docs=n_docs, avg_input_bytes=round(total_raw / n_docs),
         seconds=round(s, 4), docs_per_s=round(n_docs / s), mb_per_s=round(total_raw / s / 1e6, 2))


def bench_merkle(n: int, node: str | None, repeat: int, oz_max: int) -> None:
    """Our build + every proof, then OpenZeppelin's on the same digests, and the ratio."""
    rnd = random.Random(n)
    digests = [rnd.randbytes(32) for _ in range(n)]
    best: tuple[float, float] | None = None
    tree: MerkleTree | None = None
    proof_nodes = 0
    for _ in range(repeat):
        tree = None
        gc.collect()
        t0 = time.perf_counter()
        tree = MerkleTree.build(digests)
        t1 = time.perf_counter()
        proofs = tree.all_proofs()
        t2 = time.perf_counter()
        proof_nodes = sum(map(len, proofs))
        del proofs
        if best is None or (t2 - t0) < sum(best):
            best = (t1 - t0, t2 - t1)
    assert tree is not None and best is not None
    build_s, proofs_s = best
    total_s = build_s + proofs_s
    root = "0x" + tree.root.hex()
    emit(bench="merkle_build_all_proofs", impl="python", leaves=n, build_s=round(build_s, 4),
         proofs_s=round(proofs_s, 4), total_s=round(total_s, 4), proof_nodes=proof_nodes, root=root)
    del tree
    gc.collect()
    if node is None or n > oz_max:
        emit(bench="merkle_build_all_proofs", impl="openzeppelin", leaves=n,
             skipped="node not found" if node is None else f"above --oz-max-leaves {oz_max}")
        return
    out = subprocess.run([node, "--max-old-space-size=8192", str(OZ_SCRIPT)], input=b"".join(digests),
                         capture_output=True, cwd=ROOT, check=True)
    oz = json.loads(out.stdout)
    same = oz["root"] == root and oz["check"] == proof_nodes
    emit(bench="merkle_build_all_proofs", impl="openzeppelin", leaves=n, build_s=round(oz["build_s"], 4),
         proofs_s=round(oz["proofs_s"], 4), total_s=round(oz["total_s"], 4), proof_nodes=oz["check"],
         root=oz["root"], same_root_and_proof_sizes=same)
    emit(bench="merkle_ratio", leaves=n, openzeppelin_over_python=round(oz["total_s"] / total_s, 2),
         python_faster=total_s < oz["total_s"], same_root_and_proof_sizes=same)


def main() -> None:
    """Run the selected figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--docs", type=int, default=5000, help="documents for the canonical-form figure")
    ap.add_argument("--oz-max-leaves", type=int, default=1_000_000,
                    help="run OpenZeppelin only up to this size (1M leaves takes it tens of minutes)")
    ap.add_argument("--skip-keccak", action="store_true")
    args = ap.parse_args()
    emit(bench="environment", python=sys.version.split()[0], cpus=os.cpu_count(),
         node=subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
         if shutil.which("node") else None)
    if not args.skip_keccak:
        bench_keccak()
    bench_canonical(args.docs)
    node = shutil.which("node")
    for n in args.sizes:
        bench_merkle(n, node, repeat=3 if n <= 100_000 else 1, oz_max=args.oz_max_leaves)


if __name__ == "__main__":
    main()
