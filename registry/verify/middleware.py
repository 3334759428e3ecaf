"""The service's pure ASGI middlewares: the request guard and the concurrency limit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from fastapi.responses import JSONResponse, Response

from registry.verify.problems import problem

log = logging.getLogger("registry.verify.service")

JSON_TYPES = ("application/json", "application/ld+json", "application/vc+ld+json")
MULTIPART_TYPES = ("multipart/form-data",)
#: media types each POST endpoint accepts; anything else is 415 before the body is read, so a web
#: page cannot make its visitors' browsers post to the API without a CORS preflight
CONTENT_TYPES: dict[str, tuple[str, ...]] = {
    "/api/v1/verify": JSON_TYPES,
    "/api/v1/verify/file": MULTIPART_TYPES,
    # issue 14 items 4-5 (vcapi): the W3C VC-API and bulk verification
    "/credentials/verify": JSON_TYPES,
    "/presentations/verify": JSON_TYPES,
    "/api/v1/verify/bulk": MULTIPART_TYPES,
}


def _media_type(headers: Any) -> str:
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower().decode("latin-1")
    return ""


class RequestGuard:
    """Pure ASGI middleware: content type, body size cap, body read timeout, client disconnects.

    * a POST to an endpoint of :data:`CONTENT_TYPES` with another media type: 415 problem+json;
    * a body over ``max_bytes`` (declared or streamed, chunked included): 413;
    * a body not received within ``body_timeout`` seconds of the request: 408, connection closed;
    * a client that goes away mid-request: one log line, no traceback, no answer.

    Whatever the app does with the error it meets while reading (FastAPI turns any exception in
    form parsing into a 400), the guard drops the app's answer and sends its own.
    """

    def __init__(
        self, app: Any, max_bytes: int, body_timeout: float = 30.0, path_caps: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
        self.path_caps = dict(path_caps or {})  # a larger (or smaller) body cap for some paths

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path")
        wanted = CONTENT_TYPES.get(path or "")
        if wanted is not None and scope.get("method") == "POST":
            got = _media_type(scope.get("headers", ()))
            if got not in wanted:
                await _refuse(
                    scope,
                    send,
                    problem(
                        415,
                        "unsupported_media_type",
                        f"{path} accepts Content-Type {' or '.join(wanted)}, not {got or 'none'}",
                        path,
                        headers={"Accept-Post": ", ".join(wanted)},
                    ),
                )
                return
        max_bytes = self.path_caps.get(path or "", self.max_bytes)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.strip().isdigit() and int(value) > max_bytes:
                await _refuse(scope, send, self._too_large(path, max_bytes), close=True)
                return
        state = _GuardState()
        deadline = anyio.current_time() + self.body_timeout

        async def guarded_receive() -> Any:
            if state.body_done:
                return await receive()
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())) as timer:
                message = await receive()
            if timer.cancelled_caught:
                state.failure = problem(
                    408, "request_timeout", f"request body not received within {self.body_timeout:g} s", path
                )
                raise _Refused()
            if message["type"] == "http.request":
                state.seen += len(message.get("body", b""))
                if state.seen > max_bytes:
                    state.failure = self._too_large(path, max_bytes)
                    raise _Refused()
                state.body_done = not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                state.disconnected = True
            return message

        async def guarded_send(message: Any) -> None:
            if state.failure is not None or state.disconnected:
                return  # the app's answer to a refused or abandoned request is dropped
            if message["type"] == "http.response.start":
                state.started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if state.failure is None and not state.disconnected:
                raise
        if state.disconnected:
            log.info("client went away during %s %s", scope.get("method"), path)
        elif state.failure is not None and not state.started:
            await _refuse(scope, send, state.failure, close=True)

    def _too_large(self, path: str | None, cap: int | None = None) -> JSONResponse:
        cap = self.max_bytes if cap is None else cap
        return problem(413, "request_too_large", f"request body is over the {cap}-byte cap", path)


class _GuardState:
    """What :class:`RequestGuard` saw of one request."""

    __slots__ = ("body_done", "disconnected", "failure", "seen", "started")

    def __init__(self) -> None:
        self.seen = 0
        self.body_done = False
        self.disconnected = False
        self.started = False
        self.failure: JSONResponse | None = None


class _Refused(Exception):
    """Raised into the app when the guard refuses a request mid-body."""


async def _refuse(
    scope: MutableMapping[str, Any],
    send: Callable[[Any], Awaitable[None]],
    resp: Response,
    *,
    close: bool = False,
) -> None:
    """Send ``resp``; with ``close``, ask the server to close the connection (body left unread)."""
    if close:
        resp.headers["Connection"] = "close"

    async def no_body() -> Any:
        return {"type": "http.disconnect"}

    await resp(scope, no_body, send)


class ConcurrencyLimit:
    """Pure ASGI middleware: at most ``limit`` requests in progress, else 503 with Retry-After.

    ``/healthz`` is exempt: a busy worker is alive, and must not be restarted for being busy.
    """

    EXEMPT = frozenset({"/healthz"})

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope.get("path") in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            resp = problem(
                503,
                "too_many_requests",
                f"{self.limit} requests are in progress; retry shortly",
                scope.get("path"),
                headers={"Retry-After": "1"},
            )
            await resp(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
