"""Memory checks before big allocations: a clear error with the estimate instead of a traceback
from the allocator (or the OOM killer) after minutes of setup."""

from __future__ import annotations

import os
from pathlib import Path


def available_memory_bytes() -> int | None:
    """Memory the OS can give this process now: MemAvailable from /proc/meminfo (Linux), else
    free physical pages from os.sysconf; None when neither is known."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the value is in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB' (binary units, as `free -h` prints them)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class InsufficientMemoryError(ValueError):
    """An allocation that cannot fit in the memory available now (raised before allocating)."""


def check_memory(need: int, what: str, hint: str, available: int | None = None) -> None:
    """Raise InsufficientMemoryError saying how much `what` needs when it exceeds the available
    memory (`available` defaults to `available_memory_bytes()`; unknown -> no check)."""
    available = available_memory_bytes() if available is None else available
    if available is not None and need > available:
        raise InsufficientMemoryError(
            f"{what} needs {format_bytes(need)} but only {format_bytes(available)} of memory is "
            f"available; {hint}"
        )


__all__ = ["InsufficientMemoryError", "available_memory_bytes", "check_memory", "format_bytes"]
