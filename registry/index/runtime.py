"""The shared index's threads inside one ``registry serve`` worker: the replica sync (always) and
the follower lease (with ``REGISTRY_INDEX_FOLLOW=auto``: the worker holding the lock follows)."""

from __future__ import annotations

import time
from typing import Any

from registry.index.follower import FollowerLease
from registry.index.replica import ReplicaSync, SharedIndex


class ReplicaRuntime:
    """Starts and stops a worker's replica sync and, when enabled, its follower lease."""

    def __init__(self, session: Any) -> None:
        index = session.index
        assert isinstance(index, SharedIndex)
        settings = session.settings
        self.sync = ReplicaSync(index, interval=settings.index_poll_interval)
        self.lease: FollowerLease | None = None
        if settings.index_follow == "auto":
            self.lease = FollowerLease(settings, index.idb, store=session.store_override)

    def start(self) -> None:
        """Start the threads (the lease first: a lone worker leads at once)."""
        if self.lease is not None:
            self.lease.start()
        self.sync.start()

    def wait_synced(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the first state of a follower that has read the chain in
        full (a fresh worker then answers at once; a long first sync does not hold the start)."""
        end = time.monotonic() + timeout
        while self.sync.reader.synced_at is None:
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        """Stop the threads and let go of the follower lock."""
        self.sync.stop()
        if self.lease is not None:
            self.lease.stop()
