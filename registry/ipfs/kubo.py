"""A content store on an IPFS daemon through the Kubo RPC API (``/api/v0``), over plain httpx.

Why httpx and not ``ipfshttpclient``: its last release (0.7.0, 2021) is unmaintained;
``ipfshttpclient.connect()`` refuses every daemon newer than 0.8 (Kubo and js-ipfs alike), and
``Client(addr)``, which skips that check, goes through ``requests`` with deprecated urllib3
arguments (a FutureWarning on every call) and offers no control of per-call timeouts, retries or
the RPC's ``offline``/``timeout`` flags. The RPC is a handful of POSTs, httpx is already a
dependency, and owning the calls gives exact timeouts, bounded retries and error messages that
name the daemon. ``ipfs_api`` accepts a multiaddr (``/ip4/127.0.0.1/tcp/5001``) or a URL.

Calls (all POST; the RPC answers GET with 405):

- ``put``: ``block/put?cid-codec=raw&format=raw&mhtype=sha2-256&pin=true``. ``block/put`` rather
  than ``add``: ``add`` makes a dag-pb DAG above one chunk (256 KiB), whose CID is not the digest.
  ``cid-codec`` is Kubo's name, ``format`` is the one js-ipfs 0.66 reads (Kubo treats
  ``format=raw`` as a no-op alias). Above the 1 MiB block limit ``allow-big-block=true`` is sent.
  js-ipfs caps the ``block/put`` request body at 1 MiB (HTTP 413); then the bytes go through
  ``add`` as one raw leaf (``cid-version=1&raw-leaves=true&chunker=size-<len>``), which gives the
  same raw CID. Either way the answer is decoded and compared with the local CID.
- ``get``: ``block/get``; ``has``: ``pin/ls`` then ``block/stat``; ``pin``: ``pin/add``; all with
  ``offline=true`` (Kubo: answer from the local repo only) and a daemon-side ``timeout``
  (js-ipfs ignores ``offline`` and waits for a missing block until that timeout).

Transport failures (refused, reset, timeouts) and 502/503/504 answers are retried ``retries``
times with exponential backoff; then ``store_unavailable`` names the daemon's address. Errors the
daemon reports (HTTP 4xx/500 with a JSON ``Message``) are not retried.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from types import TracebackType
from typing import Any

import httpx

from registry.core.cid import cid_from_digest
from registry.errors import ConfigError, StoreError
from registry.ipfs.base import (
    DEFAULT_MAX_BYTES,
    IPFS_BLOCK_LIMIT,
    ContentNotFound,
    check_content,
    check_daemon_cid,
    check_size,
    normalize_cid,
)

__all__ = ["KuboStore", "api_base_url"]

_RETRY_STATUS = frozenset({502, 503, 504})
_ANSWER_LIMIT = 1024 * 1024  # JSON answers and error bodies are small
_MISSING = ("not found", "could not find", "timed out", "no such", "not pinned", "unwanted")
_MULTIADDR = re.compile(
    r"^/(?P<proto>ip4|ip6|dns|dns4|dns6)/(?P<host>[^/]+)/tcp/(?P<port>\d{1,5})(?:/(?P<scheme>https?))?/?$"
)


def api_base_url(api: str) -> str:
    """``http(s)://host:port`` of a daemon given as a multiaddr or a URL (``/api/v0`` stripped)."""
    api = (api or "").strip()
    m = _MULTIADDR.match(api)
    if m:
        host = m["host"]
        if m["proto"] == "ip6":
            host = f"[{host}]"
        return f"{m['scheme'] or 'http'}://{host}:{int(m['port'])}"
    if api.startswith(("http://", "https://")) and httpx.URL(api).host:
        base = api.rstrip("/")
        return base[: -len("/api/v0")] if base.endswith("/api/v0") else base
    raise ConfigError(
        f"IPFS API address {api!r} is neither a multiaddr (/ip4/127.0.0.1/tcp/5001) nor an http(s) URL",
        code="config_error",
    )


class _RpcError(Exception):
    """An error the daemon reported itself (not a transport failure)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def missing(self) -> bool:
        low = self.message.lower()
        return any(word in low for word in _MISSING)


class KuboStore:
    """A :class:`~registry.ipfs.base.ContentStore` on a Kubo-RPC daemon (Kubo or js-ipfs)."""

    def __init__(
        self,
        api: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.2,
        lookup_timeout: float = 5.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if retries < 0:
            raise ConfigError("retries must be >= 0")
        self.base_url = api_base_url(api)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.lookup_timeout = lookup_timeout
        self.max_bytes = max_bytes
        self._client = httpx.Client(
            base_url=self.base_url + "/api/v0/",
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            trust_env=False,  # a daemon on 127.0.0.1 must not go through an HTTP proxy
        )

    def __repr__(self) -> str:
        return f"KuboStore({self.base_url!r})"

    def __enter__(self) -> KuboStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def where(self) -> str:
        """How errors name the daemon."""
        return f"the IPFS daemon at {self.base_url}"

    # -- transport ---------------------------------------------------------------------------
    def _post(
        self,
        command: str,
        params: dict[str, str],
        *,
        files: dict[str, Any] | None = None,
        limit: int = _ANSWER_LIMIT,
    ) -> bytes:
        """POST one RPC command with bounded retries and return the body (at most ``limit`` bytes).

        ``_RpcError`` for errors the daemon reports; ``store_unavailable`` when it cannot be reached.
        """
        last: str = ""
        attempts = self.retries + 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 5.0))
            try:
                with self._client.stream("POST", command, params=params, files=files) as resp:
                    status = resp.status_code
                    if status in _RETRY_STATUS:
                        last = f"HTTP {status}"
                        continue
                    body = self._read(resp, limit if status == 200 else _ANSWER_LIMIT, command)
            except httpx.TimeoutException as exc:
                last = f"timed out after {self.timeout:g} s ({type(exc).__name__})"
                continue
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if status == 200:
                return body
            raise _RpcError(status, self._message(status, body))
        raise StoreError(
            f"{self.where} is unavailable: {command} failed {attempts} time(s), last: {last}",
            code="store_unavailable",
            address=self.base_url,
        )

    def _read(self, resp: httpx.Response, limit: int, command: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise StoreError(
                    f"{self.where} answered {command} with more than {limit} bytes: refused",
                    code="store_error",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _message(status: int, body: bytes) -> str:
        try:
            obj = json.loads(body)
            if isinstance(obj, dict) and obj.get("Message"):
                return f"HTTP {status}: {obj['Message']}"
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
        return f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"

    def _json(self, body: bytes, command: str) -> dict[str, Any]:
        """The last JSON object of an answer (``add`` streams one object per line)."""
        text = body.decode("utf-8", "replace")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        try:
            obj = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            raise StoreError(f"{self.where} answered {command} with {text[:200]!r}, not JSON")
        return obj

    def _lookup_params(self, cid: str) -> dict[str, str]:
        return {"arg": cid, "offline": "true", "timeout": f"{self.lookup_timeout:g}s"}

    # -- store -------------------------------------------------------------------------------
    def put(self, data: bytes) -> str:
        """Store and pin ``data`` as one raw block; the daemon's CID must equal the local one."""
        check_size(data, self.max_bytes)
        data = bytes(data)
        cid = cid_from_digest(hashlib.sha256(data).digest())
        files = {"file": ("blob", data, "application/octet-stream")}
        params = {
            "cid-codec": "raw",
            "format": "raw",
            "mhtype": "sha2-256",
            "pin": "true",
            "cid-base": "base32",
        }
        if len(data) > IPFS_BLOCK_LIMIT:
            params["allow-big-block"] = "true"
        try:
            returned = self._json(self._post("block/put", params, files=files), "block/put").get("Key")
        except _RpcError as exc:
            if exc.status != 413:
                raise StoreError(f"{self.where} refused block/put of {cid}: {exc.message}", cid=cid) from None
            # js-ipfs: request body over 1 MiB. One raw leaf through `add` has the same CID.
            add = {
                "cid-version": "1",
                "raw-leaves": "true",
                "chunker": f"size-{max(len(data), 262144)}",
                "hash": "sha2-256",
                "pin": "true",
                "cid-base": "base32",
            }
            try:
                body = self._post("add", add, files=files)
            except _RpcError as exc2:
                raise StoreError(f"{self.where} refused add of {cid}: {exc2.message}", cid=cid) from None
            returned = self._json(body, "add").get("Hash")
        return check_daemon_cid(cid, returned, where=self.where)

    def get(self, cid: str) -> bytes:
        """The bytes of ``cid`` from the daemon, re-hashed before they are returned."""
        canonical, digest = normalize_cid(cid)
        try:
            body = self._post("block/get", self._lookup_params(canonical), limit=self.max_bytes)
        except _RpcError as exc:
            if exc.missing:
                raise ContentNotFound(
                    f"{canonical} is not held by {self.where} ({exc.message})", cid=canonical
                ) from None
            raise StoreError(f"{self.where} failed block/get of {canonical}: {exc.message}") from None
        return check_content(canonical, digest, body, where=self.where)

    def has(self, cid: str) -> bool:
        """True when the daemon holds ``cid`` locally (pinned, or present in its blockstore)."""
        canonical, _ = normalize_cid(cid)
        try:
            self._post("pin/ls", {**self._lookup_params(canonical), "type": "recursive"})
            return True
        except _RpcError:
            pass
        try:
            self._post("block/stat", self._lookup_params(canonical))
            return True
        except _RpcError as exc:
            if exc.missing:
                return False
            raise StoreError(f"{self.where} failed block/stat of {canonical}: {exc.message}") from None

    def pin(self, cid: str) -> None:
        """Pin ``cid`` (already held) on the daemon; ``ContentNotFound`` when it is not there."""
        canonical, _ = normalize_cid(cid)
        try:
            self._post("pin/add", self._lookup_params(canonical))
        except _RpcError as exc:
            if exc.missing:
                raise ContentNotFound(
                    f"cannot pin {canonical}: not held by {self.where}", cid=canonical
                ) from None
            raise StoreError(f"{self.where} failed pin/add of {canonical}: {exc.message}") from None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()
