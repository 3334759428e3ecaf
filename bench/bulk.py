"""Benchmark of bulk verification: credentials per second through ``POST /api/v1/verify/bulk`` and
through ``registry verify`` given many paths, against anvil.

Starts anvil, anchors ``--credentials`` credentials in one batch (bench/verify.py's helpers;
``--sign``: Open Badges 3.0 signed with eddsa-rdfc-2022 by a did:key issuer), then:

- ``endpoint``: ``registry serve`` (one worker) on 127.0.0.1; ``--rounds`` requests, each posting
  every credential (as separate multipart files, then as one ZIP). Round 1 reads the chain; later
  rounds find the service's memo and chain cache warm. Wall time per request and the server
  process's CPU time (utime + stime from /proc).
- ``cli``: ``registry verify <folder>`` (one process: session start, chain reads, every file) and
  the same with ``--json``; wall and CPU time of the child process.

Prints one JSON line per figure, with the load average (the machine is shared: CPU seconds are
the steadier figure). Usage: ``python bench/bulk.py [--credentials 200] [--rounds 3] [--sign]``
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from registry.chain.anvil import free_port, start_anvil  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_verify", ROOT / "bench" / "verify.py")
assert _spec is not None and _spec.loader is not None
bench_verify: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_verify)

REGISTRY = [sys.executable, "-c", "from registry.cli.main import run; run()"]


def _env(rpc_url: str, registry: str, data_dir: Path, n: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_RPC_URL=rpc_url,
        REGISTRY_TRUSTED_REGISTRIES=json.dumps([registry]),
        REGISTRY_FINALITY="depth",
        REGISTRY_DATA_DIR=str(data_dir),
        REGISTRY_BULK_MAX_FILES=str(max(n, 200)),
        REGISTRY_BULK_MAX_REQUEST_BYTES=str(256 * 1024 * 1024),
        REGISTRY_BULK_MAX_TOTAL_BYTES=str(256 * 1024 * 1024),
        REGISTRY_BODY_TIMEOUT="120",
    )
    return env


def _cpu_of(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [*REGISTRY, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server did not start: {err[-2000:]}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _zip(bodies: list[bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, b in enumerate(bodies):
            zf.writestr(f"credentials/{i:05d}.json", b)
    return buf.getvalue()


def _line(**fields: Any) -> None:
    print(
        json.dumps({"bench": "bulk", **fields, "loadavg": os.getloadavg(), "cpus": os.cpu_count()}),
        flush=True,
    )


def bench_endpoint(env: dict[str, str], bodies: list[bytes], rounds: int, signed: bool) -> None:
    """Bulk requests against one server process: multipart files, then one ZIP."""
    proc, port = _serve(env)
    try:
        archive = _zip(bodies)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            for form in ("files", "zip"):
                for k in range(rounds):
                    files = (
                        [("files", (f"{i}.json", b)) for i, b in enumerate(bodies)]
                        if form == "files"
                        else [("files", ("bundle.zip", archive))]
                    )
                    cpu0, t0 = _cpu_of(proc.pid), time.perf_counter()
                    r = client.post("/api/v1/verify/bulk", files=files)
                    wall, cpu = time.perf_counter() - t0, _cpu_of(proc.pid) - cpu0
                    body = r.json()
                    assert r.status_code == 200 and body["valid"] == len(bodies), (
                        r.status_code,
                        r.text[:500],
                    )
                    _line(
                        figure="endpoint",
                        upload=form,
                        round=k + 1,
                        credentials=len(bodies),
                        signed=signed,
                        wall_s=round(wall, 3),
                        server_cpu_s=round(cpu, 3),
                        credentials_per_s=round(len(bodies) / wall, 1),
                        credentials_per_cpu_s=round(len(bodies) / cpu, 1) if cpu else None,
                        body_bytes=len(archive) if form == "zip" else sum(map(len, bodies)),
                    )
    finally:
        _stop(proc)


def bench_cli(env: dict[str, str], bodies: list[bytes], signed: bool, tmp: Path) -> None:
    """``registry verify <folder>`` (table) and ``--json``, one process each."""
    folder = tmp / "creds"
    folder.mkdir()
    for i, b in enumerate(bodies):
        (folder / f"{i:05d}.json").write_bytes(b)
    for output in ("table", "json"):
        extra = ["--json"] if output == "json" else []
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        res = subprocess.run(
            [*REGISTRY, "verify", str(folder), *extra],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert res.returncode == 0, (res.returncode, res.stdout[-1000:], res.stderr[-2000:])
        _line(
            figure="cli",
            output=output,
            credentials=len(bodies),
            signed=signed,
            wall_s=round(wall, 3),
            cpu_s=round(cpu, 3),
            credentials_per_s=round(len(bodies) / wall, 1),
            credentials_per_cpu_s=round(len(bodies) / cpu, 1) if cpu else None,
            note="one process: interpreter and session start, chain reads, every file",
        )


def main() -> None:
    """Run both figures and print JSON lines."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--credentials", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3, help="bulk requests per upload form")
    ap.add_argument("--sign", action="store_true", help="OB 3.0 credentials signed with eddsa-rdfc-2022")
    ap.add_argument("--figures", default="endpoint,cli")
    args = ap.parse_args()
    anvil = start_anvil()
    try:
        registry, bodies = bench_verify.anchor_credentials(anvil.url, args.credentials, args.sign)
        with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
            env = _env(anvil.url, registry, Path(tmp) / "data", args.credentials)
            figures = args.figures.split(",")
            if "endpoint" in figures:
                bench_endpoint(env, bodies, args.rounds, args.sign)
            if "cli" in figures:
                bench_cli(env, bodies, args.sign, Path(tmp))
    finally:
        anvil.stop()


if __name__ == "__main__":
    main()
