#!/usr/bin/env bash
# Issuer cron job: take in new credential files, anchor everything queued, write the proofs.
#
#   */10 * * * *  /path/to/registry/scripts/anchor-cron.sh /srv/credentials/inbox
#
# Settings come from the environment or registry.toml (REGISTRY_CONTRACT, REGISTRY_RPC_URL,
# REGISTRY_KEYSTORE + REGISTRY_KEYSTORE_PASSWORD_FILE or REGISTRY_PRIVATE_KEY, REGISTRY_DATA_DIR,
# REGISTRY_DATABASE_URL, REGISTRY_OUTPUT_DIR, ...). Safe to run often and after a crash:
#   - issuing the same file again is a no-op, so the inbox may keep its files (or move them away
#     after a successful run, as below with ANCHOR_CRON_DONE_DIR);
#   - `registry anchor` resumes whatever a killed run left (signed transactions are re-sent,
#     never duplicated) and refuses to run twice at once (exit 1, "busy"), so overlapping cron
#     runs are harmless;
#   - when the chain node is down it waits (up to ANCHOR_CRON_NODE_TIMEOUT seconds, default 600)
#     and exits 3 if it stays down; the next run picks up from the same place.
# Exit codes: 0 done; 2 some documents rejected (the rest anchored); 1/3 see above.
set -uo pipefail
cd "$(dirname "$0")/.."
REGISTRY=${REGISTRY_BIN:-.venv/bin/registry}
NODE_TIMEOUT=${ANCHOR_CRON_NODE_TIMEOUT:-600}
status=0
if [[ $# -gt 0 ]]; then
  "$REGISTRY" issue "$@"
  rc=$?
  if [[ $rc -eq 2 ]]; then status=2; elif [[ $rc -ne 0 ]]; then exit $rc; fi
fi
"$REGISTRY" anchor --quiet --node-timeout "$NODE_TIMEOUT"
rc=$?
[[ $rc -ne 0 ]] && exit $rc
if [[ $# -gt 0 && -n "${ANCHOR_CRON_DONE_DIR:-}" && $status -eq 0 ]]; then
  mkdir -p "$ANCHOR_CRON_DONE_DIR"
  for p in "$@"; do [[ -f "$p" ]] && mv -- "$p" "$ANCHOR_CRON_DONE_DIR/"; done
fi
exit $status
