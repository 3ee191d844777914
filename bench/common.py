"""Shared helpers for the benchmark scripts: arguments, device setup, timing and tables.

Benchmarks print ratios measured in the same run; nothing here asserts on wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from glamor_mini.utils import resolve_device, seed_everything


def base_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every bench script accepts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="auto", help="'auto' (CUDA if present), 'cpu', ...")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per row")
    parser.add_argument("--quick", action="store_true", help="small sizes: a fast smoke run")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch.set_num_threads (default 1: steadier on shared CPUs; 0 leaves torch's default)",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser


def setup(args: argparse.Namespace) -> torch.device:
    """Resolve the device, seed everything, set torch threads only when asked; print a header."""
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "n/a"
    print(
        f"torch {torch.__version__} | device {device} ({name or platform.machine()}) | "
        f"torch threads {torch.get_num_threads()} | {os.cpu_count()} CPUs, load {load} at start"
        f" | repeats {args.repeats}" + (" | QUICK" if args.quick else "")
    )
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        print(
            "WARNING: other processes are using the CPUs: timings will be noisy (with several "
            "torch threads, badly so; --threads 1 is steadier)."
        )
    return device


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 1
) -> tuple[float, Any]:
    """Median seconds per call over `repeats` timed calls after `warmup` untimed ones.

    Returns (median seconds, the last call's result).
    """
    result = None
    for _ in range(warmup):
        result = fn()
    sync(device)
    times = []
    for _ in range(max(repeats, 1)):
        sync(device)
        t0 = time.perf_counter()
        result = fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def time_interleaved(
    fns: Sequence[Callable[[], Any]],
    device: torch.device,
    repeats: int,
    warmup: int = 1,
    stat: str = "median",
) -> tuple[list[float], list[Any]]:
    """Seconds per call of each function, timed in turns (f0, f1, .., f0, f1, ..) so that a
    transient slowdown of a shared machine falls on all of them alike.

    stat: "median" of the repeats, or "min" (the least disturbed block of each: the steadiest
    estimate of a CPU-bound cost on a busy machine, as `timeit` recommends).
    Returns (seconds per function, each function's last result).
    """
    if stat not in ("median", "min"):
        raise ValueError(f"stat={stat!r}: expected 'median' or 'min'")
    results: list[Any] = [None] * len(fns)
    for _ in range(warmup):
        for j, fn in enumerate(fns):
            results[j] = fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(max(repeats, 1)):
        for j, fn in enumerate(fns):
            sync(device)
            t0 = time.perf_counter()
            results[j] = fn()
            sync(device)
            times[j].append(time.perf_counter() - t0)
    agg = statistics.median if stat == "median" else min
    return [agg(t) for t in times], results


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A small right-aligned text table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def verdict(label: str, met: bool, value: str) -> str:
    return f"{label}: {'MET' if met else 'NOT MET'} ({value})"


if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one only holds helpers
    print("bench/common.py: shared helpers, no benchmark here")
