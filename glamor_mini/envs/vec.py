"""Several environments stepped together for data collection.

`SerialVecEnv` steps a list of envs in this process (fine when an env step is cheap or the
machine has 2 cores). `SubprocVecEnv` runs each env in its own process, stepped in parallel:
Atari and DM Control use it on machines with more than 2 cores (`use_workers`), so that
collection scales with the cores that a GPU box has. Both expose:

    reset_slots(slots, seeds) -> frames (k, c, H, W) uint8, labels (k, L) float32
    step(actions (n,))        -> frames (n, c, H, W), labels (n, L), ended (n,) bool
    close()

`Task.make_vec_env(n, seed)` (base.py) returns a SerialVecEnv of the task's collection envs
unless the suite chooses its own (Atari and DM Control: workers built from a picklable factory).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

SuiteEnv = Any  # an env with reset / step / close (envs.base.SuiteEnv; base.py imports this module)


class SerialVecEnv:
    def __init__(self, envs: Sequence[SuiteEnv]):
        self.envs = list(envs)
        self.n = len(self.envs)

    def reset_slots(self, slots: Sequence[int], seeds: Sequence[int | None]):
        out = [self.envs[i].reset(seed=s) for i, s in zip(slots, seeds, strict=True)]
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])

    def step(self, actions: np.ndarray):
        out = [env.step(int(a)) for env, a in zip(self.envs, actions, strict=True)]
        return (
            np.stack([o[0] for o in out]),
            np.stack([o[1] for o in out]),
            np.array([o[2] for o in out], dtype=bool),
        )

    def close(self) -> None:
        for env in self.envs:
            close = getattr(env, "close", None)
            if close is not None:
                close()


def _worker(conn, make_env: Callable[[], SuiteEnv]) -> None:
    env = make_env()
    try:
        while True:
            cmd, arg = conn.recv()
            if cmd == "reset":
                conn.send(env.reset(seed=arg))
            elif cmd == "step":
                conn.send(env.step(arg))
            elif cmd == "close":
                break
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        close = getattr(env, "close", None)
        if close is not None:
            close()
        conn.close()


MIN_CORES_FOR_WORKERS = 2
"""Subprocess workers only above this many cores (on 2 cores they measured no gain)."""


def use_workers(n: int) -> bool:
    """Whether n envs should run in subprocesses on this machine."""
    return n > 1 and (os.cpu_count() or 1) > MIN_CORES_FOR_WORKERS


class SubprocVecEnv:
    """One process per env. make_env: one picklable factory for all envs (a module-level
    function or a partial) or a sequence of n factories (e.g. one seed each)."""

    def __init__(
        self,
        make_env: Callable[[], SuiteEnv] | Sequence[Callable[[], SuiteEnv]],
        n: int,
        start_method: str = "spawn",
    ):
        ctx = mp.get_context(start_method)
        makers = list(make_env) if isinstance(make_env, Sequence) else [make_env] * n
        if len(makers) != n:
            raise ValueError(f"{len(makers)} env factories for n={n} envs")
        self.n = n
        self.conns, self.procs = [], []
        for make_one in makers:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, make_one), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def reset_slots(self, slots: Sequence[int], seeds: Sequence[int | None]):
        for i, s in zip(slots, seeds, strict=True):
            self.conns[i].send(("reset", s))
        out = [self.conns[i].recv() for i in slots]
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])

    def step(self, actions: np.ndarray):
        for conn, a in zip(self.conns, actions, strict=True):
            conn.send(("step", int(a)))
        out = [conn.recv() for conn in self.conns]
        return (
            np.stack([o[0] for o in out]),
            np.stack([o[1] for o in out]),
            np.array([o[2] for o in out], dtype=bool),
        )

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
