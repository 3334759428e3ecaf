"""Connection guards of ``registry serve``: what uvicorn and httptools do not enforce themselves.

Read in uvicorn 0.54 / httptools 0.9 (``uvicorn/protocols/http/httptools_impl.py``):

* there is no header read timeout: the keep-alive timer is armed only after a response, so a
  connection that never finishes its headers (slow loris) is held forever;
* there is no header size cap: httptools (llhttp) accumulates header names and values without a
  bound (a 100 MB header costs seconds of CPU); only the h11 backend has
  ``h11_max_incomplete_event_size``;
* ``--limit-concurrency`` counts open *connections* (idle ones included) and answers 503 to every
  request once they reach the limit: 20,000 idle sockets would lock everybody out;
* there is no body read timeout.

:class:`GuardedHttpToolsProtocol` adds, per connection: a header timeout (408, then close), a
header size cap counted on the raw bytes *before* the parser sees them (431, then close), and a
cap on open connections that closes the oldest *idle* connection (no request in progress) to
make room, so a flood of idle sockets cannot keep a real client (or ``/healthz``) out. The body
timeout and the request concurrency limit are ASGI middlewares in :mod:`registry.verify.service`.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL_PATH = "registry.verify.http:GuardedHttpToolsProtocol"


@dataclass(frozen=True)
class ConnectionLimits:
    """Per-connection limits of the guarded protocol (the settings' values, see ``Settings``)."""

    header_timeout: float = 10.0
    max_header_bytes: int = 32 * 1024
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, settings: Any) -> ConnectionLimits:
        """The limits a ``Settings`` object names."""
        return cls(
            header_timeout=settings.header_timeout,
            max_header_bytes=settings.max_header_bytes,
            max_connections=settings.max_connections,
        )


def _raw_problem(status: int, reason: str, code: str, detail: str) -> bytes:
    """A complete HTTP/1.1 problem+json response that closes the connection."""
    body = json.dumps(
        {
            "type": "urn:credential-registry:problem:" + code,
            "title": reason,
            "status": status,
            "detail": detail,
            "code": code,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout, a header cap and idle eviction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits: ConnectionLimits = getattr(self.config, "registry_limits", None) or ConnectionLimits()
        self._in_headers = True  # reading a request line + headers (or waiting for one)
        self._header_bytes = 0
        self._tail = b""
        self._header_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- connection bookkeeping -----------------------------------------------------------------
    def _registry(self) -> OrderedDict[GuardedHttpToolsProtocol, None]:
        """Open guarded connections of this server, oldest first (kept on its shared state)."""
        reg = getattr(self.server_state, "registry_connections", None)
        if reg is None:
            reg = OrderedDict()
            self.server_state.registry_connections = reg  # type: ignore[attr-defined]
        return reg

    @property
    def idle(self) -> bool:
        """True when no request is in progress on this connection (nothing would be lost)."""
        return self._in_headers and (self.cycle is None or self.cycle.response_complete)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Register the connection, make room if over the cap, start the header clock."""
        super().connection_made(transport)
        reg = self._registry()
        reg[self] = None
        self._arm_header_timer()
        if len(reg) > self.limits.max_connections:
            victim = next((c for c in reg if c is not self and c.idle and not c._refused), None)
            if victim is not None:
                victim._close(None)
            else:  # every other connection is busy: this one waits for nothing, it is refused
                self._refuse(503, "Service Unavailable", "too_many_connections", "too many connections")

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection and its timer."""
        self._cancel_header_timer()
        self._registry().pop(self, None)
        super().connection_lost(exc)

    # -- header phase -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        """Count header bytes before the parser sees them; refuse over the cap."""
        if self._refused:
            return
        if self._in_headers:
            if self._header_timer is None:
                self._arm_header_timer()
            if self._header_overflow(data):
                self._refuse(
                    431,
                    "Request Header Fields Too Large",
                    "headers_too_large",
                    f"request line and headers are over the {self.limits.max_header_bytes}-byte cap",
                )
                return
        super().data_received(data)

    def _header_overflow(self, data: bytes) -> bool:
        """Add this chunk's header bytes (up to the blank line, if it is in there) to the count."""
        buf = self._tail + data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self._header_bytes += len(data)
            self._tail = buf[-3:]
            return self._header_bytes > self.limits.max_header_bytes
        self._header_bytes += end + 4 - len(self._tail)
        over = self._header_bytes > self.limits.max_header_bytes
        self._header_bytes, self._tail = 0, b""
        return over

    def on_headers_complete(self) -> None:
        """Headers are in: stop the header clock (the body has its own timeout)."""
        self._in_headers = False
        self._header_bytes, self._tail = 0, b""
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The request is fully read: the next bytes are the next request's headers."""
        super().on_message_complete()
        self._in_headers = True

    # -- timers and closing -------------------------------------------------------------------------
    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self._in_headers or self.transport is None or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is being made; its connection is not idle
        if self._header_bytes or self._tail:
            self._refuse(
                408,
                "Request Timeout",
                "request_timeout",
                f"request headers not received within {self.limits.header_timeout:g} s",
            )
        else:
            self._close(None)

    def _refuse(self, status: int, reason: str, code: str, detail: str) -> None:
        """Answer one problem+json response and close; nothing more is read."""
        self._refused = True
        self._cancel_header_timer()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_raw_problem(status, reason, code, detail))
        self._close(None)

    def _close(self, _exc: Exception | None) -> None:
        self._refused = True
        self._cancel_header_timer()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(target: Any, settings: Any, **kwargs: Any) -> Any:
    """A ``uvicorn.Config`` for ``target`` with the guarded protocol and the settings' limits."""
    import uvicorn

    config = uvicorn.Config(
        target,
        http=PROTOCOL_PATH,
        timeout_keep_alive=settings.keep_alive_timeout,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        **kwargs,
    )
    config.registry_limits = ConnectionLimits.from_settings(settings)  # type: ignore[attr-defined]
    return config
