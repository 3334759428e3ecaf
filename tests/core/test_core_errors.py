"""The error catalogue: every code in the tree is in it, exit codes and HTTP statuses as before."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from registry.errors import (
    CanonicalizationError,
    ChainError,
    ConfigError,
    ContractRevert,
    ErrorCode,
    ExitCode,
    InputError,
    KeyError_,
    NotFoundError,
    RegistryError,
    StoreError,
    ValidationError,
)

REGISTRY = Path(__file__).resolve().parents[2] / "registry"


def _code_literals() -> set[str]:
    found: set[str] = set()
    for path in REGISTRY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    value = kw.value
                    if kw.arg == "code" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found.add(value.value)
    return found


def test_every_code_literal_is_in_the_catalogue() -> None:
    missing = _code_literals() - {c.value for c in ErrorCode}
    assert not missing, f"codes missing from registry.errors.ErrorCode: {sorted(missing)}"


@pytest.mark.parametrize(
    ("exc", "code", "exit_code", "http"),
    [
        (RegistryError("x"), "registry_error", 1, 400),
        (InputError("x"), "invalid_input", 2, 422),
        (CanonicalizationError("x", code="duplicate_key"), "duplicate_key", 2, 422),
        (ValidationError("x", code="invalid_date"), "invalid_date", 2, 422),
        (ConfigError("x"), "config_error", 1, 500),
        (ChainError("x"), "chain_unavailable", 3, 503),
        (ChainError("x", code="wrong_chain"), "wrong_chain", 3, 503),
        (ContractRevert("x", error="NotActiveIssuer"), "contract_revert", 1, 409),
        (StoreError("x"), "store_error", 1, 503),
        (NotFoundError("x"), "not_found", 1, 404),
        (KeyError_("x"), "key_error", 1, 500),
        (RegistryError("x", code="stopped"), "stopped", 1, 400),
    ],
)
def test_exit_codes_and_http_statuses(exc: RegistryError, code: str, exit_code: int, http: int) -> None:
    assert exc.code == code and exc.code is ErrorCode(code)
    assert (exc.exit_code, exc.http_status) == (exit_code, http)
    assert str(exc) == f"{code}: x"


def test_unknown_codes_are_refused_and_revert_names_typed() -> None:
    with pytest.raises(ValueError):
        RegistryError("x", code="no_such_code")
    assert ContractRevert("x", error="BatchAlreadyAnchored").error_name == "BatchAlreadyAnchored"
    assert ContractRevert("x").error_name is None
    assert ExitCode.CHAIN_UNAVAILABLE == 3
    assert ErrorCode.CHAIN_UNAVAILABLE.exit_code is ExitCode.CHAIN_UNAVAILABLE
