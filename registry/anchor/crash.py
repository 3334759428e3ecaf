"""Named crash points for the exactly-once tests.

``REGISTRY_TEST_CRASH_AT=<stage>`` makes the process kill itself with SIGKILL when it reaches the
point of that name, the way a power cut or the OOM killer would: no cleanup, no flush. Stages:
``after-intake``, ``after-seal``, ``after-pin``, ``after-sign``, ``after-broadcast``,
``after-mined``, ``mid-proofs`` (the stage matrix every run passes), and ``after-reorg`` (reached
only when a reorg removed an anchor; the finality tests use it), and ``mid-copies`` (signed
copies' files renamed, not yet marked written; tests/pipeline/test_pipeline_signing.py), and
``mid-keepsakes`` (certificates and badges written to temporary files, not yet renamed;
tests/pipeline/test_pipeline_keepsakes.py), and ``after-correction-anchored`` (``registry reissue``:
the correction anchored, the old credential not revoked yet; tests/roster). Unset (the
normal case) the check costs one dict lookup. ``registry deliver`` has :data:`DELIVERY_STAGES`
(tests/delivery/test_deliver_crash.py): ``deliver-mid-data`` (message body sent, ``sending`` not
committed), ``deliver-before-end`` (``sending`` committed, end of data not sent),
``deliver-after-reply`` (the server's 250 read, ``sent`` not committed).

``REGISTRY_TEST_PAUSE_AT=<stage>:<folder>`` makes the process stop at the pause point of that name
(``before-queue``: intake, between the duplicate check and the insert; ``before-seal``: the sealer,
between reading the queue and moving it into a batch), write
``<folder>/<pid>.ready`` and wait until ``<folder>/go`` exists (at most 120 s): the concurrency
tests line two real processes up at the same point.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

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
DELIVERY_STAGES = ("deliver-mid-data", "deliver-before-end", "deliver-after-reply")  # issue 15


def crash_point(stage: str) -> None:
    """Die at once with SIGKILL when the environment asks for a crash at ``stage``."""
    if os.environ.get(ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


PAUSE_ENV = "REGISTRY_TEST_PAUSE_AT"


def pause_point(stage: str) -> None:
    """Wait at ``stage`` until released when the environment asks for it (tests only)."""
    spec = os.environ.get(PAUSE_ENV)
    if not spec or not spec.startswith(stage + ":"):
        return
    folder = Path(spec.split(":", 1)[1])
    (folder / f"{os.getpid()}.ready").write_text(stage)
    deadline = time.monotonic() + 120
    while not (folder / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
