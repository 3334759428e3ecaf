"""Session fixtures shared by every area: a running anvil, an in-process eth-tester Web3, and the
one PostgreSQL server every PostgreSQL test takes (tests/pg_server.py says which)."""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import helpers` from any test folder

from helpers import new_tester_w3  # noqa: E402
from pg_server import PgServer, configured_server, start_throwaway  # noqa: E402

# The session's anvil mines a block only when asked, so its `finalized` block (two epochs of 32
# blocks behind the head) would never reach a fresh anchor: tests that are not about finality
# count confirmations. Finality is tested where it is the subject (tests/*/test_*finality*.py, the
# dev command, which runs anvil with a block every second), with the rule named explicitly.
os.environ.setdefault("REGISTRY_FINALITY", "depth")

from registry.chain.anvil import Anvil, start_anvil  # noqa: E402
from registry.chain.connection import connect  # noqa: E402


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    """One anvil on 127.0.0.1 (free port) for the session; stopped with SIGTERM afterwards."""
    node = start_anvil()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def anvil_w3(anvil: Anvil) -> Web3:
    """A Web3 connected to the session anvil."""
    return connect(anvil.url)


@pytest.fixture(scope="session")
def tester_w3() -> Web3:
    """A Web3 on an in-process eth-tester (py-evm) chain, anvil's dev accounts funded."""
    return new_tester_w3()


_PG_USED: list[str] = []  # for the closing summary: which PostgreSQL this session used


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL: the one ``REGISTRY_TEST_PG`` names, else a throwaway server
    started on first use (initdb + pg_ctl, free 127.0.0.1 port) and stopped at the session's end."""
    named = configured_server()
    if named is not None:
        _PG_USED.append(f"PostgreSQL: REGISTRY_TEST_PG's server on {named.host}:{named.port}")
        yield named
        return
    pg = start_throwaway()
    atexit.register(pg.stop)  # also when the session ends without finishing its fixtures
    _PG_USED.append(f"PostgreSQL: throwaway server on 127.0.0.1:{pg.server.port} in {pg.root}")
    try:
        yield pg.server
    finally:
        pg.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its line to the controller, which prints the summary."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["pg_used"] = list(_PG_USED)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """Collect the workers' lines (pytest-xdist's hook, on the controller)."""
    _PG_USED.extend(getattr(node, "workeroutput", {}).get("pg_used", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which PostgreSQL the tests used (none when no test needed one)."""
    for line in _PG_USED:
        terminalreporter.write_line(line)
