"""Spacing of the sends: at most ``rate`` messages a second, on an injectable clock.

Two sends are at least ``1 / rate`` seconds apart, so any window of ``w`` seconds holds at most
``floor(w * rate) + 1`` of them. The clock and the sleep are parameters: the tests drive a fake
clock and read the spacing off it instead of measuring wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """``wait()`` before each send."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next: float | None = None

    def wait(self) -> float:
        """Sleep until the next send is allowed; returns the clock time the send may start."""
        now = self.clock()
        while self._next is not None and now < self._next:
            self.sleep(self._next - now)
            now = self.clock()
        self._next = now + self.interval
        return now
