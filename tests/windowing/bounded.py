"""A time limit for tests that once hung: a hang must fail the test, not stall the suite.

pytest-timeout is not a dependency; SIGALRM interrupts a pure-Python loop in the main thread
(where pytest runs tests), which is where the windowing loops that hung ran.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Hang(AssertionError):
    """The code under test took longer than its time limit."""


@contextmanager
def within(seconds: float) -> Iterator[None]:
    def _alarm(signum, frame):
        raise Hang(f"did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
