"""The verification service: JSON API, web page, health, readiness and metrics (FastAPI).

It holds no private key and never writes to the chain. Errors are RFC 9457 problem+json; an
``indeterminate`` verdict (chain unreadable, anchor not yet confirmed) answers HTTP 503 with the
full result as body, so that clients can both retry and show why.

Where each part lives: the session (trust, reader, index, store) in :mod:`.session`; the verifier
object with its memo in :mod:`.verifier`; endpoints in :mod:`.endpoints`, bound to paths in
:mod:`.routes`; problem+json in :mod:`.problems`; middlewares in :mod:`.middleware`; metrics in
:mod:`.metrics`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from registry.chain.connection import redact_client_logs
from registry.settings import Settings, load_settings
from registry.verify.middleware import ConcurrencyLimit, RequestGuard
from registry.verify.problems import install_handlers
from registry.verify.routes import BULK_PATH, install_routes
from registry.verify.session import VerificationSession
from registry.verify.verifier import Verifier

STARTUP_SYNC_WAIT = 10.0
"""Seconds a starting worker waits for the shared follower's first full sync before it serves."""

DESCRIPTION = (
    "Verify blockchain-anchored credentials. Every answer lists each check in plain "
    "words; `indeterminate` (HTTP 503) means the chain could not be read: never a guess."
)


def create_app(
    settings: Settings | None = None,
    *,
    session: VerificationSession | None = None,
    store: object | None = None,
    follow: bool = True,
) -> FastAPI:
    """Build the FastAPI app on ``session`` (by default, one opened from the settings)."""
    redact_client_logs()  # the HTTP client logs full request URLs: keep provider keys out of logs
    if session is None:
        session = VerificationSession(settings or load_settings(), store=store, shared_index=True)
    settings = session.settings
    reader = session.reader
    runtime = _runtime(session) if follow else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            runtime.start()
            await anyio.to_thread.run_sync(runtime.wait_synced, STARTUP_SYNC_WAIT)
        elif follow:
            reader.start_following()
        try:
            yield
        finally:
            if runtime is not None:
                runtime.stop()
            elif follow:
                reader.stop()

    app = FastAPI(
        title="Credential registry verifier",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's Swagger UI loads from a CDN: a self-contained page instead
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.session = session
    app.state.verifier = Verifier(session)
    install_handlers(app)
    install_routes(app)
    # the last added is the outermost: CORS (so refusals carry its headers), then the
    # concurrency limit, then the request guard (content type, size, body timeout, disconnects)
    app.add_middleware(
        RequestGuard,
        max_bytes=settings.max_request_bytes,
        body_timeout=settings.body_timeout,
        path_caps={BULK_PATH: settings.bulk_max_request_bytes},
    )
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


def _runtime(session: VerificationSession) -> Any:
    """The shared index's threads of this worker (None for a session with an in-memory index)."""
    if not session.shared_index:
        return None
    from registry.index.runtime import ReplicaRuntime

    return ReplicaRuntime(session)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (settings from the environment / TOML file)."""
    return create_app(load_settings())
