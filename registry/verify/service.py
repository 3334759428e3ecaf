"""The verification service: JSON API, web page, health, readiness and metrics (FastAPI).

It holds no private key and never writes to the chain. Errors are RFC 9457 problem+json; an
``indeterminate`` verdict (chain unreadable, anchor not yet confirmed) answers HTTP 503 with the
full result as body, so that clients can both retry and show why.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from base64 import b64encode
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import anyio
from eth_utils import to_checksum_address
from fastapi import FastAPI, File, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from registry.chain.connection import redact_client_logs
from registry.core.formats import format_timestamp
from registry.errors import ChainError, ConfigError, NotFoundError, RegistryError
from registry.settings import Settings, load_settings
from registry.verify.core import (
    Prepared,
    VerifyConfig,
    finish,
    prepare_digest,
    prepare_document,
)
from registry.verify.index import DigestIndex
from registry.verify.reader import ChainReader, ChainView
from registry.verify.result import Status, VerificationResult

log = logging.getLogger(__name__)

PROBLEM_BASE = "urn:credential-registry:problem:"
HEX32 = r"^0x[0-9a-fA-F]{64}$"
ADDRESS = r"^0x[0-9a-fA-F]{40}$"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="URI naming the problem; ends in the stable error code")
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str


class BatchView(BaseModel):
    """A batch as the registry records it."""

    root: str
    registry: str
    issuer: str
    issuer_name: str | None = None
    count: int
    anchored_at: str
    revoked: bool
    revoked_at: str | None = None
    transaction_hash: str | None = None
    block_number: int | None = None
    confirmations: int | None = None
    manifest_cid: str | None = None


class IssuerView(BaseModel):
    """An issuer as the registry records it."""

    address: str
    registry: str
    name: str
    uri: str
    status: str
    registered_at: str | None = None
    key_revoked_since: str | None = None


def problem(
    status: int,
    code: str,
    detail: str,
    instance: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": PROBLEM_BASE + code,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": _clip(detail, MAX_MESSAGE_CHARS),
        "code": code,
    }
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    500: "Internal error",
    503: "Service unavailable",
}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {
        "model": Problem,
        "description": "request body over the size cap",
        "content": {"application/problem+json": {}},
    },
    422: {"model": Problem, "description": "malformed request", "content": {"application/problem+json": {}}},
}
RESULT_503: dict[int | str, dict[str, Any]] = {
    503: {
        "model": VerificationResult,
        "description": "indeterminate: the chain could not be read or the anchor is not yet confirmed",
    },
}


JSON_TYPES = ("application/json", "application/ld+json", "application/vc+ld+json")
MULTIPART_TYPES = ("multipart/form-data",)
#: media types each POST endpoint accepts; anything else is 415 before the body is read, so a web
#: page cannot make its visitors' browsers post to the API without a CORS preflight
CONTENT_TYPES: dict[str, tuple[str, ...]] = {
    "/api/v1/verify": JSON_TYPES,
    "/api/v1/verify/file": MULTIPART_TYPES,
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

    def __init__(self, app: Any, max_bytes: int, body_timeout: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout

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
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.strip().isdigit() and int(value) > self.max_bytes:
                await _refuse(scope, send, self._too_large(path), close=True)
                return
        state = _GuardState()
        deadline = anyio.current_time() + self.body_timeout
        max_bytes = self.max_bytes

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
                    state.failure = self._too_large(path)
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

    def _too_large(self, path: str | None) -> JSONResponse:
        return problem(413, "request_too_large", f"request body is over the {self.max_bytes}-byte cap", path)


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


class Metrics:
    """Prometheus metrics of one app (own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.verifications = Counter(
            "registry_verifications", "verifications by verdict", ["status"], registry=self.registry
        )
        self.latency = Histogram(
            "registry_verification_seconds",
            "time to verify one credential",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry,
        )
        self.cache = Counter(
            "registry_chain_cache", "chain view cache lookups", ["outcome"], registry=self.registry
        )
        self.chain_errors = Counter(
            "registry_chain_errors", "chain reads that failed", registry=self.registry
        )
        self.head = Gauge(
            "registry_chain_head_block", "head block seen by the event follower", registry=self.registry
        )
        self.sync_age = Gauge(
            "registry_event_sync_age_seconds", "seconds since events were last read", registry=self.registry
        )
        self.indexed = Gauge(
            "registry_indexed_batches", "batches in the digest index", registry=self.registry
        )
        self.pending = Gauge("registry_pending_manifests", "manifests not read yet", registry=self.registry)
        self.rejected = Gauge(
            "registry_rejected_manifests",
            "anchors whose manifest was rejected for good (malformed or oversized reference, "
            "oversized or mismatching manifest)",
            registry=self.registry,
        )


def _page(name: str = "index.html") -> tuple[bytes, str]:
    """A self-contained static page and its Content-Security-Policy (hashes of its inline code)."""
    html = resources.files("registry.verify").joinpath(f"static/{name}").read_bytes()
    scripts = re.findall(rb"<script>(.*?)</script>", html, re.S)
    styles = re.findall(rb"<style>(.*?)</style>", html, re.S)
    shas = " ".join(f"'sha256-{b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts)
    style_shas = " ".join(f"'sha256-{b64encode(hashlib.sha256(s).digest()).decode()}'" for s in styles)
    csp = (
        f"default-src 'none'; script-src {shas}; style-src {style_shas}; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, csp


#: documents up to this size are prepared on the event loop (a few hundred microseconds); larger
#: ones in the bounded thread pool, so that parsing a 2 MB document never stalls other requests
INLINE_PREPARE_BYTES = 16 * 1024
MEMO_ENTRY_OVERHEAD = 2048  # bytes accounted per memo entry besides its document
MAX_MESSAGE_CHARS = 1000  # a check message or problem detail in an answer
MAX_DETAIL_CHARS = 300  # a string inside a check's details
MAX_DETAIL_ITEMS = 20  # items of a list inside a check's details


class Memo:
    """LRU of prepared results bounded by entries *and* by accounted bytes.

    An entry accounts for the size of its document plus its check messages plus a fixed overhead:
    the prepared result holds the parsed proof and credential fields, so the document's size is
    a safe upper bound of what it keeps alive.
    """

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[bytes, tuple[Prepared, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: bytes) -> Prepared | None:
        """The entry for ``key`` (made most recent), or None."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: bytes, prep: Prepared, size: int) -> None:
        """Keep ``prep`` accounted as ``size`` bytes, evicting the oldest entries over the bounds."""
        if size > self.max_bytes or key in self._items:
            return
        self._items[key] = (prep, size)
        self.bytes += size
        while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, old) = self._items.popitem(last=False)
            self.bytes -= old


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit} more characters)"


def _clip_detail(value: Any) -> Any:
    if isinstance(value, str):
        return _clip(value, MAX_DETAIL_CHARS)
    if isinstance(value, list):
        items = [_clip_detail(v) for v in value[:MAX_DETAIL_ITEMS]]
        if len(value) > MAX_DETAIL_ITEMS:
            items.append(f"… and {len(value) - MAX_DETAIL_ITEMS} more")
        return items
    if isinstance(value, dict):
        return {str(k)[:MAX_DETAIL_CHARS]: _clip_detail(v) for k, v in list(value.items())[:MAX_DETAIL_ITEMS]}
    return value


def bound_result(result: VerificationResult) -> VerificationResult:
    """The result with every message and detail bounded (a malformed document can yield thousands
    of errors, each quoting a path of any length): what a public answer may carry."""
    checks = [
        c.model_copy(
            update={"message": _clip(c.message, MAX_MESSAGE_CHARS), "details": _clip_detail(c.details)}
        )
        for c in result.checks
    ]
    return result.model_copy(update={"checks": checks, "summary": _clip(result.summary, MAX_MESSAGE_CHARS)})


class Verifier:
    """Shared state of the service: reader, index, config, memo of the pure part."""

    def __init__(
        self,
        settings: Settings,
        reader: ChainReader | None,
        index: DigestIndex | None,
        config: VerifyConfig,
        memo_size: int = 20_000,
    ) -> None:
        self.settings = settings
        self.reader = reader
        self.index = index
        self.config = config
        self.metrics = Metrics()
        self.memo = Memo(memo_size, settings.verify_memo_bytes)
        self._cpu = anyio.CapacityLimiter(settings.prepare_threads)

    def _memoisable(self, prep: Prepared) -> bool:
        """Only local successes with a proof are kept: failures are cheap to redo and an attacker
        can make any number of distinct ones; bare documents depend on the growing digest index."""
        return prep.proof is not None and not prep.local_failed and not prep.local_error

    async def prepare_async(self, body: bytes) -> Prepared:
        """Local checks; documents over ``INLINE_PREPARE_BYTES`` are parsed and checked in the
        bounded thread pool (``prepare_threads``), so the event loop keeps answering."""
        key = hashlib.sha256(body).digest()
        prep = self.memo.get(key)
        if prep is not None:
            return prep
        if len(body) <= INLINE_PREPARE_BYTES:
            prep = prepare_document(body, self.config, self.index)
        else:
            prep = await anyio.to_thread.run_sync(
                prepare_document, body, self.config, self.index, limiter=self._cpu
            )
        self._remember(key, body, prep)
        return prep

    def _remember(self, key: bytes, body: bytes, prep: Prepared) -> None:
        if self._memoisable(prep):
            size = len(body) + MEMO_ENTRY_OVERHEAD + sum(len(c.message) for c in prep.checks)
            self.memo.put(key, prep, size)

    async def chain(self, prep: Prepared) -> tuple[ChainView | None, ChainError | None]:
        """The chain view: cache on the event loop, otherwise one round trip in a thread."""
        if not prep.needs_chain:
            return None, None
        if self.reader is None:
            return None, ChainError("no chain reader is configured")
        assert prep.contract is not None and prep.root is not None and prep.digest is not None
        assert prep.issuer_hint is not None  # needs_chain: the proof or the index named the issuer
        view = self.reader.cached(prep.contract, prep.root, prep.digest, prep.issuer_hint)
        if view is not None:
            self.metrics.cache.labels("hit").inc()
            return view, None
        self.metrics.cache.labels("miss").inc()
        reader = self.reader
        try:
            view = await anyio.to_thread.run_sync(
                reader.fetch, prep.contract, prep.root, prep.digest, prep.issuer_hint, prep.proof_block
            )
            return view, None
        except ChainError as exc:
            self.metrics.chain_errors.inc()
            return None, exc
        except Exception as exc:  # fail closed: anything unexpected while reading is "cannot tell"
            log.exception("unexpected failure reading the chain")
            self.metrics.chain_errors.inc()
            return None, ChainError(f"unexpected answer from the chain node ({type(exc).__name__})")

    async def verify(self, prep: Prepared) -> VerificationResult:
        """Chain read + verdict, with metrics."""
        t0 = time.perf_counter()
        view, error = await self.chain(prep)
        result = finish(prep, view, error, self.config, datetime.now(UTC))
        self.metrics.latency.observe(time.perf_counter() - t0)
        self.metrics.verifications.labels(result.status.value).inc()
        return result


def result_response(result: VerificationResult) -> Response:
    """200 with the (bounded) result, or 503 when indeterminate."""
    result = bound_result(result)
    status = 503 if result.status is Status.indeterminate else 200
    headers = {"Retry-After": "5"} if status == 503 else None
    return Response(
        result.model_dump_json(), status_code=status, media_type="application/json", headers=headers
    )


def build_reader(settings: Settings, config: VerifyConfig) -> ChainReader:
    """A reader for the settings' node following every trusted contract."""
    contracts = sorted({a for _, a in config.trusted})
    return ChainReader(
        settings.rpc_url,
        contracts,
        timeout=settings.rpc_timeout,
        staleness=settings.cache_staleness,
        from_block=settings.start_block,
        finality=settings.finality,
    )


def open_content_store(settings: Settings) -> object | None:
    """The content store holding the batch manifests (a local folder or an IPFS daemon)."""
    from registry.ipfs import open_store

    try:
        return open_store(settings)
    except RegistryError as exc:
        log.warning("no content store (%s): bare documents cannot be looked up", exc)
        return None


def create_app(
    settings: Settings | None = None,
    *,
    reader: ChainReader | None = None,
    index: DigestIndex | None = None,
    store: object | None = None,
    follow: bool = True,
) -> FastAPI:
    """Build the FastAPI app; without a reader, one is made from the settings."""
    settings = settings or load_settings()
    redact_client_logs()  # the HTTP client logs full request URLs: keep provider keys out of logs
    config = VerifyConfig.from_settings(settings)
    if not config.trusted and settings.contract:
        # the chain id is not in the settings: ask the node once
        probe = ChainReader(settings.rpc_url, timeout=settings.rpc_timeout)
        try:
            config = VerifyConfig.from_settings(settings, chain_id=probe.chain_id())
        except ChainError as exc:
            raise ConfigError(
                f"cannot learn which registry to trust ({exc.message}); set REGISTRY_CHAIN_ID "
                "or REGISTRY_TRUSTED_REGISTRIES"
            ) from None
        finally:
            probe.close()
    if not config.trusted:
        # without an allowlist every credential would look forged: refuse to start instead
        raise ConfigError("no trusted registry: set REGISTRY_TRUSTED_REGISTRIES (or REGISTRY_CONTRACT)")
    if reader is None:
        reader = build_reader(settings, config)
    if index is None:
        index = DigestIndex(reader, store if store is not None else open_content_store(settings))
    verifier = Verifier(settings, reader, index, config)
    page, csp = _page()
    docs_page, docs_csp = _page("docs.html")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if follow:
            reader.start_following()
        try:
            yield
        finally:
            if follow:
                reader.stop()

    app = FastAPI(
        title="Credential registry verifier",
        version="1.0.0",
        description="Verify blockchain-anchored credentials. Every answer lists each check in plain "
        "words; `indeterminate` (HTTP 503) means the chain could not be read: never a guess.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN: a self-contained page instead
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.verifier = verifier

    # -- errors as problem+json ---------------------------------------------------------------------
    @app.exception_handler(RegistryError)
    async def _registry_error(request: Request, exc: RegistryError) -> JSONResponse:
        return problem(exc.http_status, exc.code, exc.message, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = "/".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg')}")
        return problem(422, "invalid_request", "; ".join(parts) or "invalid request", request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(
            exc.status_code, code, str(exc.detail), request.url.path, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        return problem(500, "internal_error", "internal error", request.url.path)

    # -- page ---------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index_page() -> Response:
        return Response(
            page,
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Security-Policy": csp,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> Response:
        return Response(
            docs_page,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": docs_csp, "X-Content-Type-Options": "nosniff"},
        )

    # -- verification -------------------------------------------------------------------------------
    @app.post(
        "/api/v1/verify",
        response_model=VerificationResult,
        responses={**RESULT_503, **PROBLEM_RESPONSES},
        summary="Verify a credential (JSON body: the credential with or without its proof)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
            }
        },
    )
    async def verify(request: Request) -> Response:
        body = await request.body()
        prep = await verifier.prepare_async(body)
        return result_response(await verifier.verify(prep))

    # the hot path: the same handler as a plain Starlette route placed first, so requests skip
    # FastAPI's dependency solving; the FastAPI route above documents it in the OpenAPI schema
    app.router.routes.insert(0, Route("/api/v1/verify", verify, methods=["POST"]))

    @app.post(
        "/api/v1/verify/file",
        response_model=VerificationResult,
        responses={**RESULT_503, **PROBLEM_RESPONSES},
        summary="Verify an uploaded credential file (multipart form field `file`)",
    )
    async def verify_file(file: UploadFile = File(..., description="credential JSON file")) -> Response:
        data = await file.read(settings.max_request_bytes + 1)
        if len(data) > settings.max_request_bytes:
            err = RegistryError(
                f"file is over the {settings.max_request_bytes}-byte cap", code="request_too_large"
            )
            err.http_status = 413
            raise err
        prep = await verifier.prepare_async(data)
        return result_response(await verifier.verify(prep))

    @app.get(
        "/api/v1/credentials/{digest}",
        response_model=VerificationResult,
        responses={
            **RESULT_503,
            404: {"model": Problem, "description": "no anchored batch lists this digest"},
            **PROBLEM_RESPONSES,
        },
        summary="Status of a credential known only by its digest (looked up in the digest index)",
    )
    async def credential(
        digest: str = Path(..., pattern=HEX32, description="0x + 64 hex"),
        issuer: str | None = Query(
            None, pattern=ADDRESS, description="answer for this issuer's batches only (0x + 40 hex)"
        ),
    ) -> Response:
        who = to_checksum_address(issuer) if issuer else None
        prep = prepare_digest(bytes.fromhex(digest[2:]), verifier.config, verifier.index, who)
        result = await verifier.verify(prep)
        if prep.local_failed:
            raise NotFoundError(f"no batch anchored in a trusted registry lists digest {digest.lower()}")
        return result_response(result)

    def _contracts() -> list[str]:
        cid = reader._chain_id
        if cid is None:
            try:
                cid = reader.chain_id()
            except ChainError:
                raise
        return verifier.config.contracts_on(cid)

    @app.get(
        "/api/v1/batches/{root}",
        response_model=BatchView,
        responses={404: {"model": Problem}, 503: {"model": Problem}, **PROBLEM_RESPONSES},
        summary="A batch by its Merkle root",
    )
    async def batch(
        root: str = Path(..., pattern=HEX32, description="Merkle root, 0x + 64 hex"),
    ) -> BatchView:
        rb = bytes.fromhex(root[2:])

        def read() -> BatchView | None:
            contracts = _contracts()
            anchors = [a for c in contracts for a in reader.recent_anchors(c, rb)]
            for a in anchors:  # batches are per issuer: the first issuer to anchor this root
                contract = a.contract
                rec, ev, head = reader.batch_info(contract, a.issuer, rb, a.block_number)
                if rec.anchored_at == 0:
                    continue
                name = None
                with contextlib.suppress(ChainError):
                    name = reader.issuer_info(contract, rec.issuer).name
                return BatchView(
                    root=root.lower(),
                    registry=f"eip155:{reader.chain_id()}:{contract}",
                    issuer=rec.issuer,
                    issuer_name=name,
                    count=rec.count,
                    anchored_at=format_timestamp(rec.anchored_at),
                    revoked=rec.revoked_at != 0,
                    revoked_at=format_timestamp(rec.revoked_at) if rec.revoked_at else None,
                    transaction_hash=ev.transaction_hash if ev else None,
                    block_number=ev.block_number if ev else None,
                    confirmations=head - ev.block_number + 1 if ev else None,
                    manifest_cid=ev.manifest_cid if ev else None,
                )
            return None

        view = await anyio.to_thread.run_sync(read)
        if view is None:
            raise NotFoundError(f"no batch with root {root.lower()} in the trusted registries")
        return view

    @app.get(
        "/api/v1/issuers/{address}",
        response_model=IssuerView,
        responses={404: {"model": Problem}, 503: {"model": Problem}, **PROBLEM_RESPONSES},
        summary="An issuer by address",
    )
    async def issuer(address: str = Path(..., pattern=ADDRESS, description="0x + 40 hex")) -> IssuerView:
        def read() -> IssuerView | None:
            for contract in _contracts():
                rec = reader.issuer_info(contract, address)
                if not rec.registered:
                    continue
                return IssuerView(
                    address=rec.address,
                    registry=f"eip155:{reader.chain_id()}:{contract}",
                    name=rec.name,
                    uri=rec.uri,
                    status=rec.status_name,
                    registered_at=format_timestamp(rec.registered_at) if rec.registered_at else None,
                    key_revoked_since=format_timestamp(rec.key_revoked_since)
                    if rec.key_revoked_since
                    else None,
                )
            return None

        view = await anyio.to_thread.run_sync(read)
        if view is None:
            raise NotFoundError(f"{address} is not a registered issuer in the trusted registries")
        return view

    # -- operations ---------------------------------------------------------------------------------
    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: chain events read within the staleness bound, index caught up",
        responses={503: {"model": Problem}},
    )
    async def readyz() -> Response:
        fresh = reader.follower_fresh()
        caught_up = index.caught_up()
        body = {
            "status": "ready" if fresh and caught_up else "not_ready",
            "chain": fresh,
            "index": caught_up,
            "head": reader.head,
            "pending_manifests": len(index.pending),
            "overdue_manifests": len(index.overdue()),
            "rejected_manifests": len(index.rejected),
            "rejected": [
                {"issuer": k[1], "root": "0x" + k[2].hex(), "reason": why}
                for k, why in list(index.rejected.items())[:20]
            ],
            "last_error": reader.last_error,
        }
        if fresh and caught_up:
            return JSONResponse(body)
        why = []
        if not fresh:
            why.append(
                f"chain events not read within {reader.staleness:g} s"
                + (f" ({reader.last_error})" if reader.last_error else "")
            )
        if not caught_up:
            why.append(
                f"digest index not caught up ({index.blocking()} manifests pending)"
                if index.store is not None
                else "no content store for the digest index"
            )
        return problem(503, "not_ready", "; ".join(why), "/readyz")

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        m = verifier.metrics
        if reader.head is not None:
            m.head.set(reader.head)
        if reader.synced_at is not None:
            m.sync_age.set(reader.clock() - reader.synced_at)
        m.indexed.set(len(index.manifests))
        m.pending.set(len(index.pending))
        m.rejected.set(len(index.rejected))
        return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)

    # the last added is the outermost: CORS (so refusals carry its headers), then the
    # concurrency limit, then the request guard (content type, size, body timeout, disconnects)
    app.add_middleware(RequestGuard, max_bytes=settings.max_request_bytes, body_timeout=settings.body_timeout)
    app.add_middleware(ConcurrencyLimit, limit=settings.max_concurrent_requests)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (settings from the environment / TOML file)."""
    return create_app(load_settings())
