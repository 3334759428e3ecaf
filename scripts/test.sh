#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs, then runs pytest.
# Two pytest-xdist workers (each starts its own anvil, js-ipfs and throwaway PostgreSQL as its
# tests need them); --dist loadfile keeps a file's module fixtures in one worker. On 2 cores the
# suite took 326-568 s this way against 555-910 s in one process (README, Development).
# Arguments pass through to pytest (`-n 0` runs it in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
