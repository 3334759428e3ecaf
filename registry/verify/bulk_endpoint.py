"""``POST /api/v1/verify/bulk``: several files (multipart field ``files``, each a credential or a ZIP
archive of credentials) verified into one table (:class:`registry.verify.bulk.BulkReport`).

Bounds (settings ``bulk_*``): the body (``bulk_max_request_bytes``, enforced by the request
guard while it streams), the number of credentials and their total uncompressed size (413 before
anything is verified), each file's size and each ZIP member's expansion (that row's error), and
``bulk_max_concurrent`` bulk verifications per worker (503 before the body is read). Each entry is
verified through the path of ``POST /api/v1/verify/file``; a file that cannot be read or verified
is its row's error, the others go on.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from registry.errors import ErrorCode, RegistryError
from registry.verify.bulk import (
    BulkLimits,
    BulkRow,
    Item,
    check_budget,
    error_row,
    plan_file,
    report,
    row_for,
)
from registry.verify.problems import problem
from registry.verify.responses import bound_result
from registry.verify.uploads import with_source
from registry.verify.verifier import Verifier

log = logging.getLogger("registry.verify.service")
FIELD = "files"


def _slots(request: Request) -> dict[str, int]:
    state = request.app.state
    if not hasattr(state, "bulk_slots"):
        state.bulk_slots = {"busy": 0}
    slots: dict[str, int] = state.bulk_slots
    return slots


def _plan(uploads: list[UploadFile], limits: BulkLimits) -> tuple[list[Item], list[str]]:
    items: list[Item] = []
    skipped: list[str] = []
    for up in uploads:
        up.file.seek(0, 2)  # the bytes received, whatever the part's headers said
        size = up.file.tell()
        got, skip = plan_file(up.filename or "(unnamed)", up.file, size, limits)
        items += got
        skipped += skip
    return items, skipped


async def _row(verifier: Verifier, item: Item) -> BulkRow:
    """One item verified (or its error)."""
    if item.read is None:
        return error_row(item.name, item.error or "not read")
    try:
        data = await anyio.to_thread.run_sync(item.read)
        upload = await verifier.unwrap_async(data)  # a PDF's attachment, a baked badge's credential
        prep = await verifier.prepare_async(upload.data)
        return row_for(item.name, bound_result(with_source(await verifier.verify(prep), upload)))
    except RegistryError as exc:
        return error_row(item.name, exc.message)
    except Exception:  # one bad file never stops the others; nothing of it in the answer
        log.exception("bulk verification of one entry failed")
        return error_row(item.name, "internal error while verifying this file")


async def _form(request: Request, limits: BulkLimits) -> FormData:
    try:
        return await request.form(max_files=limits.max_files, max_fields=8)
    except HTTPException as exc:
        if "Too many files" in str(exc.detail):
            raise RegistryError(
                f"more than {limits.max_files} files in one bulk verification", code=ErrorCode.BULK_LIMIT
            ) from None
        raise


def _uploads(form: FormData) -> list[UploadFile]:
    uploads = [v for v in form.getlist(FIELD) if isinstance(v, UploadFile)]
    if not uploads:
        raise RegistryError(
            f"no files: send them as multipart form field `{FIELD}` (repeated)", code=ErrorCode.BAD_REQUEST
        )
    return uploads


async def verify_bulk(request: Request) -> Response:
    """Verify every uploaded file (and every credential in an uploaded ZIP) into one table."""
    verifier: Verifier = request.app.state.verifier
    settings: Any = verifier.settings
    slots = _slots(request)
    if slots["busy"] >= settings.bulk_max_concurrent:
        return problem(
            503,
            "busy",
            f"{settings.bulk_max_concurrent} bulk verifications are in progress; try again shortly",
            request.url.path,
            headers={"Retry-After": "5"},
        )
    slots["busy"] += 1
    try:
        limits = BulkLimits.from_settings(settings)
        form = await _form(request, limits)
        try:
            items, skipped = await anyio.to_thread.run_sync(_plan, _uploads(form), limits)
            check_budget(items, limits)
            rows = [await _row(verifier, item) for item in items]
        finally:
            await form.close()
        return Response(report(rows, skipped).model_dump_json(), media_type="application/json")
    finally:
        slots["busy"] -= 1
