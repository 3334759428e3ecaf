"""A local anvil chain from node_modules (``@foundry-rs/anvil``), on 127.0.0.1 and a free port."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from registry.errors import ChainError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ANVIL_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"  # node wrapper of the npm package
ANVIL_CHAIN_ID = 31337

# anvil's default dev accounts (mnemonic "test test ... junk"), funded with 10,000 ETH each.
DEV_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)


def anvil_binary() -> Path:
    """The native anvil binary shipped in ``@foundry-rs/anvil-<os>-<arch>``, else the node wrapper.

    Running the binary itself (not the wrapper, which spawns it as a child) means a SIGKILL
    really ends anvil instead of orphaning it.
    """
    import platform

    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), ""
    )
    system = platform.system().lower()
    native = PROJECT_ROOT / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if arch and native.is_file() and os.access(native, os.X_OK):
        return native
    return ANVIL_BIN


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _rpc(url: str, method: str, params: list[object] | None = None, timeout: float = 2.0) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())["result"]


class Anvil:
    """A running anvil process; ``stop()`` sends SIGTERM so ``--state`` is written."""

    def __init__(
        self, proc: subprocess.Popen[bytes], port: int, log_path: Path, state_path: Path | None
    ) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.state_path = state_path

    def __repr__(self) -> str:
        return f"Anvil(url={self.url!r}, pid={self.proc.pid})"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc.poll() is None

    def rpc(self, method: str, *params: object) -> object:
        """One raw JSON-RPC call (e.g. ``evm_setNextBlockTimestamp``)."""
        return _rpc(self.url, method, list(params), timeout=10.0)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop with SIGTERM (anvil writes ``--state``), SIGKILL if it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._cleanup()

    def _cleanup(self) -> None:
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def kill(self) -> None:
        """Stop at once with SIGKILL (no state is written)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._cleanup()

    def __enter__(self) -> Anvil:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_anvil(
    *,
    port: int | None = None,
    state_path: Path | str | None = None,
    block_time: float | None = None,
    chain_id: int | None = None,
    timeout: float = 20.0,
    fast_finality: bool = False,
    slots_in_an_epoch: int | None = None,
) -> Anvil:
    """Start anvil on 127.0.0.1 (a free port unless given) and wait until it answers JSON-RPC.

    ``fast_finality``: transactions are still mined at once, an empty block follows every second
    and the ``finalized`` block trails the head by two blocks (``--mixed-mining --block-time 1
    --slots-in-an-epoch 1``), so an anchor is final about two seconds after it is mined.
    ``slots_in_an_epoch`` alone: ``finalized`` trails the head by two epochs, blocks only on demand.
    """
    binary = anvil_binary()
    if not binary.exists():
        raise ChainError(f"anvil not found at {binary} (run `npm ci`)")
    if port is not None and not port_free(port):
        raise ChainError(f"anvil did not start: port 127.0.0.1:{port} is already in use")
    last_error: Exception | None = None
    for _attempt in range(3):  # a free port can be taken between probe and bind
        p = port or free_port()
        cmd = [str(binary), "--host", "127.0.0.1", "--port", str(p)]
        if state_path is not None:
            cmd += ["--state", str(state_path)]
        if block_time is not None:
            cmd += ["--block-time", f"{block_time:g}"]
        if chain_id is not None:
            cmd += ["--chain-id", str(chain_id)]
        if slots_in_an_epoch is not None and not fast_finality:
            cmd += ["--slots-in-an-epoch", str(slots_in_an_epoch)]
        if fast_finality:
            cmd += ["--slots-in-an-epoch", "1", "--mixed-mining"]
            if block_time is None:
                cmd += ["--block-time", "1"]
        fd, log_name = tempfile.mkstemp(prefix="anvil-", suffix=".log")
        log = os.fdopen(fd, "wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        anvil = Anvil(proc, p, Path(log_name), Path(state_path) if state_path else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                _rpc(anvil.url, "eth_chainId")
                return anvil
            except Exception as exc:  # not up yet
                last_error = exc
                time.sleep(0.05)
        tail = ""
        with contextlib.suppress(OSError):
            tail = Path(log_name).read_text(errors="replace")[-500:]
        anvil.kill()
        if port is not None:
            break
    raise ChainError(f"anvil did not start: {last_error or 'exited'}; log: {tail.strip()}")
