"""eddsa-rdfc-2022 throughput: signing and verifying ~1.6 KB Open Badges 3.0 credentials.

Prints one JSON line per figure (single process, this machine; ``ms_per_call`` is wall time per
document, ``cpu_ms_per_call`` this process's CPU time, steadier on a shared machine). Run from
the repository root:

    .venv/bin/python bench/dataintegrity.py [--docs 300]

Each document is distinct (``sample_badge(i)``). Figures:

- ``rdfc_first_call``: the first canonicalization in a fresh process (the pinned contexts are
  resolved and processed once per loader; every later call reuses them).
- ``pyld_normalize_plain``: the same documents through plain ``jsonld.normalize`` with a fresh
  context resolver per call (what pyld costs without this registry's context-processing memo).
- ``rdfc_canonicalize_document``: the RDFC-1.0 canonical form of a document (``transform``).
- ``eddsa_rdfc_2022_sign``: one ``created`` for the whole run, as at intake, where every credential
  signed in the same second shares it (the canonical proof configuration is then memoized).
- ``eddsa_rdfc_2022_sign_distinct_created``: each proof its own ``created`` (no memo for the proof
  configuration: two canonicalizations per credential).
- ``eddsa_rdfc_2022_verify``: cold verification (no result cache) of proofs with distinct ``created``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cachetools import LRUCache  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from pyld import jsonld  # noqa: E402
from pyld.context_resolver import ContextResolver  # noqa: E402

from registry.core.dataintegrity import didkey  # noqa: E402
from registry.core.dataintegrity import eddsa_rdfc_2022 as eddsa  # noqa: E402
from registry.core.dataintegrity.contexts import DEFAULT_LOADER  # noqa: E402
from registry.core.samples import sample_badge  # noqa: E402

CREATED = "2026-01-01T00:00:00Z"
_BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _rate(name: str, n: int, seconds: float, cpu: float, **extra: Any) -> None:
    print(json.dumps({"bench": name, "docs": n, "seconds": round(seconds, 3),
                      "docs_per_s": round(n / seconds, 1), "ms_per_call": round(1000 * seconds / n, 3),
                      "cpu_ms_per_call": round(1000 * cpu / n, 3), **extra}), flush=True)


def _plain(doc: dict[str, Any]) -> Any:
    return jsonld.normalize(doc, {"algorithm": "URDNA2015", "format": "application/n-quads",
                                  "documentLoader": DEFAULT_LOADER, "base": None,
                                  "contextResolver": ContextResolver(LRUCache(maxsize=256), DEFAULT_LOADER)})


def _timed(name: str, items: list[Any], fn: Any, **extra: Any) -> list[Any]:
    t, c = time.perf_counter(), time.process_time()
    out = [fn(item) for item in items]
    _rate(name, len(items), time.perf_counter() - t, time.process_time() - c, **extra)
    return out


def main() -> None:
    """Canonicalize, sign and verify ``--docs`` sample badges; print docs/s and ms for each figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=300)
    args = parser.parse_args()
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    vm = didkey.verification_method_id(key.public_key().public_bytes_raw())
    issuer = vm.split("#")[0]
    docs = [sample_badge(i, issuer_id=issuer, issuer_name="Bench University") for i in range(args.docs)]
    size = round(sum(len(json.dumps(d).encode()) for d in docs) / len(docs))
    _timed("rdfc_first_call", [sample_badge(-1, issuer_id=issuer, issuer_name="Bench University")],
           eddsa.transform)
    _timed("pyld_normalize_plain", docs, _plain, avg_bytes=size)
    _timed("rdfc_canonicalize_document", docs, eddsa.transform, avg_bytes=size)
    _timed("eddsa_rdfc_2022_sign", docs, lambda d: eddsa.create_proof(d, key, vm, CREATED), avg_bytes=size)
    created = {id(d): _BASE + timedelta(seconds=i + 1) for i, d in enumerate(docs)}
    proofs = _timed("eddsa_rdfc_2022_sign_distinct_created", docs,
                    lambda d: eddsa.create_proof(d, key, vm, created[id(d)]), avg_bytes=size)
    signed = [{**d, "proof": [p]} for d, p in zip(docs, proofs, strict=True)]
    results = _timed("eddsa_rdfc_2022_verify", signed, eddsa.verify_proof)
    ok = sum(r.verified for r in results)
    if ok != len(docs):
        raise SystemExit(f"only {ok} of {len(docs)} verified")


if __name__ == "__main__":
    main()
