"""Roster benchmark: a generated roster through ``registry issue --template --roster``,
``registry preview`` and ``registry anchor``, as the registrar runs them (the real CLI, SQLite,
the local content store, anvil started here on 127.0.0.1 and stopped afterwards); with
``--deliver``, then ``registry deliver`` to an aiosmtpd server in its own process on 127.0.0.1,
SIGKILLed after ``--kill-after`` seconds and run again: the server counts every message by its
``X-Credential-Digest`` header, so the JSON lines say how many credentials arrived once, twice
or not at all, and how many rows the rerun left ``unknown`` (settled as the issuer would, from the
server's own record: ``--mark-sent`` when it has the message, ``--resend`` when not).

Prints one JSON line per figure: wall and CPU seconds of each command (CPU: the command's
process, from ``RUSAGE_CHILDREN``), rows per second, the load average. Nothing here asserts a time.

    .venv/bin/python bench/roster.py                 # 10,000 rows
    .venv/bin/python bench/roster.py --rows 2000     # a quick run
    .venv/bin/python bench/roster.py --deliver       # … and deliver, killed once, to a local SMTP server
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REGISTRY_BIN = str(Path(sys.executable).with_name("registry"))


def emit(figure: str, value: Any, unit: str = "", **extra: Any) -> None:
    """One JSON line on stdout."""
    print(
        json.dumps({"bench": "roster", "figure": figure, "value": value, "unit": unit, **extra}), flush=True
    )


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float, Any]:
    """Run one ``registry`` command; (wall s, CPU s, its JSON output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([REGISTRY_BIN, *args, "--json"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode not in (0, 2):
        raise SystemExit(f"{args[0]} failed ({res.returncode}): {res.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(res.stdout)


def _smtp_serve(port: int, ready: Any, stop: Any, seen: Any) -> None:
    """The SMTP server process: count each message by its credential digest until ``stop``."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            digest = message_from_bytes(envelope.content).get("X-Credential-Digest", "?")
            seen[digest] = seen.get(digest, 0) + 1
            return "250 2.0.0 Ok: queued"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _deliver(env: dict[str, str], rows: int, kill_after: float) -> None:
    """``registry deliver`` killed once with SIGKILL, then rerun; every figure counted at the server."""
    import multiprocessing
    import signal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    manager = ctx.Manager()
    seen = manager.dict()
    ready, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=_smtp_serve, args=(port, ready, stop, seen), daemon=True)
    server.start()
    ready.wait(60)
    env = dict(env)
    env.update(
        REGISTRY_PUBLIC_URL="https://verify.example.edu",
        REGISTRY_MAIL_FROM="Registrar <registrar@example.edu>",
        REGISTRY_SMTP_HOST="127.0.0.1", REGISTRY_SMTP_PORT=str(port), REGISTRY_SMTP_TLS="off",
        REGISTRY_DELIVERY_RATE="1000000",
    )  # fmt: skip
    try:
        t0 = time.perf_counter()
        first = subprocess.Popen(
            [REGISTRY_BIN, "deliver", "--json", "--quiet"], env=env, stdout=subprocess.DEVNULL
        )
        time.sleep(kill_after)
        first.send_signal(signal.SIGKILL)
        first.wait()
        emit("deliver_killed_after", kill_after, "s", at_server=len(seen))
        wall, cpu, rep = _run(["deliver", "--quiet"], env)
        total = time.perf_counter() - t0
        emit("deliver_rerun_wall", round(wall, 2), "s", sent=rep.get("sent"), cpu_s=round(cpu, 2))
        unknown = _run(["deliver", "--status"], env)[2]["counts"].get("unknown", 0)
        emit("deliver_unknown_after_rerun", unknown, "rows")
        counts = dict(seen)
        emit(
            "deliver_messages_per_s",
            round(sum(counts.values()) / total, 1),
            "messages/s",
            wall_s=round(total, 1),
        )
        _settle(env, counts)
        counts = dict(seen)
        once = sum(1 for v in counts.values() if v == 1)
        emit("deliver_exactly_once", once, "credentials", of=rows)
        emit("deliver_twice_or_more", sum(1 for v in counts.values() if v > 1), "credentials")
        emit("deliver_missing", rows - len(counts), "credentials")
    finally:
        stop.set()
        server.join(30)
        manager.shutdown()


def _settle(env: dict[str, str], counts: dict[str, int]) -> None:
    """Settle ``unknown`` rows as the issuer would from the mail server's log, then deliver again."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env["REGISTRY_DATABASE_URL"])
    with engine.connect() as conn:
        unknown = [
            bytes(r[0]) for r in conn.execute(text("SELECT digest FROM deliveries WHERE status = 'unknown'"))
        ]
    engine.dispose()
    for digest in unknown:
        hex_digest = "0x" + digest.hex()
        flag = "--mark-sent" if counts.get(hex_digest) else "--resend"
        subprocess.run([REGISTRY_BIN, "deliver", flag, hex_digest, "--quiet"], env=env, capture_output=True)
        emit("deliver_settled_unknown", hex_digest, "", how=flag)
    if unknown:
        _run(["deliver", "--quiet"], env)


def _roster(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id,name,email,completion_date,grade\n")
        for i in range(rows):
            fh.write(
                f"S{i:06d},Learner {i},learner{i}@example.org,2026-{1 + i % 12:02d}-{1 + i % 28:02d},"
                f"{'ABC'[i % 3]}\n"
            )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000, help="roster rows (default 10000)")
    ap.add_argument("--batch-size", type=int, default=10_000, help="credentials per batch (default 10000)")
    ap.add_argument("--workdir", type=Path, default=None, help="work folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--deliver", action="store_true", help="then deliver to a local SMTP server, killed once")
    ap.add_argument("--kill-after", type=float, default=5.0, help="seconds before the SIGKILL of deliver")
    args = ap.parse_args(argv)

    from bench_chain import bench_registry

    from registry.chain.anvil import start_anvil

    work = args.workdir or Path(tempfile.mkdtemp(prefix="roster-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    node = start_anvil()
    try:
        _w3, issuer, reg = bench_registry(node.url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env.update(
            REGISTRY_CONFIG=str(work / "none.toml"),
            REGISTRY_DATA_DIR=str(work / "data"),
            REGISTRY_DATABASE_URL=f"sqlite:///{work / 'data' / 'registry.db'}",
            REGISTRY_RPC_URL=node.url,
            REGISTRY_CONTRACT=reg.address,
            REGISTRY_PRIVATE_KEY=issuer.key.hex(),
            REGISTRY_CONFIRMATIONS="1",
            REGISTRY_FINALITY="depth",
            REGISTRY_BATCH_SIZE=str(args.batch_size),
        )
        tpl = work / "course.json"
        subprocess.run(
            [
                REGISTRY_BIN,
                "template",
                "new",
                "--course",
                "Data Analysis with Python",
                "--out",
                str(tpl),
                "--force",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        roster = work / "learners.csv"
        _roster(roster, args.rows)
        emit("rows", args.rows, "rows")
        emit("load_average_1m_start", round(os.getloadavg()[0], 2), "", cpus=os.cpu_count())
        wall, cpu, rep = _run(["issue", "--template", str(tpl), "--roster", str(roster)], env)
        emit("issue_wall", round(wall, 2), "s", accepted=rep["accepted"], errors=rep["errors"])
        emit("issue_cpu", round(cpu, 2), "s")
        emit("issue_rows_per_s", round(args.rows / wall, 1), "rows/s", per_cpu_s=round(args.rows / cpu, 1))
        wall, cpu, pv = _run(["preview"], env)
        emit("preview_wall", round(wall, 2), "s", queued=pv["queued"], cpu_s=round(cpu, 2))
        wall, cpu, an = _run(["anchor"], env)
        emit(
            "anchor_wall",
            round(wall, 2),
            "s",
            credentials=an["credentials_anchored"],
            batches=an["batches_anchored"],
            cpu_s=round(cpu, 2),
        )
        emit("anchor_credentials_per_s", round(an["credentials_anchored"] / wall, 1), "credentials/s")
        wall, cpu, again = _run(["issue", "--template", str(tpl), "--roster", str(roster)], env)
        emit(
            "rerun_wall",
            round(wall, 2),
            "s",
            duplicate=again["duplicate"],
            accepted=again["accepted"],
            cpu_s=round(cpu, 2),
        )
        emit("rerun_rows_per_s", round(args.rows / wall, 1), "rows/s")
        if args.deliver:
            _deliver(env, args.rows, args.kill_after)
        emit("load_average_1m_end", round(os.getloadavg()[0], 2), "")
    finally:
        node.stop()
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
