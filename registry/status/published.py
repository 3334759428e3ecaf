"""The published directory of status lists: written by the issuer, read by the service and the audit.

Layout (``REGISTRY_STATUS_LISTS_DIR``, default ``<data dir>/status-lists``)::

    <issuer address>/<list number>/<purpose>/v<version>.json   every version, the signed list
                                                               credential (bytes = its CID)
    <issuer address>/<list number>/<purpose>/versions.json     [{version, block, cid, validFrom,
                                                                validUntil}, ...] in order
    <issuer address>/<list number>/<purpose>/current.json      the version served now
    <issuer address>/<list number>/entries.json                [[digest, revocation index,
                                                                suspension index, batch root], ...]

Every file is written atomically (temporary file, fsync, rename), a version file before the
index and the pointer naming it, so a reader never sees a pointer to a missing version.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from registry.core.status_list import Purpose
from registry.errors import ErrorCode, NotFoundError

ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class VersionRecord:
    """One published version as the directory (and the issuer database) records it."""

    version: int
    block: int
    cid: str
    validFrom: str  # noqa: N815 - the credential's member names
    validUntil: str  # noqa: N815

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return asdict(self)


def list_dir(root: Path, issuer: str, list_number: int, purpose: Purpose | str) -> Path:
    """The folder of one list's versions."""
    return root / issuer / str(int(list_number)) / str(purpose)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old bytes or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def version_file(folder: Path, version: int) -> Path:
    """The file of one version."""
    return folder / f"v{int(version)}.json"


def write_version(folder: Path, record: VersionRecord, data: bytes) -> None:
    """Write one version's bytes (idempotent: a version's bytes never change)."""
    path = version_file(folder, record.version)
    if not path.exists() or path.read_bytes() != data:
        write_atomic(path, data)


def write_index(folder: Path, records: list[VersionRecord]) -> None:
    """Write ``versions.json`` and point ``current.json`` at the last record."""
    write_atomic(folder / "versions.json", _dumps([r.to_json() for r in records]))
    if records:
        write_atomic(folder / "current.json", _dumps(records[-1].to_json()))


def write_entries(root: Path, issuer: str, list_number: int, rows: list[list[Any]]) -> None:
    """Write the list's bound entries (what the audit rebuilds the bits from)."""
    path = root / issuer / str(int(list_number)) / "entries.json"
    write_atomic(path, _dumps({"listNumber": int(list_number), "entries": rows}))


def read_index(folder: Path) -> list[VersionRecord]:
    """The versions a list's folder records (empty when none)."""
    path = folder / "versions.json"
    if not path.exists():
        return []
    return [VersionRecord(**r) for r in json.loads(path.read_bytes())]


def read_entries(root: Path, issuer: str, list_number: int) -> list[list[Any]]:
    """The bound entries of one list (empty when the file is missing)."""
    path = root / issuer / str(int(list_number)) / "entries.json"
    if not path.exists():
        return []
    return list(json.loads(path.read_bytes())["entries"])


def current(root: Path, issuer: str, list_number: int, purpose: str) -> tuple[VersionRecord, bytes]:
    """The version served now and its bytes; ``NotFoundError`` (``status_list_not_found``) if none."""
    if not ADDRESS_RE.match(issuer) or purpose not in tuple(Purpose) or list_number < 0:
        raise _not_found(issuer, list_number, purpose)
    folder = list_dir(root, issuer, list_number, purpose)
    try:
        record = VersionRecord(**json.loads((folder / "current.json").read_bytes()))
        return record, version_file(folder, record.version).read_bytes()
    except (OSError, ValueError, TypeError):
        raise _not_found(issuer, list_number, purpose) from None


def _not_found(issuer: str, list_number: int, purpose: str) -> NotFoundError:
    return NotFoundError(
        f"no status list {list_number}/{purpose[:20]} of issuer {issuer[:42]}",
        code=ErrorCode.STATUS_LIST_NOT_FOUND,
    )


def published_lists(root: Path) -> list[tuple[str, int, str]]:
    """Every (issuer, list number, purpose) with a folder under ``root``."""
    out: list[tuple[str, int, str]] = []
    if not root.is_dir():
        return out
    for issuer in sorted(p for p in root.iterdir() if p.is_dir() and ADDRESS_RE.match(p.name)):
        for number in sorted(
            (p for p in issuer.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
        ):
            for purpose in Purpose:
                if (number / str(purpose)).is_dir():
                    out.append((issuer.name, int(number.name), str(purpose)))
    return out


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=False).encode() + b"\n"
