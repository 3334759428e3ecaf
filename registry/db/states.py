"""The state machines of the issuer database: one ``StrEnum`` per machine, one transition table.

A member is the very string stored in its ``status`` column (``BatchState.DONE == "done"``), so
the database, the JSON of ``registry status`` and old rows keep their values. :data:`TRANSITIONS`
lists every move the pipeline, the transaction manager and the status commands make; the tests
check the code against it (``tests/pipeline/test_pipeline_states.py``).

* credential: ``queued`` (no batch yet) → ``sealed`` (in a batch) → ``anchored`` (proof file
  written); back to ``sealed`` when a reorg withdraws the proofs.
* batch: ``sealed`` → ``pinned`` (manifest in the store) → ``submitted`` (anchor transaction
  signed and stored) → ``mined`` (anchored, not final) → ``confirmed`` (final) → ``done`` (proof
  files written). A lost or reverted transaction goes back to ``pinned``; a reorg moves ``mined``
  back to ``submitted`` (or ``pinned``) and ``done`` back to ``mined`` (proofs withdrawn); a root
  already on chain moves ``pinned`` / ``submitted`` straight to ``mined`` (adopted).
* transaction: ``signed`` → ``broadcast`` → ``mined`` (or ``failed``: reverted) → ``confirmed``;
  ``replaced`` by a higher-fee twin, ``dropped`` when another transaction took the nonce; back to
  ``broadcast`` when a reorg removed its block.
* revocation (a status change request): ``pending`` → ``submitted`` → ``confirmed`` | ``failed``.
* delivery (issue 15, ``registry deliver``): ``pending`` → ``sending`` (end of data about to go to
  the SMTP server, committed first) → ``sent``; a temporary failure back to ``pending`` (or
  ``failed`` after the last attempt), a permanent one to ``bounced`` / ``refused``; ``sending``
  found by a later run, or a connection lost after the end of data, becomes ``unknown`` (never
  re-sent on its own: docs/delivery.md); ``--resend`` / ``--mark-sent`` are the manual moves.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "BATCH_OPEN",
    "TRANSITIONS",
    "TX_LIVE",
    "BatchState",
    "ChainMirror",
    "CredentialState",
    "DeliveryState",
    "RevocationState",
    "StatusAction",
    "TxKind",
    "TxState",
    "can_move",
]


class CredentialState(StrEnum):
    """``credentials.status``."""

    QUEUED = "queued"
    SEALED = "sealed"
    ANCHORED = "anchored"


class BatchState(StrEnum):
    """``batches.status``; :attr:`describe` is what ``registry status`` prints for it."""

    SEALED = "sealed"
    PINNED = "pinned"
    SUBMITTED = "submitted"
    MINED = "mined"
    CONFIRMED = "confirmed"
    DONE = "done"

    @property
    def describe(self) -> str:
        """The state in the words of ``registry status``."""
        return _BATCH_WORDS[self]


_BATCH_WORDS = {
    BatchState.SEALED: "sealed, manifest not pinned yet",
    BatchState.PINNED: "manifest pinned, not sent yet",
    BatchState.SUBMITTED: "sent, not mined yet",
    BatchState.MINED: "anchored, not final (no proof handed out yet)",
    BatchState.CONFIRMED: "final, writing proof files",
    BatchState.DONE: "final, proof files written",
}


class TxState(StrEnum):
    """``transactions.status``."""

    SIGNED = "signed"
    BROADCAST = "broadcast"
    REPLACED = "replaced"
    DROPPED = "dropped"
    MINED = "mined"
    FAILED = "failed"
    CONFIRMED = "confirmed"


class RevocationState(StrEnum):
    """``revocations.status``."""

    PENDING = "pending"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class StatusAction(StrEnum):
    """A status change of credentials (``revocations.action``; also a transaction kind)."""

    REVOKE = "revoke"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


class TxKind(StrEnum):
    """``transactions.kind``."""

    ANCHOR = "anchor"
    REVOKE = "revoke"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


class ChainMirror(StrEnum):
    """``credentials.chain_status``: the local mirror of a confirmed status change (None: active)."""

    REVOKED = "revoked"
    SUSPENDED = "suspended"


BATCH_OPEN: tuple[BatchState, ...] = (
    BatchState.SEALED, BatchState.PINNED, BatchState.SUBMITTED, BatchState.MINED, BatchState.CONFIRMED,
)  # fmt: skip
TX_LIVE: tuple[TxState, ...] = (TxState.SIGNED, TxState.BROADCAST, TxState.REPLACED)  # may still be mined

_C, _B, _T, _R = CredentialState, BatchState, TxState, RevocationState

TRANSITIONS: dict[type[StrEnum], dict[StrEnum, frozenset[StrEnum]]] = {
    CredentialState: {
        _C.QUEUED: frozenset({_C.SEALED}),
        _C.SEALED: frozenset({_C.ANCHORED}),
        _C.ANCHORED: frozenset({_C.SEALED}),  # proofs withdrawn after a reorg
    },
    BatchState: {
        _B.SEALED: frozenset({_B.PINNED}),
        _B.PINNED: frozenset({_B.SUBMITTED, _B.MINED}),  # mined: root already on chain, adopted
        _B.SUBMITTED: frozenset({_B.MINED, _B.PINNED}),  # pinned: tx lost or reverted, sent anew
        _B.MINED: frozenset({_B.CONFIRMED, _B.SUBMITTED, _B.PINNED}),  # back: reorg
        _B.CONFIRMED: frozenset({_B.DONE}),
        _B.DONE: frozenset({_B.MINED}),  # reorg under the depth rule: proofs withdrawn
    },
    TxState: {
        _T.SIGNED: frozenset({_T.BROADCAST, _T.REPLACED, _T.DROPPED, _T.MINED, _T.FAILED}),
        _T.BROADCAST: frozenset({_T.REPLACED, _T.DROPPED, _T.MINED, _T.FAILED}),
        _T.REPLACED: frozenset({_T.DROPPED, _T.MINED, _T.FAILED}),  # the old twin can still win
        _T.MINED: frozenset({_T.CONFIRMED, _T.FAILED, _T.BROADCAST}),  # broadcast: reorg
        _T.FAILED: frozenset({_T.MINED, _T.BROADCAST}),  # a reorg can re-mine it either way
        _T.CONFIRMED: frozenset({_T.BROADCAST, _T.MINED}),
        _T.DROPPED: frozenset(),
    },
    RevocationState: {
        _R.PENDING: frozenset({_R.SUBMITTED}),
        _R.SUBMITTED: frozenset({_R.CONFIRMED, _R.FAILED}),
        _R.CONFIRMED: frozenset(),
        _R.FAILED: frozenset(),
    },
}


# -- delivery (issue 15, registry deliver) ---------------------------------------------------------


class DeliveryState(StrEnum):
    """``deliveries.status``."""

    PENDING = "pending"  # to be sent (again, once next_attempt_at has passed)
    SENDING = "sending"  # end of data about to be sent; the server's answer not recorded yet
    SENT = "sent"  # the server accepted the message (250 to the end of data)
    UNKNOWN = "unknown"  # a `sending` row left by a dead run, or a connection lost after the end of data
    BOUNCED = "bounced"  # permanent (5xx) answer to MAIL or to the end of data
    REFUSED = "refused"  # permanent (5xx) answer to RCPT: the recipient address is refused
    NO_ADDRESS = "no_address"  # no usable recipient address
    FAILED = "failed"  # temporary failures until the last attempt, or a local problem (file missing)


_D = DeliveryState
_DELIVERY_MANUAL = frozenset({_D.PENDING})  # `registry deliver --resend`
TRANSITIONS[DeliveryState] = {
    _D.PENDING: frozenset({_D.SENDING, _D.PENDING, _D.BOUNCED, _D.REFUSED, _D.NO_ADDRESS, _D.FAILED}),
    _D.SENDING: frozenset({_D.SENT, _D.UNKNOWN, _D.BOUNCED, _D.PENDING, _D.FAILED}),
    _D.UNKNOWN: frozenset({_D.SENT, _D.PENDING}),  # --mark-sent / --resend: the issuer decides
    _D.SENT: _DELIVERY_MANUAL,
    _D.BOUNCED: _DELIVERY_MANUAL,
    _D.REFUSED: _DELIVERY_MANUAL,
    _D.NO_ADDRESS: _DELIVERY_MANUAL,
    _D.FAILED: _DELIVERY_MANUAL,
}


def can_move(old: StrEnum, new: StrEnum) -> bool:
    """True when the table allows ``old`` → ``new`` (both of the same machine)."""
    if type(old) is not type(new):
        return False
    return new in TRANSITIONS[type(old)][old]
