"""When and why a credential is revoked or suspended: the chain event that set its effective status.

Pure (no I/O): :meth:`registry.verify.reader.ChainReader.status_history` reads the events, this
module picks the one that counts under the contract's key-compromise rule and makes it safe text.

The rule (docs/INTERFACES.md): once the operator revoked an issuer's key with cut-off ``since``, a
status change the key made at or after ``since`` is ignored. Events of that issuer logged before its
``IssuerKeyRevoked`` event were made by the key; those after it by the owner or the manager (the
key can no longer act), and those always count. A credential's effective status is the manager's
when it acted, else the key's last change strictly before ``since``; a batch revocation counts when
the manager made it or the key made it before ``since``.

A reason is the issuer's free text: shown as text only, control and bidirectional-override
characters removed, at most :data:`MAX_REASON_CHARS`. A reason of the form ``replaced by 0x<64
hex>`` (optionally followed by ``: <note>``) names the credential that replaces this one
(``registry reissue`` writes it).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from registry.chain.schema import CredentialStatus
from registry.core.formats import format_timestamp
from registry.verify.result import Status, StatusDetail, VerificationResult

if TYPE_CHECKING:
    from registry.verify.reader import ChainView

MAX_REASON_CHARS = 300
"""Longest reason shown (the rest is cut with an ellipsis)."""

CREDENTIAL_EVENTS = ("CredentialRevoked", "CredentialSuspended", "CredentialReinstated")
"""The events of one credential's status, in the order the contract may emit them."""

REPLACED = re.compile(r"^replaced by (0x[0-9a-fA-F]{64})(?:\s*:\s*(.*))?$", re.S | re.I)
"""``replaced by 0x<digest>[: <note>]``, the reason ``registry reissue`` writes."""


@dataclass(frozen=True)
class StatusEvent:
    """One status log of an issuer: ``CredentialRevoked`` / ``Suspended`` / ``Reinstated`` or
    ``BatchRevoked`` (``reason`` for the revocations)."""

    name: str
    block_number: int
    log_index: int
    block_hash: str
    transaction_hash: str
    reason: str | None = None

    @property
    def position(self) -> tuple[int, int]:
        """Chain order."""
        return (self.block_number, self.log_index)


@dataclass(frozen=True)
class KeyCut:
    """The issuer's ``IssuerKeyRevoked`` log: where it is and the cut-off it set."""

    block_number: int
    log_index: int
    since: int

    @property
    def position(self) -> tuple[int, int]:
        """Chain order."""
        return (self.block_number, self.log_index)


@dataclass(frozen=True)
class StatusHistory:
    """What the chain holds about one status: the events, the key cut-off log, block times.

    ``times`` maps a block hash to its timestamp; it holds at least every block of the events
    that may count."""

    scope: str  # "credential" or "batch"
    events: tuple[StatusEvent, ...]
    cut: KeyCut | None
    times: Mapping[str, int]


def counted(events: Sequence[StatusEvent], cut: KeyCut | None, times: Mapping[str, int]) -> list[StatusEvent]:
    """The events that count, in chain order: all without a key cut-off; with one, the owner's or
    manager's (logged after the cut-off log) and the key's made strictly before ``since``."""
    ordered = sorted(events, key=lambda e: e.position)
    if cut is None:
        return ordered
    managed = [e for e in ordered if e.position > cut.position]
    by_key = [
        e for e in ordered if e.position < cut.position and times.get(e.block_hash, cut.since) < cut.since
    ]
    return by_key + managed


def credential_event(history: StatusHistory, status: int) -> StatusEvent | None:
    """The event that set a credential's effective ``status`` (revoked or suspended), or None."""
    events = sorted(history.events, key=lambda e: e.position)
    cut = history.cut
    if cut is not None and any(e.position > cut.position for e in events):
        # the manager acted: its status is the effective one, whatever the key did
        events = [e for e in events if e.position > cut.position]
    else:
        events = counted(events, cut, history.times)
    state, setter = CredentialStatus.none, None
    for e in events:
        if state == CredentialStatus.revoked:
            break  # irreversible: the first counted revocation is when and why
        if e.name == "CredentialRevoked":
            state, setter = CredentialStatus.revoked, e
        elif e.name == "CredentialSuspended":
            state, setter = CredentialStatus.suspended, e
        elif e.name == "CredentialReinstated":
            state, setter = CredentialStatus.none, None
    return setter if state == status else None


def batch_event(history: StatusHistory, revoked_at: int) -> StatusEvent | None:
    """The ``BatchRevoked`` event that counts, when its block time is the registry's ``revoked_at``."""
    for e in counted(history.events, history.cut, history.times):
        if e.name == "BatchRevoked":
            return e if history.times.get(e.block_hash) == revoked_at else None
    return None


def clean_reason(text: str | None) -> str | None:
    """``text`` safe to show: line breaks and tabs as spaces, other control, format (bidi overrides,
    zero-width) and unassigned characters removed, spaces collapsed, at most ``MAX_REASON_CHARS``."""
    if text is None:
        return None
    out = []
    for ch in text[: MAX_REASON_CHARS * 4]:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\v\f" or cat in ("Zl", "Zp"):
            out.append(" ")
        elif cat not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(ch)
    cleaned = " ".join("".join(out).split())
    if len(cleaned) > MAX_REASON_CHARS:
        cleaned = cleaned[: MAX_REASON_CHARS - 1].rstrip() + "…"
    return cleaned or None


def replacement(reason: str | None) -> tuple[str | None, str | None]:
    """``(digest, note)`` of a ``replaced by 0x<digest>[: <note>]`` reason, else ``(None, None)``."""
    m = REPLACED.match(reason or "")
    if m is None:
        return None, None
    return m.group(1).lower(), clean_reason(m.group(2))


def detail_of(event: StatusEvent, status: str, scope: str, times: Mapping[str, int]) -> StatusDetail:
    """The public record of ``event``."""
    reason = clean_reason(event.reason)
    replaced_by, note = replacement(reason)
    at = times.get(event.block_hash)
    return StatusDetail(
        status=status,
        scope=scope,
        at=format_timestamp(at) if at is not None else None,
        reason=reason,
        replaced_by=replaced_by,
        replaced_note=note,
        transaction=event.transaction_hash,
        block=event.block_number,
    )


def wanted(view: ChainView, verdict: Status) -> list[str]:
    """The scopes whose history explains the ``verdict`` (revoked or suspended) by the view's
    record: for revoked, the credential's own revocation first, then the batch's; for suspended,
    the credential's suspension (none when the verdict comes from elsewhere, e.g. a status list)."""
    lk = view.lookup
    if verdict is Status.revoked:
        return (["credential"] if lk.credential_status == CredentialStatus.revoked else []) + (
            ["batch"] if lk.batch_revoked_at else []
        )
    if verdict is Status.suspended and lk.credential_status == CredentialStatus.suspended:
        return ["credential"]
    return []


def status_detail(view: ChainView, history: StatusHistory) -> StatusDetail | None:
    """When and why, from ``history`` (of :func:`wanted`'s scope ``history.scope``), or None when
    no counted event explains the registry's answer."""
    lk = view.lookup
    if history.scope == "batch":
        ev = batch_event(history, lk.batch_revoked_at)
        return detail_of(ev, "revoked", "batch", history.times) if ev else None
    ev = credential_event(history, lk.credential_status)
    if ev is None:
        return None
    return detail_of(ev, CredentialStatus.word_of(lk.credential_status), "credential", history.times)


class HistorySource(Protocol):
    """What the explanation reads the chain through (a :class:`~registry.verify.reader.ChainReader`)."""

    from_block: int

    def status_history(
        self,
        contract: str,
        issuer: str,
        scope: str,
        *,
        root: bytes,
        digest: bytes,
        start: int,
        head: int,
        since: int,
    ) -> StatusHistory:
        """The events of one status; raises ``ChainError``."""
        ...


def due(result: VerificationResult, view: ChainView | None) -> bool:
    """True when the verdict is revoked or suspended because of the registry's record: only then
    are status events read (never for a valid credential)."""
    return (
        result.status in (Status.revoked, Status.suspended)
        and view is not None
        and view.lookup.batch_exists
        and bool(wanted(view, result.status))
    )


def explain(
    view: ChainView, root: bytes, digest: bytes, source: HistorySource, verdict: Status
) -> StatusDetail | None:
    """The detail of the ``verdict`` (revoked or suspended): the events from the batch's anchoring
    block to the view's head (a credential revoked before this batch was anchored: from the
    registry's first block); None when no counted event explains it. Raises ``ChainError``."""
    lk = view.lookup
    anchored = view.anchor.block_number if view.anchor is not None else source.from_block
    for scope in wanted(view, verdict):
        starts = [anchored] + (
            [source.from_block] if scope == "credential" and source.from_block < anchored else []
        )
        for start in starts:
            history = source.status_history(
                view.contract,
                lk.issuer,
                scope,
                root=root,
                digest=digest,
                start=start,
                head=view.head,
                since=lk.key_revoked_since,
            )
            detail = status_detail(view, history)
            if detail is not None:
                return detail
    return None


class DetailCache:
    """Explanations already read, bounded: a revocation (keyed with the key cut-off, so a later
    cut-off reads again) is final; a suspension or an unexplained answer is kept ``ttl`` seconds."""

    def __init__(self, ttl: float, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._items: OrderedDict[tuple[Any, ...], tuple[float | None, StatusDetail | None]] = OrderedDict()

    @staticmethod
    def key(view: ChainView, root: bytes, digest: bytes, verdict: Status) -> tuple[Any, ...]:
        """Everything of the verdict and the registry's answer the explanation depends on."""
        lk = view.lookup
        return (
            verdict,
            view.contract,
            lk.issuer,
            root,
            digest,
            lk.credential_status,
            lk.batch_revoked_at,
            lk.key_revoked_since,
        )

    def get(self, key: tuple[Any, ...]) -> tuple[bool, StatusDetail | None]:
        """``(found, detail)``."""
        item = self._items.get(key)
        if item is None or (item[0] is not None and self.clock() >= item[0]):
            return False, None
        self._items.move_to_end(key)
        return True, item[1]

    def put(self, key: tuple[Any, ...], detail: StatusDetail | None) -> None:
        """Keep ``detail`` (final when it is a revocation)."""
        final = detail is not None and detail.status == "revoked"
        self._items[key] = (None if final else self.clock() + self.ttl, detail)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
