"""The verdict as a fold: every check yields an :class:`Outcome`; the status is the first outcome
of :data:`PRECEDENCE` that any check yielded, else ``valid``.

The table is the whole rule: a local or chain contradiction (``invalid``) wins over "cannot tell"
(``indeterminate``: chain unreadable, anchor not final, index not caught up), which wins over the
issuer's statements (``revoked``, ``suspended``), which win over the credential's own validity
period (``expired``, ``not_yet_valid``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from registry.verify.result import Check, Status


class Outcome(StrEnum):
    """What one check means for the verdict."""

    passed = "passed"
    skipped = "skipped"
    invalid = "invalid"
    indeterminate = "indeterminate"
    revoked = "revoked"
    suspended = "suspended"
    expired = "expired"
    not_yet_valid = "not_yet_valid"


class Finding(NamedTuple):
    """One named check (its public record) and its outcome."""

    check: Check
    outcome: Outcome


PRECEDENCE: tuple[tuple[Outcome, Status], ...] = (
    (Outcome.invalid, Status.invalid),
    (Outcome.indeterminate, Status.indeterminate),
    (Outcome.revoked, Status.revoked),
    (Outcome.suspended, Status.suspended),
    (Outcome.expired, Status.expired),
    (Outcome.not_yet_valid, Status.not_yet_valid),
)
"""Outcome -> verdict, strongest first; no listed outcome means ``valid``."""


def verdict(findings: Iterable[Finding]) -> Status:
    """The status the findings add up to (see :data:`PRECEDENCE`)."""
    seen = {f.outcome for f in findings}
    for outcome, status in PRECEDENCE:
        if outcome in seen:
            return status
    return Status.valid
