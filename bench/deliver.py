"""Delivery benchmark: `registry deliver` (in-process) to a local aiosmtpd server, messages/s.

The credentials are put in the anchored state through the database API the pipeline uses (one
done batch, proof files written), SQLite in a temporary folder; the SMTP server (aiosmtpd,
discarding what it counts) runs in its own process on 127.0.0.1 so that its CPU is not the
deliverer's. The rate limit is lifted (``--rate``) to measure the sender itself. Prints JSON lines;
nothing here asserts a time. Each message is one SMTP transaction on a reused connection and two
database commits (``sending`` before the end of data, ``sent`` after the answer).

    .venv/bin/python bench/deliver.py                  # 10,000 credentials
    .venv/bin/python bench/deliver.py --count 1000     # a quick run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def emit(figure: str, value: Any, unit: str = "", **extra: Any) -> None:
    """One JSON line on stdout."""
    print(
        json.dumps({"bench": "deliver", "figure": figure, "value": value, "unit": unit, **extra}), flush=True
    )


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _serve(port: int, ready: Any, stop: Any, counts: Any, cpu: Any) -> None:
    """The SMTP server process: accept and count messages until ``stop`` is set."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            counts[0] += 1
            counts[1] += len(envelope.content)
            return "250 2.0.0 Ok: queued"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    cpu.value = time.process_time()


def _put_anchored(db: Any, out: Path, n: int) -> None:
    from registry.anchor.demo import badge
    from registry.core.canonical import canonical_bytes, sha256
    from registry.db import Batch, utcnow
    from registry.db.models import credentials_table
    from registry.db.states import BatchState, CredentialState

    out.mkdir(parents=True, exist_ok=True)
    now = utcnow()
    with db.session() as s:
        batch = Batch(root=b"\x01" * 32, count=n, status=BatchState.DONE, sealed_at=now, anchored_at=now,
                      done_at=now, issuer="0x70997970C51812dc3A010C7d01b50e0d17dc79C8")  # fmt: skip
        s.add(batch)
        s.commit()
        batch_id = batch.id
    rows = []
    for i in range(n):
        doc = badge(i, seed="bench-deliver")
        email = f"learner{i}@example.org"
        doc["credentialSubject"]["identifier"] = [
            {"type": "IdentityObject", "identityType": "emailAddress", "hashed": False, "identityHash": email}
        ]
        body = canonical_bytes(doc)
        digest = sha256(body)
        rows.append({"digest": digest, "source_digest": digest, "cid": "b" + digest.hex(), "kind": "ob3",
                     "status": CredentialState.ANCHORED, "batch_id": batch_id, "leaf_index": i,
                     "document": body, "queued_at": now, "anchored_at": now})  # fmt: skip
        (out / f"0x{digest.hex()}.json").write_bytes(body)
    with db.begin() as conn:
        for k in range(0, n, 1000):
            conn.execute(credentials_table.insert(), rows[k : k + 1000])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=1e9, help="messages/s limit (default: none in effect)")
    args = ap.parse_args(argv)

    from registry.db import open_database
    from registry.deliver.message import sender_address
    from registry.deliver.run import Deliverer, DeliveryConfig
    from registry.deliver.smtp import SmtpClient, SmtpConfig
    from registry.deliver.template import MessageTemplate

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context("fork")
    ready, stop, counts, server_cpu = ctx.Event(), ctx.Event(), ctx.Array("q", 2), ctx.Value("d", 0.0)
    server = ctx.Process(target=_serve, args=(port, ready, stop, counts, server_cpu), daemon=True)
    server.start()
    ready.wait(30)
    with tempfile.TemporaryDirectory(prefix="bench-deliver-") as tmp:
        db = open_database(f"sqlite:///{Path(tmp) / 'registry.db'}")
        out = Path(tmp) / "proofs"
        _put_anchored(db, out, args.count)
        load_before = loadavg()
        deliverer = Deliverer(
            db, SmtpClient(SmtpConfig("127.0.0.1", port, "off", timeout=30, helo="example.edu")),
            MessageTemplate.load(None), sender_address("Registrar <registrar@example.edu>"),
            DeliveryConfig(out, "https://verify.example.edu", rate=args.rate, backoff=0.1),
        )  # fmt: skip
        cpu0, wall0 = time.process_time(), time.perf_counter()
        report = deliverer.run()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        db.close()
    stop.set()
    server.join(30)
    extra = {
        "count": args.count,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "cpus": os.cpu_count(),
    }
    emit("messages_sent", report.sent, "messages", **extra)
    emit("messages_at_server", int(counts[0]), "messages", **extra)
    emit("mean_message_bytes", round(counts[1] / max(counts[0], 1)), "bytes", **extra)
    emit("wall_time", round(wall, 2), "s", **extra)
    emit("throughput", round(report.sent / wall, 1), "messages/s", **extra)
    emit("deliverer_cpu_per_message", round(cpu / max(report.sent, 1) * 1000, 3), "ms", **extra)
    emit("server_cpu_per_message", round(server_cpu.value / max(counts[0], 1) * 1000, 3), "ms", **extra)
    emit("throughput_per_cpu_second", round(report.sent / cpu, 1) if cpu else None, "messages/cpu-s", **extra)
    return 0 if report.sent == args.count == counts[0] else 1


if __name__ == "__main__":
    raise SystemExit(main())
