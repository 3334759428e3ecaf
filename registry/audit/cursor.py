"""Resume state of ``registry audit``: a small JSON cursor file in the data folder.

It records where the last run stopped (the next block to read and the hash of the last block
read, to notice a reorganisation), the issuers' replayed state (so a resumed run still knows who
was admitted), and how many anomalies earlier runs found.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.audit.model import IssuerState
from registry.errors import InputError

CURSOR_FORMAT = "credential-registry/audit-cursor/v1"


@dataclass
class Cursor:
    """Where an audit of one registry stopped."""

    chain_id: int
    address: str
    next_block: int
    last_block_hash: str | None = None
    issuers: dict[str, IssuerState] = field(default_factory=dict)
    batches: int = 0
    anomalies: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON form written to the file."""
        return {
            "format": CURSOR_FORMAT,
            "chainId": self.chain_id,
            "address": self.address,
            "nextBlock": self.next_block,
            "lastBlockHash": self.last_block_hash,
            "issuers": {a: s.to_json() for a, s in sorted(self.issuers.items())},
            "batches": self.batches,
            "anomalies": self.anomalies,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Cursor:
        """Parse the file's JSON (raises ``InputError`` on a foreign or broken file)."""
        if not isinstance(d, dict) or d.get("format") != CURSOR_FORMAT:
            raise InputError("not an audit cursor file", code="invalid_cursor")
        try:
            return cls(
                chain_id=int(d["chainId"]),
                address=str(d["address"]),
                next_block=int(d["nextBlock"]),
                last_block_hash=d.get("lastBlockHash"),
                issuers={a: IssuerState.from_json(s) for a, s in d.get("issuers", {}).items()},
                batches=int(d.get("batches", 0)),
                anomalies=int(d.get("anomalies", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"broken audit cursor file: {exc}", code="invalid_cursor") from None


def default_cursor_path(data_dir: Path, chain_id: int, address: str) -> Path:
    """``<data_dir>/audit/<chainId>-<address>.json``."""
    return Path(data_dir) / "audit" / f"{chain_id}-{address}.json"


def load_cursor(path: Path) -> Cursor | None:
    """The cursor at ``path``, or None when there is none yet."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        raise InputError(f"audit cursor {path} is not JSON", code="invalid_cursor") from None
    return Cursor.from_json(data)


def save_cursor(path: Path, cursor: Cursor) -> None:
    """Write the cursor atomically (temp file + rename), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".cursor-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(cursor.to_json(), f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
