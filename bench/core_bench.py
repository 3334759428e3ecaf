"""Core benchmark: canonical form + digest throughput, Merkle build + all proofs vs OpenZeppelin.

Prints one JSON line per figure. Run from the repository root:

    .venv/bin/python bench/core_bench.py                 # 10k, 100k, 1M leaves
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


def bench_merkle(n: int, node: str | None, repeat: int) -> None:
    """Our build + every proof, then OpenZeppelin's on the same digests, and the ratio."""
    rnd = random.Random(n)
    digests = [rnd.randbytes(32) for _ in range(n)]
    holder: dict[str, Any] = {}

    def build() -> None:
        holder["tree"] = MerkleTree.build(digests)

    def build_and_proofs() -> None:
        t = MerkleTree.build(digests)
        holder["proofs"] = t.all_proofs()
        holder["tree"] = t

    build_s = best_of(build, repeat)
    holder.clear()
    total_s = best_of(build_and_proofs, repeat)
    tree: MerkleTree = holder["tree"]
    proofs = holder["proofs"]
    assert len(proofs) == n and sum(map(len, proofs)) > 0 or n == 1
    emit(bench="merkle_build_all_proofs", impl="python", leaves=n, build_s=round(build_s, 4),
         proofs_s=round(total_s - build_s, 4), total_s=round(total_s, 4), root="0x" + tree.root.hex())
    py_check = sum(map(len, proofs))
    holder.clear()
    del proofs
    gc.collect()
    if node is None:
        emit(bench="merkle_build_all_proofs", impl="openzeppelin", leaves=n, error="node not found")
        return
    out = subprocess.run([node, "--max-old-space-size=8192", str(OZ_SCRIPT)], input=b"".join(digests),
                         capture_output=True, cwd=ROOT, check=True)
    oz = json.loads(out.stdout)
    same = oz["root"] == "0x" + tree.root.hex() and oz["check"] == py_check
    emit(bench="merkle_build_all_proofs", impl="openzeppelin", leaves=n, build_s=round(oz["build_s"], 4),
         proofs_s=round(oz["proofs_s"], 4), total_s=round(oz["total_s"], 4), root=oz["root"],
         same_root_and_proof_sizes=same)
    emit(bench="merkle_ratio", leaves=n, openzeppelin_over_python=round(oz["total_s"] / total_s, 2),
         python_faster=total_s < oz["total_s"], same_root_and_proof_sizes=same)


def main() -> None:
    """Run the selected figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--docs", type=int, default=5000, help="documents for the canonical-form figure")
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
        bench_merkle(n, node, repeat=3 if n <= 100_000 else 1)


if __name__ == "__main__":
    main()
