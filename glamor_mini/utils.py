"""Small shared helpers: devices, seeding, atomic file writes."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else is passed to torch.device."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as err:
        raise ValueError(
            f"device={spec!r} is not a torch device; use 'auto', 'cpu' or 'cuda'"
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={spec!r} was asked for but CUDA is not available; use 'auto'")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (components also own generators)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """torch.save through a temp file + rename: an interrupted save never leaves a torn file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


HOST_READS = frozenset(
    {"item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "nonzero"}
)
"""Tensor calls that read values back to the host: each one is a device sync on CUDA."""


class HostReadCounter(torch.overrides.TorchFunctionMode):
    """Counts host reads (HOST_READS) made inside a `with` block: the number of host-device
    syncs the block would cost on a GPU, measurable on any device (tests, bench/gpu.py).

    device_only=True counts only reads of tensors that are not on the CPU (true syncs on CUDA;
    e.g. AdamW reads its CPU step counters with .item(), which costs no sync)."""

    def __init__(self, device_only: bool = False) -> None:
        super().__init__()
        self.device_only = device_only
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in HOST_READS:
            on_device = any(isinstance(a, torch.Tensor) and a.device.type != "cpu" for a in args)
            if on_device or not self.device_only:
                self.calls.append(func.__name__)
        return func(*args, **(kwargs or {}))

    @property
    def count(self) -> int:
        return len(self.calls)
