"""The cyclic garbage collector around phases that build many long-lived objects.

Loading a 10,000-instance spec set allocates about a million objects that all live on; each full pass
of the collector walks that growing heap again (1.3 s of 2.2 s), and the first young-generation pass
after switching it back on still walks every object allocated meanwhile (0.2-0.3 s). So the loader
pauses the collector, and a command that keeps the specs for its whole run freezes them before the
collector is back (:func:`paused` with ``freeze=True``): they are never walked again. What is frozen
stays for the process's life, which for a command's specs, SDK and plan is what happens anyway.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused(*, freeze: bool = False) -> Iterator[None]:
    """The collector off inside, and as it was afterwards (also on errors); ``freeze``: everything alive at
    the end moves to the permanent generation first (only when the block ended without an error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        if freeze:
            gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
