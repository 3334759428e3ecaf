"""The service's endpoints: module-level functions reading the verifier from ``app.state``.

The routes that bind them to paths, with their OpenAPI descriptions, are in :mod:`.routes`.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from typing import Any

import anyio
from eth_utils import to_checksum_address
from fastapi import File, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from registry.core.formats import format_timestamp
from registry.errors import ChainError, NotFoundError, RegistryError
from registry.verify.core import Prepared, prepare_digest, prepare_document
from registry.verify.page import static_page
from registry.verify.problems import problem
from registry.verify.qr import qr_svg, verification_link
from registry.verify.reader import ChainReader
from registry.verify.responses import bound_result, result_response
from registry.verify.result import Status
from registry.verify.stored import stored_document
from registry.verify.uploads import with_source
from registry.verify.verifier import Verifier

HEX32 = r"^0x[0-9a-fA-F]{64}$"
ADDRESS = r"^0x[0-9a-fA-F]{40}$"


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


def _verifier(request: Request) -> Verifier:
    verifier: Verifier = request.app.state.verifier
    return verifier


def _html(
    name: str, extra: dict[str, str], preset: dict[str, Any] | None = None, status: int = 200
) -> Response:
    page, csp = static_page(name)
    if preset is not None:  # a JSON data block: never executed, so the CSP's script hashes still hold
        data = json.dumps(preset, separators=(",", ":"))
        data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        block = f'<script type="application/json" id="preset">{data}</script>'.encode()
        page = page.replace(PRESET_MARK, block, 1)
    headers = {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", **extra}
    return Response(page, status_code=status, media_type="text/html; charset=utf-8", headers=headers)


PRESET_MARK = b"<!--preset-->"
PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def public_base(request: Request) -> str:
    """The base URL of verification links: ``REGISTRY_PUBLIC_URL``, else the request's."""
    configured = _verifier(request).settings.public_url
    return (configured or str(request.base_url)).rstrip("/") + "/"


async def index_page(request: Request) -> Response:
    """The verification page."""
    public = _verifier(request).settings.public_url  # else the page's own address
    return _html("index.html", PAGE_HEADERS, {"root": "", "public": public and public.rstrip("/") + "/"})


async def link_page(
    request: Request,
    digest: str = Path(..., pattern=HEX32, description="0x + 64 hex"),
    issuer: str | None = Query(None, pattern=ADDRESS, description="the issuer whose batches count"),
) -> Response:
    """The permanent verification link: the digest verified through the index on every visit."""
    verifier = _verifier(request)
    who = to_checksum_address(issuer) if issuer else None
    prep, missing = await link_prepared(verifier, bytes.fromhex(digest[2:]), who)
    result = bound_result(await verifier.verify(prep))
    status = 404 if prep.local_failed else 503 if result.status is Status.indeterminate else 200
    preset = {
        "stored": missing or "",
        "root": "../",
        "public": public_base(request),
        "link": verification_link(public_base(request), digest, who),
        "qr": f"{digest.lower()}/qr.svg" + (f"?issuer={who}" if who else ""),
        "result": result.model_dump(mode="json"),
    }
    return _html("index.html", PAGE_HEADERS, preset, status)


async def link_prepared(verifier: Verifier, digest: bytes, issuer: str | None) -> tuple[Prepared, str | None]:
    """The link's verification, prepared in a thread (:func:`link_prepared_sync`)."""
    return await anyio.to_thread.run_sync(link_prepared_sync, verifier, digest, issuer)


def link_prepared_sync(verifier: Verifier, digest: bytes, issuer: str | None) -> tuple[Prepared, str | None]:
    """The registry's stored copy of the document when the content store holds it (so the page
    shows what it says, and its issuer and dates are checked), else the bare digest; with why
    the document is not shown."""
    cap = verifier.settings.max_document_bytes
    data, missing = stored_document(verifier.index.store, digest, cap)
    if data is not None:
        prep = prepare_document(data, verifier.config, verifier.index, issuer)
        if prep.digest == digest and prep.proof is None:
            return replace(prep, stored_copy=True), None
        missing = (
            "the stored copy cannot be read as a credential"
            if prep.digest is None
            else "the stored copy does not match the digest"
        )
    return prepare_digest(digest, verifier.config, verifier.index, issuer), missing


async def link_qr(
    request: Request,
    digest: str = Path(..., pattern=HEX32, description="0x + 64 hex"),
    issuer: str | None = Query(None, pattern=ADDRESS, description="the issuer named in the link"),
) -> Response:
    """The QR code (SVG) of a permanent verification link."""
    who = to_checksum_address(issuer) if issuer else None
    svg = qr_svg(verification_link(public_base(request), digest, who))
    headers = {
        "Content-Security-Policy": "default-src 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=3600",
    }
    return Response(svg, media_type="image/svg+xml", headers=headers)


async def docs_page() -> Response:
    """The API documentation page (self-contained: no CDN)."""
    return _html("docs.html", {})


async def verify(request: Request) -> Response:
    """Verify a credential posted as JSON."""
    verifier = _verifier(request)
    prep = await verifier.prepare_async(await request.body())
    return result_response(await verifier.verify(prep))


async def verify_file(
    request: Request,
    file: UploadFile = File(..., description="credential JSON file, or a PDF or baked PNG/SVG carrying one"),
) -> Response:
    """Verify an uploaded credential file (JSON, a certificate PDF or an OB 3.0 baked badge)."""
    verifier = _verifier(request)
    cap = verifier.settings.max_request_bytes
    data = await file.read(cap + 1)
    if len(data) > cap:
        err = RegistryError(f"file is over the {cap}-byte cap", code="request_too_large")
        err.http_status = 413
        raise err
    upload = await verifier.unwrap_async(data)
    prep = await verifier.prepare_async(upload.data)
    return result_response(with_source(await verifier.verify(prep), upload))


async def credential(
    request: Request,
    digest: str = Path(..., pattern=HEX32, description="0x + 64 hex"),
    issuer: str | None = Query(
        None, pattern=ADDRESS, description="answer for this issuer's batches only (0x + 40 hex)"
    ),
) -> Response:
    """The status of a credential known by its digest."""
    verifier = _verifier(request)
    who = to_checksum_address(issuer) if issuer else None
    prep = prepare_digest(bytes.fromhex(digest[2:]), verifier.config, verifier.index, who)
    result = await verifier.verify(prep)
    if prep.local_failed:
        raise NotFoundError(f"no batch anchored in a trusted registry lists digest {digest.lower()}")
    return result_response(result)


def _contracts(verifier: Verifier) -> list[str]:
    """The trusted contracts on the node's chain; raises ``ChainError``."""
    return verifier.config.contracts_on(verifier.reader.chain_id())


def _read_batch(verifier: Verifier, root: str) -> BatchView | None:
    reader, rb = verifier.reader, bytes.fromhex(root[2:])
    anchors = [a for c in _contracts(verifier) for a in reader.recent_anchors(c, rb)]
    for a in anchors:  # batches are per issuer: the first issuer to anchor this root
        rec, ev, head = reader.batch_info(a.contract, a.issuer, rb, a.block_number)
        if rec.anchored_at == 0:
            continue
        name = None
        with contextlib.suppress(ChainError):
            name = reader.issuer_info(a.contract, rec.issuer).name
        return BatchView(
            root=root.lower(),
            registry=f"eip155:{reader.chain_id()}:{a.contract}",
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


async def batch(
    request: Request, root: str = Path(..., pattern=HEX32, description="Merkle root, 0x + 64 hex")
) -> BatchView:
    """A batch by its Merkle root."""
    view = await anyio.to_thread.run_sync(_read_batch, _verifier(request), root)
    if view is None:
        raise NotFoundError(f"no batch with root {root.lower()} in the trusted registries")
    return view


def _read_issuer(verifier: Verifier, address: str) -> IssuerView | None:
    reader = verifier.reader
    for contract in _contracts(verifier):
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
            key_revoked_since=format_timestamp(rec.key_revoked_since) if rec.key_revoked_since else None,
        )
    return None


async def issuer(
    request: Request, address: str = Path(..., pattern=ADDRESS, description="0x + 40 hex")
) -> IssuerView:
    """An issuer by address."""
    view = await anyio.to_thread.run_sync(_read_issuer, _verifier(request), address)
    if view is None:
        raise NotFoundError(f"{address} is not a registered issuer in the trusted registries")
    return view


async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


def _not_ready_words(reader: ChainReader, fresh: bool, caught_up: bool, verifier: Verifier) -> str:
    why = []
    if not fresh:
        why.append(
            f"chain events not read within {reader.staleness:g} s"
            + (f" ({reader.last_error})" if reader.last_error else "")
        )
    if not caught_up:
        index = verifier.index
        why.append(
            f"digest index not caught up ({index.blocking()} manifests pending)"
            if index.store is not None
            else "no content store for the digest index"
        )
    return "; ".join(why)


async def readyz(request: Request) -> Response:
    """Readiness: chain events read within the staleness bound, index caught up."""
    verifier = _verifier(request)
    reader, index = verifier.reader, verifier.index
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
    return problem(503, "not_ready", _not_ready_words(reader, fresh, caught_up, verifier), "/readyz")


async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    verifier = _verifier(request)
    m, reader, index = verifier.metrics, verifier.reader, verifier.index
    if reader.head is not None:
        m.head.set(reader.head)
    if reader.synced_at is not None:
        m.sync_age.set(reader.clock() - reader.synced_at)
    m.indexed.set(len(index.manifests))
    m.pending.set(len(index.pending))
    m.rejected.set(len(index.rejected))
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


# -- status lists (issue 13) ----------------------------------------------------------------------

STATUS_LIST_MEDIA_TYPE = "application/vc"
"""The media type of a verifiable credential (VC Data Model 2.0, section 6.3)."""


def status_list_headers(record: Any, max_age: float, now: float) -> dict[str, str]:
    """Caching headers of one list version: ``max-age`` never past its ``validUntil``."""
    from datetime import datetime

    until = datetime.fromisoformat(record.validUntil.replace("Z", "+00:00")).timestamp()
    left = int(min(max_age, until - now))
    return {
        "Cache-Control": f"public, max-age={left}" if left > 0 else "no-cache",
        "ETag": f'"{record.cid}"',
        "X-Status-List-Block": str(record.block),
        "X-Status-List-Version": str(record.version),
        "X-Content-Type-Options": "nosniff",
    }


async def status_list(
    request: Request,
    issuer: str = Path(..., pattern=ADDRESS, description="the issuer's address, 0x + 40 hex"),
    number: int = Path(..., ge=0, le=10**9, description="list number"),
    purpose: str = Path(..., pattern="^(revocation|suspension)$", description="status purpose"),
) -> Response:
    """The current version of a status list, as the issuer published it (its signed bytes)."""
    import time

    from registry.status.published import current

    settings = _verifier(request).settings
    record, data = await anyio.to_thread.run_sync(
        current, settings.resolved_status_lists_dir, to_checksum_address(issuer), number, purpose
    )
    headers = status_list_headers(record, settings.status_list_max_age, time.time())
    asked = {t.strip() for t in request.headers.get("if-none-match", "").split(",")}
    if headers["ETag"] in asked or "*" in asked:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=STATUS_LIST_MEDIA_TYPE, headers=headers)
