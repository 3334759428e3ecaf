"""The state machines of the issuer database (registry.db.states): stored values, the table."""

from __future__ import annotations

import pytest

from registry.anchor.pipeline import BATCH_STATES, OPEN
from registry.db.states import (
    TRANSITIONS,
    BatchState,
    CredentialState,
    RevocationState,
    TxState,
    can_move,
)


def test_stored_values_stay_the_same_strings() -> None:
    assert [s.value for s in CredentialState] == ["queued", "sealed", "anchored"]
    assert [s.value for s in BatchState] == ["sealed", "pinned", "submitted", "mined", "confirmed", "done"]
    assert {s.value for s in TxState} == {
        "signed", "broadcast", "replaced", "dropped", "mined", "failed", "confirmed"
    }  # fmt: skip
    assert [s.value for s in RevocationState] == ["pending", "submitted", "confirmed", "failed"]
    assert tuple(s for s in BatchState if s is not BatchState.DONE) == OPEN
    assert BATCH_STATES["mined"] == "anchored, not final (no proof handed out yet)"


@pytest.mark.parametrize("machine", list(TRANSITIONS))
def test_every_state_has_a_row_and_is_reachable_from_the_first(machine: type) -> None:
    table = TRANSITIONS[machine]
    states = list(machine)
    assert set(table) == set(states)
    seen, todo = {states[0]}, [states[0]]
    while todo:
        for nxt in table[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(states)


def test_moves() -> None:
    assert can_move(BatchState.CONFIRMED, BatchState.DONE)
    assert can_move(BatchState.DONE, BatchState.MINED)  # reorg: proofs withdrawn
    assert not can_move(BatchState.DONE, BatchState.SEALED)
    assert not can_move(BatchState.SEALED, CredentialState.SEALED)  # another machine
    assert not TRANSITIONS[TxState][TxState.DROPPED]
    assert not TRANSITIONS[RevocationState][RevocationState.FAILED]
