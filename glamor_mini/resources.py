"""What a run may use of the machine it shares with other runs.

Memory: checks before big allocations, a clear error with the estimate instead of a traceback
from the allocator (or the OOM killer) after minutes of setup. Runs that start together on one
host take `memory_lock()` around check + allocation, so each sees the memory the others took
(torch.zeros commits its pages while the lock is held); without it, several runs read the same
free memory, all pass, and together overcommit.

CPUs: `cpu_share()` is the number of cores this run may use: GLAMOR_CPUS when a job executor set
it (the CPUs the job asked its scheduler for), else the cores this process may run on. The vector
envs (envs/vec.py) size their worker processes by it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

CPUS_ENV = "GLAMOR_CPUS"
"""Environment variable: the CPUs a job was granted (set by experiments/executor.py)."""


def cpu_share() -> int:
    """Cores this run may use: int(GLAMOR_CPUS) when set (at least 1), else the cores this
    process may be scheduled on (os.sched_getaffinity, else os.cpu_count())."""
    text = os.environ.get(CPUS_ENV, "").strip()
    if text:
        try:
            return max(1, int(float(text)))
        except ValueError:
            raise ValueError(
                f"{CPUS_ENV}={text!r} is not a number; set it to the CPUs this run may use "
                "(e.g. 4) or unset it"
            ) from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def lock_file() -> Path:
    """The memory lock's file: one per user in the temp folder."""
    uid = getattr(os, "getuid", lambda: "")()
    return Path(tempfile.gettempdir()) / f"glamor-mini-memory-{uid}.lock"


@contextlib.contextmanager
def memory_lock(path: str | Path | None = None) -> Iterator[None]:
    """Hold a host-wide lock (an flock on a file in the temp folder) while checking free memory
    and allocating, so that runs starting together do not all count the same free memory. On
    systems without fcntl (Windows) it does nothing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not Linux/macOS
        yield
        return
    path = Path(path) if path is not None else lock_file()
    with open(path, "a+b") as fh:  # noqa: PTH123 - kept open for the lock's lifetime
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


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


__all__ = [
    "CPUS_ENV",
    "InsufficientMemoryError",
    "available_memory_bytes",
    "check_memory",
    "cpu_share",
    "format_bytes",
    "memory_lock",
]
