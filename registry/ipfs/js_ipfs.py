"""Start and stop a real IPFS daemon: js-ipfs 0.66.1 (npm ``ipfs``) from the project's node_modules.

Used by the tests and the ``registry dev`` demo. The daemon runs ``--offline`` with preload off;
its repository is created on first start from a config in which the only listener is the RPC API
on ``127.0.0.1`` with a port the OS picks (``tcp/0``, so no port race): no swarm, gateway or gRPC
listeners, no bootstrap peers, no MDNS, no delegates. The real port is read from the ``api`` file
the daemon writes. Node 20 needs ``scripts/js-ipfs/polyfill.cjs`` preloaded
(``Promise.withResolvers``); the ``@multiformats/multiaddr`` pin lives in package.json.

An existing repository is reused (the demo keeps its pins); a ``repo.lock`` left by a crashed
daemon is removed when it is stale (js-ipfs refreshes a live one every few seconds).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from registry.errors import StoreError

__all__ = ["JsIpfs", "find_project_root", "repo_config", "start_js_ipfs"]

STALE_LOCK_SECONDS = 30.0


def find_project_root(start: Path | None = None) -> Path:
    """The folder holding ``node_modules/ipfs`` and ``scripts/js-ipfs`` (this checkout, or cwd)."""
    candidates = [Path(__file__).resolve().parents[2]]
    here = (start or Path.cwd()).resolve()
    candidates += [here, *here.parents]
    for c in candidates:
        if (c / "node_modules" / "ipfs" / "src" / "cli.js").is_file() and (
            c / "scripts" / "js-ipfs" / "polyfill.cjs"
        ).is_file():
            return c
    raise StoreError(
        "js-ipfs is not installed: no node_modules/ipfs next to scripts/js-ipfs (run scripts/setup.sh)",
        code="ipfs_daemon_failed",
    )


def repo_config() -> dict[str, object]:
    """The config merged into a new repo: loopback API on a free port, nothing else listening."""
    return {
        "Addresses": {
            "Swarm": [],
            "Announce": [],
            "NoAnnounce": [],
            "API": "/ip4/127.0.0.1/tcp/0",
            "Gateway": [],
            "RPC": "",  # falsy: no gRPC server (an empty list crashes its start)
            "Delegates": [],
        },
        "Bootstrap": [],
        "Discovery": {"MDNS": {"Enabled": False}, "webRTCStar": {"Enabled": False}},
        "Swarm": {"DisableNatPortMap": True},
    }


@dataclass
class JsIpfs:
    """A running js-ipfs daemon: ``api_url`` (http://127.0.0.1:port), ``stop()``."""

    process: subprocess.Popen[bytes]
    repo_dir: Path
    api_multiaddr: str
    api_url: str
    log_path: Path
    startup_seconds: float
    _log: IO[bytes] | None = field(default=None, repr=False)

    def __enter__(self) -> JsIpfs:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the daemon process is alive."""
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (SIGKILL after ``timeout``), then remove the repo lock and ``api`` file."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        _remove_lock(self.repo_dir)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the daemon printed."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _remove_lock(repo_dir: Path) -> None:
    for name in ("repo.lock", "api"):
        p = repo_dir / name
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _clear_stale_lock(repo_dir: Path) -> None:
    lock = repo_dir / "repo.lock"
    if not lock.exists():
        with contextlib.suppress(FileNotFoundError):
            (repo_dir / "api").unlink()
        return
    age = time.time() - lock.stat().st_mtime
    if age < STALE_LOCK_SECONDS:
        raise StoreError(
            f"the IPFS repo {repo_dir} is locked by a running daemon (repo.lock is {age:.0f} s old)",
            code="ipfs_daemon_failed",
        )
    _remove_lock(repo_dir)


def _api_url(multiaddr: str) -> str:
    parts = multiaddr.strip().split("/")
    # /ip4/127.0.0.1/tcp/40555/http
    if len(parts) < 5 or parts[1] != "ip4" or parts[3] != "tcp":
        raise StoreError(f"js-ipfs wrote an unexpected API address {multiaddr!r}", code="ipfs_daemon_failed")
    return f"http://{parts[2]}:{int(parts[4])}"


def start_js_ipfs(
    repo_dir: Path | str,
    *,
    timeout: float = 120.0,
    node: str = "node",
    project_root: Path | None = None,
    log_path: Path | None = None,
) -> JsIpfs:
    """Start js-ipfs on ``repo_dir`` (created when new) and wait until its RPC API answers."""
    repo_dir = Path(repo_dir).resolve()
    root = project_root or find_project_root()
    node_bin = shutil.which(node)
    if node_bin is None:
        raise StoreError(f"node ({node}) is not on PATH; js-ipfs needs Node.js", code="ipfs_daemon_failed")
    repo_dir.parent.mkdir(parents=True, exist_ok=True)
    if repo_dir.exists():
        _clear_stale_lock(repo_dir)
    log_path = log_path or repo_dir.parent / f"{repo_dir.name}.daemon.log"
    fd, cfg_name = tempfile.mkstemp(prefix="js-ipfs-config-", suffix=".json")
    cfg_path = Path(cfg_name)
    with os.fdopen(fd, "w") as f:
        json.dump(repo_config(), f)
    cmd = [
        node_bin,
        "-r",
        str(root / "scripts" / "js-ipfs" / "polyfill.cjs"),
        str(root / "node_modules" / "ipfs" / "src" / "cli.js"),
        "daemon",
        "--offline",
        "--enable-preload=false",
        "--init-config",
        str(cfg_path),
    ]
    env = {**os.environ, "IPFS_PATH": str(repo_dir)}
    env.pop("DEBUG", None)
    log = open(log_path, "wb")  # noqa: SIM115 - closed by JsIpfs.stop()
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the daemon through stop() only
        )
    except OSError as exc:
        log.close()
        cfg_path.unlink(missing_ok=True)
        raise StoreError(f"cannot start js-ipfs: {exc}", code="ipfs_daemon_failed") from exc
    daemon = JsIpfs(process, repo_dir, "", "", log_path, 0.0, log)
    try:
        _wait_ready(daemon, started + timeout)
    except BaseException:
        daemon.stop()
        raise
    finally:
        cfg_path.unlink(missing_ok=True)
    daemon.startup_seconds = time.monotonic() - started
    return daemon


def _wait_ready(daemon: JsIpfs, deadline: float) -> None:
    api_file = daemon.repo_dir / "api"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not daemon.running:
                raise StoreError(
                    f"js-ipfs exited with code {daemon.process.returncode} before its API answered:\n"
                    f"{daemon.log_tail()}",
                    code="ipfs_daemon_failed",
                )
            if not daemon.api_url and api_file.is_file():
                text = api_file.read_text().strip()
                if text:
                    daemon.api_multiaddr = text
                    daemon.api_url = _api_url(text)
            if daemon.api_url:
                try:
                    if client.post(daemon.api_url + "/api/v0/version").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
    raise StoreError(
        f"js-ipfs did not answer within the start timeout (repo {daemon.repo_dir}):\n{daemon.log_tail()}",
        code="ipfs_daemon_failed",
    )
