"""The committed compile artifact of the registry contract (ABI, bytecode, compiler settings).

Nobody needs a compiler to run the registry: the artifact is committed and
``registry compile --check`` proves that a fresh compile reproduces it byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from registry.errors import ConfigError

ARTIFACT_PATH = Path(__file__).with_name("artifacts") / "CredentialRegistry.json"
CONTRACT_NAME = "CredentialRegistry"


@dataclass(frozen=True)
class Artifact:
    """ABI and bytecode of the registry contract, with how they were compiled."""

    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    solc_version: str
    settings: dict[str, Any]
    source_sha256: str
    sources: dict[str, str] = field(default_factory=dict)


def artifact_from_json(data: dict[str, Any]) -> Artifact:
    """Build an :class:`Artifact` from the committed JSON document."""
    return Artifact(
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        solc_version=data["solcVersion"],
        settings=data["settings"],
        source_sha256=data["sourceSha256"],
        sources=data.get("sources", {}),
    )


def artifact_bytes(data: dict[str, Any]) -> bytes:
    """The exact file bytes of an artifact document (stable key order, trailing newline)."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()


@lru_cache(maxsize=1)
def load_artifact(path: Path | None = None) -> Artifact:
    """Load the committed artifact (``registry/chain/artifacts/CredentialRegistry.json``)."""
    p = path or ARTIFACT_PATH
    try:
        data = json.loads(p.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"contract artifact missing: {p} (run `registry compile`)") from exc
    except ValueError as exc:
        raise ConfigError(f"contract artifact is not valid JSON: {p}") from exc
    return artifact_from_json(data)
