#!/usr/bin/env bash
# Long-running issuer anchoring (systemd, supervisord, a container): seals a batch when it is full
# or when its oldest credential has waited REGISTRY_BATCH_MAX_WAIT seconds, anchors it and writes
# the proofs. SIGTERM (systemctl stop, docker stop) makes it stop cleanly between two steps;
# SIGKILL is safe too: the next start resumes where it stopped.
#
#   [Service]
#   ExecStart=/path/to/registry/scripts/anchor-watch.sh
#   KillSignal=SIGTERM
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${REGISTRY_BIN:-.venv/bin/registry}" anchor --watch "$@"
