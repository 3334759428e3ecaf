"""Named crash points for the exactly-once tests.

``REGISTRY_TEST_CRASH_AT=<stage>`` makes the process kill itself with SIGKILL when it reaches the
point of that name, the way a power cut or the OOM killer would: no cleanup, no flush. Stages:
``after-intake``, ``after-seal``, ``after-pin``, ``after-sign``, ``after-broadcast``,
``after-mined``, ``mid-proofs`` (the stage matrix every run passes), and ``after-reorg`` (reached
only when a reorg removed an anchor; the finality tests use it). Unset (the normal case) the check
costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "REGISTRY_TEST_CRASH_AT"
STAGES = (
    "after-intake",
    "after-seal",
    "after-pin",
    "after-sign",
    "after-broadcast",
    "after-mined",
    "mid-proofs",
)
REORG_STAGES = ("after-reorg",)


def crash_point(stage: str) -> None:
    """Die at once with SIGKILL when the environment asks for a crash at ``stage``."""
    if os.environ.get(ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)
