"""Small shared helpers: devices, seeding, atomic file writes."""

from __future__ import annotations

import functools
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


def set_torch_threads(threads: int, small_model: bool, device: torch.device) -> None:
    """torch's intra-op threads: `threads` when set (Config.torch_threads), else at most two for
    a small model (an MLP encoder) on the CPU, where past two threads the overhead of tiny
    matmuls outweighs the gain and two beat one (the `gridworld` preset, LSTM 64, batch 200:
    71 s vs 99-106 s on a 2-core CPU); torch's default otherwise."""
    if threads:
        torch.set_num_threads(threads)
    elif small_model and device.type == "cpu":
        torch.set_num_threads(min(2, torch.get_num_threads()))


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


HOST_READS = frozenset(
    {"item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "nonzero"}
)
"""Tensor calls that read values back to the host: each one is a device sync on CUDA."""


class HostReadCounter(torch.overrides.TorchFunctionMode):
    """Counts, inside a `with` block, what would make a GPU wait for the host, measurable on any
    device (tests run it with a model on the `meta` device; bench/gpu.py on CUDA):

    calls   host reads (HOST_READS): each one is a device sync on CUDA; `count` is their number.
    uploads host-to-device copies made by the block (`.to`/`.cuda`/`copy_` from a CPU tensor onto
            another device, `torch.tensor(..., device=...)`): from pageable memory each one blocks
            the host until the copy is done.
    mixed   ops that meet a CPU tensor with one or more elements beside a tensor on another device
            (e.g. CUDA weights indexed by a CPU index): torch copies it over implicitly, unseen.
            0-dim CPU tensors are left out (torch passes them to kernels as plain numbers).

    device_only=True counts only reads of tensors that are not on the CPU (true syncs on CUDA;
    e.g. AdamW reads its CPU step counters with .item(), which costs no sync)."""

    def __init__(self, device_only: bool = False) -> None:
        super().__init__()
        self.device_only = device_only
        self.calls: list[str] = []
        self.uploads: list[str] = []
        self.mixed: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        tensors = [t for t in _tensors_in((args, kwargs))]
        if name in HOST_READS:
            on_device = any(t.device.type != "cpu" for t in tensors[:1])
            if on_device or not self.device_only:
                self.calls.append(name)
        elif name not in _TRANSFERS:
            devices = {t.device.type for t in tensors if t.device.type != "cpu"}
            if devices and any(t.device.type == "cpu" and t.dim() > 0 for t in tensors):
                self.mixed.append(name)
        out = func(*args, **kwargs)
        if name in _TRANSFERS and isinstance(out, torch.Tensor) and out.device.type != "cpu":
            src = args[1] if name == "copy_" else args[0] if args else None
            if name == "tensor" or (isinstance(src, torch.Tensor) and src.device.type == "cpu"):
                self.uploads.append(name)
        return out

    @property
    def count(self) -> int:
        return len(self.calls)


_TRANSFERS = frozenset({"to", "cuda", "copy_", "tensor", "as_tensor"})


def _tensors_in(obj: Any):
    """Every tensor in nested tuples / lists / dicts (the arguments of a torch call)."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            yield from _tensors_in(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _tensors_in(x)


def frame_fingerprint(frames: torch.Tensor) -> torch.Tensor:
    """(N, c, H, W) uint8 -> (N,) int64, equal for equal frames and, with probability ~1,
    different for different ones: a dot product with fixed random integer weights (integer
    arithmetic, so it is exact whatever the batch shape). DISCERN masks decoys equal to a goal."""
    flat = frames.reshape(len(frames), -1).long()
    return (flat * _fingerprint_weights(flat.shape[1], flat.device)).sum(dim=1)


@functools.cache
def _fingerprint_weights(n: int, device: torch.device) -> torch.Tensor:
    """frame_fingerprint's weights: drawn on the CPU (the same on every device), copied to
    `device` once per (size, device) instead of once per call."""
    gen = torch.Generator().manual_seed(12345)
    return torch.randint(1 << 20, (n,), generator=gen, dtype=torch.long).to(device)
