"""How checks, hashes and times are written in the verifier's sentences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from registry.core.formats import format_timestamp
from registry.verify.result import Check, CheckStatus
from registry.verify.verdict import Finding, Outcome


def check(name: str, status: CheckStatus, message: str, **details: Any) -> Check:
    """A check record."""
    return Check(name=name, status=status, message=message, details=details)


def passed(name: str, message: str, **details: Any) -> Finding:
    """A passed check."""
    return Finding(check(name, CheckStatus.passed, message, **details), Outcome.passed)


def failed(name: str, message: str, outcome: Outcome = Outcome.invalid, **details: Any) -> Finding:
    """A failed check; ``outcome`` says what the failure means for the verdict."""
    return Finding(check(name, CheckStatus.failed, message, **details), outcome)


def error(name: str, message: str, **details: Any) -> Finding:
    """A check that could not be done now: the verdict cannot be decided."""
    return Finding(check(name, CheckStatus.error, message, **details), Outcome.indeterminate)


def skipped(name: str, message: str, **details: Any) -> Finding:
    """A check that does not apply or was not reached."""
    return Finding(check(name, CheckStatus.skipped, message, **details), Outcome.skipped)


def ts(seconds: int) -> str:
    """An RFC 3339 timestamp of unix ``seconds``."""
    return format_timestamp(int(seconds))


def human(when: datetime | int) -> str:
    """A timestamp for sentences: ``2026-11-29 07:00:00 UTC``."""
    return (
        format_timestamp(when if isinstance(when, datetime) else int(when))
        .replace("T", " ")
        .replace("Z", " UTC")
    )


def parse_time(s: str) -> datetime:
    """An RFC 3339 timestamp as a datetime."""
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def short(h: str) -> str:
    """A long hex string shortened for sentences."""
    return h[:10] + "…" + h[-6:] if len(h) > 20 else h
