"""Issuer pipeline benchmark: generated Open Badges 3.0 credentials from intake to proofs on disk.

Embedded defaults: SQLite, the local content store, anvil (started here on 127.0.0.1 and stopped
afterwards). Prints one JSON line per figure: time of each stage, credentials per second end to
end, peak memory, transactions sent, gas per credential. Nothing here asserts a time.

    .venv/bin/python bench/pipeline.py                 # 100,000 credentials, batches of 10,000
    .venv/bin/python bench/pipeline.py --count 5000    # a quick run
    .venv/bin/python bench/pipeline.py --sign          # issuer signatures (eddsa-rdfc-2022) at intake
    .venv/bin/python bench/pipeline.py --proof-files batch   # one proof file per batch (fast mode)

``cpu_seconds_per_credential`` is user + system time of this process and its intake workers over
the timed part (not anvil's): steadier than the wall clock on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def emit(figure: str, value: Any, unit: str = "", **extra: Any) -> None:
    """One JSON line on stdout."""
    print(
        json.dumps({"bench": "pipeline", "figure": figure, "value": value, "unit": unit, **extra}), flush=True
    )


def peak_rss_mib() -> float:
    """Peak resident memory of this process and its (finished) children, MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)


def cpu_seconds(skip: int | None = None) -> float:
    """User + system CPU seconds of this process, its finished children, and its live children
    (other than ``skip``) with the children they reaped: the intake workers are children of the
    multiprocessing fork server, which reaps them."""
    import psutil

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    for child in psutil.Process().children():
        if child.pid == skip:
            continue
        try:
            t = child.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def _write_docs(path: Path, docs: Any, signer: Any) -> int:
    """Write ``docs`` as JSON Lines (issuer id set to the signer's DID when signing); bytes written."""
    total = 0
    with open(path, "w", encoding="utf-8") as fh:
        for doc in docs:
            if signer is not None:
                doc["issuer"] = {**doc["issuer"], "id": signer.did}
            line = json.dumps(doc, ensure_ascii=False) + "\n"
            fh.write(line)
            total += len(line.encode())
    return total


def _written_sample(out: Path, mode: str, k: int) -> tuple[int, list[bytes]]:
    """How many credentials were written with their proofs, and ``k`` of them at random."""
    if mode == "each":
        files = sorted(out.glob("0x*.json"))
        return len(files), [f.read_bytes() for f in random.sample(files, min(k, len(files)))]
    n, sample = 0, []  # reservoir sample over every line of every batch file: memory bounded
    for f in sorted((out / "batches").glob("0x*.jsonl")):
        with open(f, "rb") as fh:
            for line in fh:
                n += 1
                if len(sample) < k:
                    sample.append(line)
                elif (j := random.randrange(n)) < k:
                    sample[j] = line
    return n, sample


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000, help="credentials to issue (default 100000)")
    ap.add_argument("--batch-size", type=int, default=10_000, help="credentials per batch (default 10000)")
    ap.add_argument("--workers", type=int, default=2, help="intake processes (default 2)")
    ap.add_argument("--db-url", default=None, help="database URL (default: SQLite in the work folder)")
    ap.add_argument("--workdir", type=Path, default=None, help="work folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--verify-sample", type=int, default=200, help="proof files checked against the chain")
    ap.add_argument(
        "--sign", action="store_true", help="sign every credential at intake (eddsa-rdfc-2022, did:key)"
    )
    ap.add_argument(
        "--proof-files", choices=("each", "batch"), default="each",
        help="each: one proof file per credential (default); batch: one JSON Lines file per batch",
    )
    args = ap.parse_args(argv)

    from bench_chain import bench_registry

    from registry.anchor.demo import generate
    from registry.anchor.intake import Intake
    from registry.anchor.pipeline import Pipeline, PipelineConfig
    from registry.chain.anvil import start_anvil
    from registry.db import open_database
    from registry.settings import load_settings

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    node = start_anvil()
    signer = None
    if args.sign:
        from registry.signing.keys import new_seed, signing_key

        signer = signing_key(new_seed())
    try:
        w3, issuer, reg = bench_registry(node.url)
        settings = load_settings(
            data_dir=work / "data",
            database_url=args.db_url,
            rpc_url=node.url,
            contract=reg.address,
            private_key="0x" + bytes(issuer.key).hex(),
            issuer_id=signer.did if signer is not None else None,  # signed: the documents name the did:key
        )
        from registry.anchor.context import expected_issuer_id, open_store_from

        issuer_id = expected_issuer_id(settings)  # read once from the chain, as `registry issue` does

        store = open_store_from(settings)
        db = open_database(settings=settings)

        docs = work / "credentials.jsonl"
        t0 = time.perf_counter()
        size = _write_docs(docs, generate(args.count, seed=f"bench-{time.time_ns()}"), signer)
        emit("generate_seconds", round(time.perf_counter() - t0, 3), "s", note="not part of the pipeline")
        emit("document_bytes_mean", round(size / args.count), "B")

        # start from a quiet filesystem: flush what earlier work (e.g. a previous run's cleanup)
        # left dirty, so that this run's syncs do not pay for it; then note the machine's load
        os.sync()
        emit("load_average_1m_start", round(os.getloadavg()[0], 2), "", cpus=os.cpu_count())

        # stage 1: intake (parse, validate, id, canonicalize, digest, pin, queue)
        t_start = time.perf_counter()
        cpu_start = cpu_seconds(skip=node.proc.pid)
        cpu_main_start = time.process_time()
        report = Intake(db, store, workers=args.workers, issuer_id=issuer_id, signer=signer).run(
            [docs], keep_accepted=False  # counted, not kept: memory flat in the number of credentials
        )
        t_intake = time.perf_counter() - t_start
        if report.accepted != args.count:
            raise SystemExit(f"intake accepted {report.accepted} of {args.count}: {report.outcomes[:3]}")
        emit(
            "intake_seconds",
            round(t_intake, 3),
            "s",
            credentials_per_second=round(args.count / t_intake),
            signed=signer is not None,
        )
        for step, secs in report.timings.items():  # inside intake: parse+canonicalize, pin, insert
            emit(f"intake_{step}_seconds", round(secs, 3), "s")

        cfg = PipelineConfig(
            output_dir=work / "data" / "proofs",
            batch_size=args.batch_size,
            confirmations=1,
            poll_interval=0.01,
            proof_files=args.proof_files,
        )
        pipe = Pipeline(db, store, w3, issuer, reg, cfg, say=lambda _m: None)
        stage_time: dict[str, float] = defaultdict(float)
        stage_cpu: dict[str, float] = defaultdict(float)  # this process only (user + system)
        stage_cpu["intake"] = time.process_time() - cpu_main_start
        t, c = time.perf_counter(), time.process_time()
        pipe.seal(force=True)
        stage_time["seal"] = time.perf_counter() - t
        stage_cpu["seal"] = time.process_time() - c
        names = {
            "sealed": "pin_manifest",
            "pinned": "sign_broadcast",
            "submitted": "mined",
            "mined": "confirm",
            "confirmed": "write_proofs",
        }
        while True:
            batches = pipe.open_batches()
            if not batches:
                break
            moved = False
            for b in batches:  # stage by stage over all batches, like run_once
                t, c = time.perf_counter(), time.process_time()
                moved |= bool(pipe.step(b))
                stage_time[names[b.status]] += time.perf_counter() - t
                stage_cpu[names[b.status]] += time.process_time() - c
            if not moved:
                time.sleep(0.01)
        t_total = time.perf_counter() - t_start
        cpu_total = cpu_seconds(skip=node.proc.pid) - cpu_start

        for name in ("seal", "pin_manifest", "sign_broadcast", "mined", "confirm", "write_proofs"):
            emit(f"stage_{name}_seconds", round(stage_time[name], 3), "s", cpu=round(stage_cpu[name], 3))
        emit("end_to_end_seconds", round(t_total, 3), "s", credentials=args.count)
        emit(
            "credentials_per_second",
            round(args.count / t_total),
            "1/s",
            target=">= 750 signed" if signer is not None else ">= 2000",
            signed=signer is not None,
            proof_files=args.proof_files,
        )
        emit("cpu_seconds", round(cpu_total, 2), "s", note="this process + intake workers, not anvil",
             intake_main_process=round(stage_cpu["intake"], 2))
        emit("cpu_ms_per_credential", round(1000 * cpu_total / args.count, 3), "ms")
        from sqlalchemy import func, select

        from registry.db import Transaction

        with db.session() as s:
            n_tx = s.scalar(select(func.count()).select_from(Transaction))
            gas = s.scalar(select(func.sum(Transaction.gas_used)))
        emit("transactions_sent", int(n_tx or 0), "")
        emit("gas_total", int(gas or 0), "gas")
        emit(
            "gas_per_credential",
            round(int(gas or 0) / args.count, 3),
            "gas",
            target="< 10 at 10,000 per batch",
            batch_size=args.batch_size,
        )
        emit("peak_memory_mib", peak_rss_mib(), "MiB")
        emit("load_average_1m_end", round(os.getloadavg()[0], 2), "")

        # correctness of what was measured (not timed): a random sample of proof files on chain
        from registry.core.anchor_suite import decode_anchor_proof
        from registry.core.canonical import canonical_bytes, sha256
        from registry.core.dataintegrity.didkey import public_key_for
        from registry.core.dataintegrity.eddsa_rdfc_2022 import verify_proof
        from registry.core.formats import split_proof

        n_written, sample = _written_sample(cfg.output_dir, args.proof_files, args.verify_sample)
        if n_written != args.count:
            raise SystemExit(f"{n_written} proofs written for {args.count} credentials")
        for line in sample:
            written = json.loads(line)
            body, proof = split_proof(written)
            assert proof is not None, "a written credential carries no anchor proof"
            if signer is not None:
                assert verify_proof(written, public_key_for).verified, "a signature does not verify"
            p = decode_anchor_proof(proof)
            assert "0x" + sha256(canonical_bytes(body)).hex() == p.digest
            assert reg.verify(p.issuer, p.digest_bytes(), p.path_bytes(), p.root_bytes()) == 0
        emit("proofs_verified_on_chain", len(sample), "credentials")
        db.close()
        store.close()
    finally:
        node.stop()
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
