"""Small real JSON-RPC proxies on 127.0.0.1 in front of ONE anvil, for quorum reads (issue 16).

Several anvil nodes are several chains, so the endpoints of a quorum test are proxies of one
node: an honest pass-through, liars that alter answers (a ``lookup`` rewritten so a revoked
credential reads as not revoked or a valid one as revoked, block hashes altered, logs dropped,
a finalized block claimed too high, a head one block behind), and broken ones (HTTP 429, slow,
garbage). A down endpoint is a port nothing listens on (:func:`down_url`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from registry.chain.anvil import free_port
from registry.chain.schema import FUNCTIONS

LOOKUP = "0x" + FUNCTIONS["lookup"].selector.hex()

Rewrite = Callable[[dict[str, Any], Any], Any]
"""(request call, its result) -> the result the proxy answers instead."""


@dataclass
class Proxy:
    """A running proxy: its URL and every batch it was sent (the methods of each request)."""

    url: str
    requests: list[list[str]] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        """HTTP requests it answered."""
        return len(self.requests)


def _flip(h: str) -> str:
    """A different hash of the same length."""
    return h[:-1] + ("0" if h[-1] != "0" else "1")


def set_credential_status(status: int) -> Rewrite:
    """A liar: every ``lookup`` answers credential status ``status`` (0 none, 1 revoked, 2 suspended)."""

    def rewrite(call: dict[str, Any], result: Any) -> Any:
        if call.get("method") == "eth_call" and str(call["params"][0].get("data", "")).startswith(LOOKUP):
            return result[:-64] + f"{status:064x}"
        return result

    return rewrite


def alter_hashes(call: dict[str, Any], result: Any) -> Any:
    """A liar on another chain: every block hash it answers (blocks and logs) is altered."""
    method = call.get("method")
    if method in ("eth_getBlockByNumber", "eth_getBlockByHash") and isinstance(result, dict):
        return {**result, "hash": _flip(result["hash"])}
    if method == "eth_getLogs" and isinstance(result, list):
        return [{**e, "blockHash": _flip(e["blockHash"])} for e in result]
    return result


def drop_logs(call: dict[str, Any], result: Any) -> Any:
    """A liar that hides every event."""
    return [] if call.get("method") == "eth_getLogs" else result


def finalized_is_latest(upstream: str) -> Rewrite:
    """A liar that calls its head finalized (so a fresh anchor would look final)."""

    def rewrite(call: dict[str, Any], result: Any) -> Any:
        if call.get("method") == "eth_getBlockByNumber" and call["params"][0] == "finalized":
            return _rpc(upstream, "eth_getBlockByNumber", ["latest", False])
        return result

    return rewrite


def one_block_behind(upstream: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A request rewrite: the endpoint's view of ``latest`` is the block before the node's head."""

    def before(call: dict[str, Any]) -> dict[str, Any]:
        head = int(_rpc(upstream, "eth_blockNumber", []), 16)
        behind = hex(head - 1)
        method, params = call.get("method"), list(call.get("params", []))
        if method == "eth_blockNumber":
            return {**call, "method": "eth_chainId", "params": [], "_answer": behind}
        if method == "eth_getBlockByNumber" and params and params[0] == "latest":
            params[0] = behind
        if method == "eth_call" and (len(params) < 2 or params[1] == "latest"):
            params = [params[0], behind]
        if method == "eth_getLogs" and params and params[0].get("toBlock", "latest") == "latest":
            params = [{**params[0], "toBlock": behind}]
        return {**call, "params": params}

    return before


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    return httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10
    ).json()["result"]


class _Handler(BaseHTTPRequestHandler):
    upstream = ""
    proxy: Proxy
    rewrite: Rewrite | None = None
    before: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    status = 200
    delay = 0.0
    garbage = False
    client: httpx.Client

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length))
        calls = request if isinstance(request, list) else [request]
        self.proxy.requests.append([str(c.get("method")) for c in calls])
        if self.delay:
            time.sleep(self.delay)
        if self.status != 200:
            return self._reply(self.status, b'{"error": "rate limited"}')
        if self.garbage:
            return self._reply(200, b'{"jsonrpc": "2.0", "id": 1, "result": "0xzz')
        try:
            answers = self._forward(calls)
        except (RuntimeError, httpx.HTTPError):  # stopped while a slow answer was still waiting
            return self._reply(502, b"{}")
        self._reply(200, json.dumps(answers if isinstance(request, list) else answers[0]).encode())

    def _forward(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The upstream's answers to ``calls`` (one batch), altered as configured."""
        sent = [self.before(dict(c)) for c in calls] if self.before is not None else calls
        fixed = [c.pop("_answer", None) for c in sent]
        got = self.client.post(self.upstream, json=sent).json()
        by_id = {a.get("id"): a for a in (got if isinstance(got, list) else [got])}
        out = []
        for call, answer_fixed in zip(calls, fixed, strict=True):
            answer = dict(by_id.get(call.get("id"), {"jsonrpc": "2.0", "id": call.get("id"), "result": None}))
            if answer_fixed is not None:
                answer["result"] = answer_fixed
            if self.rewrite is not None and "result" in answer:
                answer["result"] = self.rewrite(call, answer["result"])
            out.append(answer)
        return out

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@contextmanager
def proxy(
    upstream: str,
    *,
    rewrite: Rewrite | None = None,
    before: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    status: int = 200,
    delay: float = 0.0,
    garbage: bool = False,
) -> Iterator[Proxy]:
    """A proxy of ``upstream`` on 127.0.0.1: honest by default; ``rewrite`` alters results,
    ``before`` alters requests, ``status`` answers that HTTP status (429: rate limited),
    ``delay`` waits before answering, ``garbage`` answers truncated JSON."""
    port = free_port()
    p = Proxy(f"http://127.0.0.1:{port}/rpc/secret-key-{port}")
    with httpx.Client(timeout=10) as client:
        attrs = {
            "upstream": upstream,
            "proxy": p,
            "rewrite": staticmethod(rewrite) if rewrite else None,
            "before": staticmethod(before) if before else None,
            "status": status,
            "delay": delay,
            "garbage": garbage,
            "client": client,
        }
        server = ThreadingHTTPServer(("127.0.0.1", port), type("Handler", (_Handler,), attrs))
        server.daemon_threads = True
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            yield p
        finally:
            server.shutdown()
            server.server_close()
            t.join(timeout=5)


def down_url() -> str:
    """The URL of an endpoint that is down (nothing listens on its port)."""
    return f"http://127.0.0.1:{free_port()}/rpc/secret-key-down"


@contextmanager
def proxies(upstream: str, *specs: dict[str, Any]) -> Iterator[list[Proxy]]:
    """Several proxies of ``upstream``, one per ``specs`` entry (the keywords of :func:`proxy`)."""
    with ExitStack() as stack:
        yield [stack.enter_context(proxy(upstream, **spec)) for spec in specs]
