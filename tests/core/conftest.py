"""Fixtures for the core tests: the OpenZeppelin merkle-tree oracle, called through node."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ORACLE = Path(__file__).with_name("oz_oracle.js")

OzOracle = Callable[..., dict[str, Any]]


def run_oracle(digests: Sequence[bytes], multi: Sequence[Sequence[int]] = (),
               check: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """One node call: OpenZeppelin's tree, proofs and multiproofs for ``digests``."""
    node = shutil.which("node")
    assert node is not None, "node is required for the OpenZeppelin oracle"
    payload = {"digests": ["0x" + d.hex() for d in digests], "multi": [list(m) for m in multi],
               "check": list(check)}
    out = subprocess.run([node, str(ORACLE)], input=json.dumps(payload), capture_output=True, text=True,
                         cwd=ROOT, check=True, timeout=120)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def oz() -> OzOracle:
    """The OpenZeppelin oracle as a function."""
    return run_oracle
