"""What a public answer may carry: bounded messages and details, and the result as a response."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from registry.verify.result import Status, VerificationResult

MAX_MESSAGE_CHARS = 1000  # a check message or problem detail in an answer
MAX_DETAIL_CHARS = 300  # a string inside a check's details
MAX_DETAIL_ITEMS = 20  # items of a list inside a check's details


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit} more characters)"


def _clip_detail(value: Any) -> Any:
    if isinstance(value, str):
        return clip(value, MAX_DETAIL_CHARS)
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
            update={"message": clip(c.message, MAX_MESSAGE_CHARS), "details": _clip_detail(c.details)}
        )
        for c in result.checks
    ]
    return result.model_copy(update={"checks": checks, "summary": clip(result.summary, MAX_MESSAGE_CHARS)})


def result_response(result: VerificationResult) -> Response:
    """200 with the (bounded) result, or 503 when indeterminate."""
    result = bound_result(result)
    status = 503 if result.status is Status.indeterminate else 200
    headers = {"Retry-After": "5"} if status == 503 else None
    return Response(
        result.model_dump_json(), status_code=status, media_type="application/json", headers=headers
    )
