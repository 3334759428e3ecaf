"""Guard: every custom error and event of the contract ABI is exercised by a contract test."""

from __future__ import annotations

from pathlib import Path

from registry.chain.artifact import load_artifact

HERE = Path(__file__).resolve().parent
# errors of OpenZeppelin libraries that this contract can never raise, with the reason
UNREACHABLE = {
    # Checkpoints.push with a key lower than the last one: our keys are block timestamps,
    # which never decrease
    "CheckpointUnorderedInsertion",
}


def _test_sources() -> str:
    return "\n".join(
        p.read_text() for p in sorted(HERE.glob("test_contract_*.py")) if p.name != Path(__file__).name
    )


def test_every_custom_error_has_a_revert_test() -> None:
    text = _test_sources()
    errors = sorted(e["name"] for e in load_artifact().abi if e["type"] == "error")
    assert len(errors) == 22
    missing = [name for name in errors if f'"{name}"' not in text and name not in UNREACHABLE]
    assert missing == []


def test_every_event_is_checked() -> None:
    text = _test_sources()
    names = sorted(e["name"] for e in load_artifact().abi if e["type"] == "event")
    missing = [name for name in names if f'"{name}"' not in text]
    assert missing == []
