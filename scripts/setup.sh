#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: Python venv with the locked packages, the pinned
# node tools (npm ci), and with --test the Debian packages the tests need: chromium for the
# browser tests, fonts-dejavu-core for the certificate PDFs, postgresql for the throwaway server
# the PostgreSQL tests start (tests/pg_server.py).
# Re-running it does nothing when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WANT_TEST=0
[[ "${1:-}" == "--test" ]] && WANT_TEST=1

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "setup: Python 3.11+ is required" >&2; exit 1; }

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
PYSTAMP=$(stamp requirements.lock pyproject.toml)
if [[ "$(cat .venv/.setup-stamp 2>/dev/null)" != "$PYSTAMP" ]]; then
  echo "setup: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$PYSTAMP" > .venv/.setup-stamp
fi

NODESTAMP=$(stamp package.json package-lock.json)
if [[ "$(cat node_modules/.setup-stamp 2>/dev/null)" != "$NODESTAMP" ]]; then
  command -v npm >/dev/null || { echo "setup: node and npm are required (Debian: apt-get install nodejs npm)" >&2; exit 1; }
  echo "setup: installing pinned node tools (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$NODESTAMP" > node_modules/.setup-stamp
fi

SUDO=""
[[ $(id -u) == 0 ]] || SUDO="sudo"
APT_UPDATED=0
apt_install() {  # Debian packages; the package lists are refreshed once
  if [[ $APT_UPDATED == 0 ]]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

pg_server_tools() {  # initdb and pg_ctl on PATH, or in Debian's /usr/lib/postgresql/<version>/bin
  { command -v initdb && command -v pg_ctl; } >/dev/null && return 0
  compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if [[ $WANT_TEST == 1 ]]; then
  if ! command -v chromium >/dev/null; then
    echo "setup: installing Debian chromium for the browser tests" >&2
    apt_install chromium
  fi
  if [[ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; then
    # the font certificates and badges embed (`registry anchor --pdf/--badge`, tests/keepsakes)
    echo "setup: installing Debian fonts-dejavu-core for the certificate PDFs" >&2
    apt_install fonts-dejavu-core
  fi
  if ! pg_server_tools; then
    # the tests start their own throwaway server (initdb + pg_ctl); no system cluster is made
    # or started on 5432 (a server of your own is used with REGISTRY_TEST_PG, see the README)
    echo "setup: installing Debian postgresql (server tools) for the PostgreSQL tests" >&2
    apt_install postgresql-common
    $SUDO sed -i -E 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
      /etc/postgresql-common/createcluster.conf
    apt_install postgresql
  fi
fi
if [[ $WANT_TEST == 1 ]]; then
  # auditor tooling: the Hardhat 2 example's own pinned packages (tests copy it and symlink these)
  HHSTAMP=$(stamp examples/hardhat/package.json examples/hardhat/package-lock.json)
  if [[ "$(cat examples/hardhat/node_modules/.setup-stamp 2>/dev/null)" != "$HHSTAMP" ]]; then
    echo "setup: installing the Hardhat example's packages (npm ci in examples/hardhat)" >&2
    (cd examples/hardhat && npm ci --no-audit --no-fund --loglevel=error)
    echo "$HHSTAMP" > examples/hardhat/node_modules/.setup-stamp
  fi
fi
echo "setup: ready in $ROOT" >&2
