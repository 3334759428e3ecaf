"""eddsa-rdfc-2022 throughput: signing and verifying ~1.5 KB Open Badges 3.0 credentials.

Prints one JSON line per figure (single process, this machine). Run from the repository root:

    .venv/bin/python bench/dataintegrity.py [--docs 300]

Each document is distinct (``sample_badge(i)``); the pinned contexts are resolved once per loader
(pyld's resolved-context cache), as in a long-lived worker. Also reported: canonicalization alone
(two RDFC-1.0 runs per proof: the document and the proof configuration dominate the cost).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from registry.core.dataintegrity import didkey  # noqa: E402
from registry.core.dataintegrity import eddsa_rdfc_2022 as eddsa  # noqa: E402
from registry.core.samples import sample_badge  # noqa: E402

CREATED = "2026-01-01T00:00:00Z"


def _rate(name: str, n: int, seconds: float, **extra: Any) -> None:
    print(json.dumps({"bench": name, "docs": n, "seconds": round(seconds, 3),
                      "docs_per_s": round(n / seconds, 1), **extra}), flush=True)


def main() -> None:
    """Sign, then verify, ``--docs`` sample badges; print docs/s for each and for canonicalization."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=300)
    args = parser.parse_args()
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    vm = didkey.verification_method_id(key.public_key().public_bytes_raw())
    issuer = vm.split("#")[0]
    docs = [sample_badge(i, issuer_id=issuer, issuer_name="Bench University") for i in range(args.docs)]
    size = sum(len(json.dumps(d).encode()) for d in docs) / len(docs)
    eddsa.create_proof(docs[0], key, vm, CREATED)  # warm: resolve the pinned contexts once
    t = time.perf_counter()
    for d in docs:
        eddsa.transform(d)
    _rate("rdfc_canonicalize_document", len(docs), time.perf_counter() - t, avg_bytes=round(size))
    t = time.perf_counter()
    signed = [{**d, "proof": eddsa.create_proof(d, key, vm, CREATED)} for d in docs]
    _rate("eddsa_rdfc_2022_sign", len(docs), time.perf_counter() - t, avg_bytes=round(size))
    t = time.perf_counter()
    ok = sum(eddsa.verify_proof(s).verified for s in signed)
    _rate("eddsa_rdfc_2022_verify", len(docs), time.perf_counter() - t, verified=ok)
    if ok != len(docs):
        raise SystemExit(f"only {ok} of {len(docs)} verified")


if __name__ == "__main__":
    main()
