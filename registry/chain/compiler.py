"""Compile the registry contract through py-solc-x, reproducibly.

The compiler is a native solc 0.8.30 when one is installed (``REGISTRY_SOLC``, py-solc-x's
install folder or ``solc`` on PATH) and otherwise npm's solcjs behind ``scripts/solc-shim``.
The standard-JSON input holds every source (imports resolved here, from ``node_modules``), so
both compilers see exactly the same input and produce the same bytecode.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from registry.chain.artifact import ARTIFACT_PATH, CONTRACT_NAME, artifact_bytes
from registry.errors import ConfigError, ErrorCode, RegistryError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_UNIT = "contracts/CredentialRegistry.sol"
SOLC_VERSION = "0.8.30"
SETTINGS: dict[str, Any] = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 200},
    "metadata": {"bytecodeHash": "ipfs"},
}
SHIM = PROJECT_ROOT / "scripts" / "solc-shim"

_IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^"';]*?\s+from\s+)?["']([^"']+)["']\s*;""", re.MULTILINE)


class CompileError(RegistryError):
    """The compiler failed or is missing."""

    code = ErrorCode.COMPILE_FAILED


def _resolve(unit: str) -> Path:
    for base in (PROJECT_ROOT, PROJECT_ROOT / "node_modules"):
        p = base / unit
        if p.is_file():
            return p
    raise CompileError(f"cannot find Solidity source {unit!r} (run `npm ci`)")


def collect_sources(root_unit: str = SOURCE_UNIT) -> dict[str, str]:
    """Every source unit reachable from ``root_unit`` by imports, as {unit name: content}."""
    sources: dict[str, str] = {}
    todo = [root_unit]
    while todo:
        unit = todo.pop()
        if unit in sources:
            continue
        content = _resolve(unit).read_text(encoding="utf-8")
        sources[unit] = content
        for imp in _IMPORT_RE.findall(content):
            if imp.startswith("./") or imp.startswith("../"):
                imp = posixpath.normpath(posixpath.join(posixpath.dirname(unit), imp))
            todo.append(imp)
    return dict(sorted(sources.items()))


def standard_input(sources: dict[str, str]) -> dict[str, Any]:
    """The solc standard-JSON input for the given sources with the pinned settings."""
    return {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": {
            **SETTINGS,
            "outputSelection": {
                SOURCE_UNIT: {CONTRACT_NAME: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


@lru_cache(maxsize=8)
def _native_version(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"(\d+\.\d+\.\d+)\+commit\.([0-9a-f]+)", out)
    return f"{m.group(1)}+commit.{m.group(2)}" if m else None


def find_solc() -> Path:
    """The compiler binary: a native solc of the pinned version if present, else the solcjs shim."""
    candidates: list[str] = []
    if env := os.environ.get("REGISTRY_SOLC"):
        candidates.append(env)
    try:
        from solcx.install import get_executable

        candidates.append(str(get_executable(SOLC_VERSION)))
    except Exception:  # not installed through py-solc-x
        pass
    if which := shutil.which("solc"):
        candidates.append(which)
    for c in candidates:
        v = _native_version(c)
        if v and v.startswith(SOLC_VERSION + "+"):
            return Path(c)
    if not (PROJECT_ROOT / "node_modules" / "solc").is_dir():
        raise CompileError(f"no solc {SOLC_VERSION} found and node_modules/solc is missing (run `npm ci`)")
    return SHIM


def compile_registry(solc_binary: Path | None = None) -> dict[str, Any]:
    """Compile the contract and return the artifact document (what is committed as JSON)."""
    import solcx
    from solcx.exceptions import SolcError

    binary = solc_binary or find_solc()
    version = _native_version(str(binary))
    if not version or not version.startswith(SOLC_VERSION + "+"):
        raise CompileError(f"{binary} is not solc {SOLC_VERSION} (got {version})")
    sources = collect_sources()
    try:
        out = solcx.compile_standard(standard_input(sources), solc_binary=binary)
    except SolcError as exc:
        raise CompileError(f"solc failed: {str(exc).strip().splitlines()[0] if str(exc) else exc}") from exc
    except (OSError, ValueError) as exc:
        raise CompileError(f"cannot run the compiler {binary}: {exc}") from exc
    c = out["contracts"][SOURCE_UNIT][CONTRACT_NAME]
    return {
        "contractName": CONTRACT_NAME,
        "sourceName": SOURCE_UNIT,
        "abi": c["abi"],
        "bytecode": "0x" + c["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
        "solcVersion": version,
        "settings": SETTINGS,
        "sourceSha256": hashlib.sha256(sources[SOURCE_UNIT].encode()).hexdigest(),
        "sources": {u: hashlib.sha256(t.encode()).hexdigest() for u, t in sources.items()},
    }


def write_artifact(data: dict[str, Any], path: Path = ARTIFACT_PATH) -> Path:
    """Write the artifact document to ``path`` (the committed file by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(artifact_bytes(data))
    return path


def check_artifact(path: Path = ARTIFACT_PATH, solc_binary: Path | None = None) -> bool:
    """True when a fresh compile reproduces the committed artifact byte for byte."""
    if not path.is_file():
        raise ConfigError(f"contract artifact missing: {path}")
    return artifact_bytes(compile_registry(solc_binary)) == path.read_bytes()
