"""Give freed memory back to the operating system (glibc's ``malloc_trim``).

Large results are freed by the master once nothing needs them, but glibc keeps freed
heap pages for reuse (its mmap threshold grows after the first large frees), so the
master's resident memory would stay at its peak. Trimming after every TRIM_EVERY bytes
released keeps it near what is live, at the cost of a walk over the free lists.
"""

from __future__ import annotations

from collections.abc import Callable

TRIM_EVERY = 64 * 2**20  # bytes released between two trims


def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes  # at the first trim, not at start-up

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc
        return None


class Trimmer:
    """Counts released bytes; trims the heap every TRIM_EVERY of them."""

    def __init__(self) -> None:
        self._trim: Callable[[int], int] | None = None
        self._looked = False
        self._released = 0

    def released(self, size: int) -> None:
        self._released += size
        if self._released >= TRIM_EVERY:
            self._released = 0
            if not self._looked:
                self._trim, self._looked = _malloc_trim(), True
            if self._trim is not None:
                self._trim(0)
