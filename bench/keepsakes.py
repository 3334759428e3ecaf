"""Benchmark of the documents people keep (issue 14, item 3): certificate PDFs and OB 3.0 baked
badges made per credential, and verification of a dropped PDF (extract the attachment + verify).

Generation uses Open Badges 3.0 sample credentials (``registry.core.samples``, ~1.5 KB). The
verification part starts anvil, anchors ``--credentials`` credentials in one batch (as
``bench/verify.py`` does), writes their certificates and verifies each one through the session
``registry verify`` and the service use, beside the same credential as JSON: the difference is
the cost of taking the credential out of the PDF.

Prints one JSON line per figure (wall and CPU time per document, documents per second, mean size)
with the 1-minute load average. Usage: ``python bench/keepsakes.py [--docs 40] [--credentials 40]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

LINK = "https://verify.example.edu/v/0x" + "ab" * 32 + "?issuer=0x" + "12" * 20


def emit(figure: str, **fields: Any) -> None:
    """One JSON line."""
    line = {"bench": "keepsakes", "figure": figure, **fields,
            "load_average_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    print(json.dumps(line), flush=True)


def timed(figure: str, items: list[Any], fn: Callable[[Any], Any], **extra: Any) -> list[Any]:
    """Run ``fn`` over ``items`` once (after one warm-up call) and emit the per-document figures."""
    fn(items[0])
    wall, cpu = time.perf_counter(), time.process_time()
    out = [fn(x) for x in items]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sizes = [len(o) for o in out if isinstance(o, bytes | bytearray)]
    emit(figure, docs=len(items), ms_per_doc=round(1000 * wall / len(items), 2),
         cpu_ms_per_doc=round(1000 * cpu / len(items), 2), docs_per_s=round(len(items) / wall, 1),
         **({"mean_bytes": round(sum(sizes) / len(sizes))} if sizes else {}), **extra)
    return out


def generation(n: int) -> None:
    """PDF (A4, Letter) and baked PNG / SVG per credential."""
    from registry.core.samples import sample_badge
    from registry.keepsakes.badge import baked_badge
    from registry.keepsakes.extract import extract_credential
    from registry.keepsakes.pdf import certificate_pdf

    creds = [json.dumps(sample_badge(i, issuer_id="did:web:example.edu", issuer_name="Example University"),
                        separators=(",", ":")).encode() for i in range(n)]
    pdfs = timed("pdf_a4", creds, lambda c: certificate_pdf(c, LINK, "a4"))
    timed("pdf_letter", creds, lambda c: certificate_pdf(c, LINK, "letter"))
    pngs = timed("badge_png", creds, lambda c: baked_badge(c, "png"))
    svgs = timed("badge_svg", creds, lambda c: baked_badge(c, "svg"))
    timed("extract_pdf", pdfs, extract_credential)
    timed("extract_png", pngs, extract_credential)
    timed("extract_svg", svgs, extract_credential)
    folder(creds)


def folder(creds: list[bytes]) -> None:
    """``registry keepsakes --all --pdf a4``'s work: PDFs written beside proof files, rendered in
    this process and in the worker processes (wall clock: the figure the issuer waits for)."""
    import tempfile

    from registry.anchor import keepsakes
    from registry.anchor.keepsakes import KeepsakeOptions, write
    from registry.core.canonical import document_digest

    opts = KeepsakeOptions("https://verify.example.edu", pdf="a4")
    for label, threshold in (("serial", 10**9), ("workers", 1)):
        keepsakes.PARALLEL_FROM = threshold
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            digests = []
            for c in creds:
                d = "0x" + document_digest(json.loads(c)).hex()
                (out / f"{d}.json").write_bytes(c)
                digests.append(d)
            t0 = time.perf_counter()
            n = write(out, digests, opts)
            wall = time.perf_counter() - t0
        emit(f"write_pdfs_{label}", docs=n, seconds=round(wall, 2), docs_per_s=round(n / wall, 1),
             workers=min(os.cpu_count() or 1, keepsakes.MAX_WORKERS) if label == "workers" else 1)


def verification(n: int) -> None:
    """A dropped PDF verified (extract + verify) against anvil, beside the same JSON."""
    from verify import anchor_credentials

    from registry.chain.anvil import start_anvil
    from registry.core.anchor_suite import decode_anchor_proof
    from registry.keepsakes.pdf import certificate_pdf
    from registry.settings import load_settings
    from registry.verify.qr import verification_link
    from registry.verify.session import VerificationSession

    node = start_anvil()
    try:
        registry, bodies = anchor_credentials(node.url, n)
        pdfs = []
        for b in bodies:
            p = decode_anchor_proof(json.loads(b)["proof"][-1])
            link = verification_link("https://verify.example.edu", p.digest, p.issuer)
            pdfs.append(certificate_pdf(b, link))
        settings = load_settings(rpc_url=node.url, trusted_registries=[registry], cache_staleness=60.0,
                                 finality="depth")
        with VerificationSession(settings) as session:
            for b in bodies:
                session.verify(b)  # the chain answers cached, as in a running service
            results = timed("verify_json", bodies, session.verify, chain="anvil, cached reads")
            assert all(r.status.value == "valid" for r in results)
            results = timed("verify_dropped_pdf", pdfs, session.verify, chain="anvil, cached reads")
            assert all(r.status.value == "valid" and r.source is not None for r in results)
    finally:
        node.stop()


def main() -> None:
    """Parse the arguments and run both parts."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=40, help="credentials per generation figure")
    ap.add_argument("--credentials", type=int, default=40, help="anchored credentials verified as PDFs")
    args = ap.parse_args()
    generation(args.docs)
    verification(args.credentials)


if __name__ == "__main__":
    main()
