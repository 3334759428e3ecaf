"""``validity_window``: the credential's own validity period at the time of the verdict."""

from __future__ import annotations

from datetime import datetime

from registry.core.formats import format_timestamp
from registry.verify.checks.words import failed, human, passed, skipped
from registry.verify.prepared import Prepared
from registry.verify.verdict import Finding, Outcome


def validity_regime(prep: Prepared, now: datetime) -> str:
    """Where ``now`` falls for this document: ``none``, ``before``, ``after`` or ``inside``.

    The check's outcome and sentence depend on the document and this regime only (a memo key)."""
    info = prep.info
    if not prep.has_document or info is None:
        return "none"
    if info.valid_from is not None and now < info.valid_from:
        return "before"
    if info.valid_until is not None and now >= info.valid_until:
        return "after"
    return "inside"


def validity_window(prep: Prepared, now: datetime) -> Finding:
    """``validity_window``: ``now`` is inside the credential's ``validFrom`` / ``validUntil``."""
    regime = validity_regime(prep, now)
    if regime == "none" or prep.info is None:
        return skipped("validity_window", "No document was presented, so its validity period is unknown.")
    vf, vu = prep.info.valid_from, prep.info.valid_until
    if regime == "before" and vf is not None:
        message = f"The credential is valid only from {human(vf)}."
        return failed("validity_window", message, Outcome.not_yet_valid, valid_from=format_timestamp(vf))
    if regime == "after" and vu is not None:
        message = f"The credential expired on {human(vu)}."
        return failed("validity_window", message, Outcome.expired, valid_until=format_timestamp(vu))
    start = f" from {human(vf)}" if vf is not None else ""
    end = f" until {human(vu)}" if vu is not None else ", with no expiry date"
    return passed("validity_window", f"The credential is valid{start}{end}.")
