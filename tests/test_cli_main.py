"""The `registry` entry point: usage errors are one clear message with click's exit code 2."""

from __future__ import annotations

import subprocess
import sys


def _registry(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from registry.cli.main import run; sys.argv = ['registry', *sys.argv[1:]]; run()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_unknown_command_is_a_usage_error_not_an_internal_one() -> None:
    res = _registry("no-such-command")
    assert res.returncode == 2
    assert "No such command" in res.stderr and "internal" not in res.stderr


def test_missing_required_option_names_it() -> None:
    res = _registry("issuer", "add", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    assert res.returncode == 2
    assert "--name" in res.stderr and "internal" not in res.stderr
