"""Running the README's first command (``scripts/dev.sh``) as a child process in tests."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3

ROOT = Path(__file__).resolve().parents[2]
DEV_SH = ROOT / "scripts" / "dev.sh"
BATCH_ANCHORED_TOPIC = Web3.to_hex(Web3.keccak(text="BatchAnchored(bytes32,address,uint32,string)"))
PAGE_LINE = re.compile(r"Verification page: (http://127\.0\.0\.1:\d+/)")


def dev_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh newcomer: no REGISTRY_* settings but the data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["REGISTRY_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class DevRun:
    """``scripts/dev.sh ARGS`` in its own process group, its output collected line by line."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            ["bash", str(DEV_SH), *args],
            cwd=ROOT,
            env=env or dev_env(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._q.put(line)
        self._q.put(None)

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 600) -> re.Match[str]:
        """The first output line matching ``pattern`` (fails when the process ends first)."""
        deadline = time.monotonic() + timeout
        for line in list(self.lines):
            m = pattern.search(line)
            if m:
                return m
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern.pattern!r}; output:\n{self.output}")
            try:
                got = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if got is None:
                self.proc.wait(timeout=30)
                raise AssertionError(
                    f"dev.sh exited ({self.proc.returncode}) before {pattern.pattern!r}; "
                    f"output:\n{self.output}"
                )
            m = pattern.search(got)
            if m:
                return m

    def interrupt(self, timeout: float = 120) -> int:
        """Ctrl-C: SIGINT to the whole process group, as a terminal does; the exit code."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return rc

    def terminate(self, timeout: float = 120) -> int:
        """SIGTERM to the command alone (as a process manager does); the exit code."""
        self.proc.terminate()
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return rc

    def group_alive(self) -> list[str]:
        """Processes of the command's group (anvil included) still running; zombies have exited."""
        left = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[-1].split()
                if int(fields[2]) == self.proc.pid and fields[0] not in ("Z", "X"):
                    left.append(stat.parent.name)
        return left

    def kill(self) -> None:
        """Teardown: kill the process group if anything is left."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)


def rpc(url: str, method: str, *params: Any) -> Any:
    """One JSON-RPC call."""
    r = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10
    )
    r.raise_for_status()
    body = r.json()
    assert "error" not in body, body
    return body["result"]


def chain_facts(summary: dict[str, Any]) -> dict[str, Any]:
    """What must not change across a restart: code, anchors on chain, nonces, batches in the DBs."""
    url, address = summary["rpcUrl"], summary["contract"]
    logs = rpc(
        url,
        "eth_getLogs",
        {"address": address, "fromBlock": "0x0", "toBlock": "latest", "topics": [BATCH_ANCHORED_TOPIC]},
    )
    nonces = {
        i["address"]: int(rpc(url, "eth_getTransactionCount", i["address"], "latest"), 16)
        for i in summary["issuers"]
    }
    db_batches = {}
    for i in summary["issuers"]:
        db = Path(i["database"].removeprefix("sqlite:///"))
        with contextlib.closing(sqlite3.connect(db)) as conn:
            db_batches[i["slug"]] = conn.execute("SELECT count(*) FROM batches").fetchone()[0]
    return {
        "address": address,
        "code": rpc(url, "eth_getCode", address, "latest"),
        "anchored_events": len(logs),
        "anchored_roots": sorted(log["topics"][1] for log in logs),
        "nonces": nonces,
        "db_batches": db_batches,
    }


def read_summary(data_dir: Path) -> dict[str, Any]:
    """``<data>/devnet/demo.json``."""
    return json.loads((data_dir / "devnet" / "demo.json").read_text())


def verify_http(base: str, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST /api/v1/verify; (HTTP status, JSON answer)."""
    r = httpx.post(base + "api/v1/verify", json=doc, timeout=30)
    return r.status_code, r.json()
