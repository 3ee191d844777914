"""Several environments stepped together for data collection.

`SerialVecEnv` steps a list of envs in this process (fine when an env step is cheap or the
run has 2 cores). `SubprocVecEnv` runs the envs in worker processes, stepped in parallel, each
worker holding a contiguous group of them: Atari and DM Control use it when the run's CPU share
is above 2 cores (`env_workers`), with one worker per core of the share but one (the trainer's),
so that collection scales with the cores a GPU box gives the run and never takes more. The share
is `resources.cpu_share()`: the CPUs a job executor granted the run (GLAMOR_CPUS), else the cores
of the machine. Both expose:

    reset_slots(slots, seeds) -> frames (k, c, H, W) uint8, labels (k, L) float32
    step(actions (n,))        -> frames (n, c, H, W), labels (n, L), ended (n,) bool
    close()

`Task.make_vec_env(n, seed)` (base.py) returns a SerialVecEnv of the task's collection envs
unless the suite chooses its own (Atari and DM Control: workers built from a picklable factory).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from glamor_mini.resources import cpu_share

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


def _worker(conn, makers: Sequence[Callable[[], SuiteEnv]]) -> None:
    """Hosts a group of envs: 'reset' (local index, seed) -> one reset; 'step' (actions of the
    group) -> a list of step results."""
    envs = [make_env() for make_env in makers]
    try:
        while True:
            cmd, arg = conn.recv()
            if cmd == "reset":
                i, seed = arg
                conn.send(envs[i].reset(seed=seed))
            elif cmd == "step":
                conn.send([env.step(a) for env, a in zip(envs, arg, strict=True)])
            elif cmd == "close":
                break
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        for env in envs:
            close = getattr(env, "close", None)
            if close is not None:
                close()
        conn.close()


MIN_CORES_FOR_WORKERS = 2
"""Subprocess workers only above this many cores of the run's share (on 2 cores they measured
no gain)."""


def env_workers(n: int, share: int | None = None) -> int:
    """Worker processes for n envs when the run may use `share` cores (default
    `resources.cpu_share()`): 0 (step them in this process) for n <= 1 or share <= 2, else
    min(n, share - 1): one core stays with the trainer."""
    share = cpu_share() if share is None else int(share)
    if n <= 1 or share <= MIN_CORES_FOR_WORKERS:
        return 0
    return min(n, share - 1)


def use_workers(n: int) -> bool:
    """Whether n envs should run in subprocesses for this run's CPU share."""
    return env_workers(n) > 0


def split_envs(n: int, workers: int) -> list[range]:
    """Env indices per worker: contiguous groups whose sizes differ by at most one."""
    if not 1 <= workers <= max(n, 1):
        raise ValueError(f"workers={workers} must be in 1..{n} for {n} envs")
    base, extra = divmod(n, workers)
    out, start = [], 0
    for w in range(workers):
        size = base + (w < extra)
        out.append(range(start, start + size))
        start += size
    return out


class SubprocVecEnv:
    """n envs in worker processes. make_env: one picklable factory for all envs (a module-level
    function or a partial) or a sequence of n factories (e.g. one seed each). workers: processes
    (default `env_workers(n)`, at least 1); env i lives in the worker of its contiguous group
    (`split_envs`), so results come back in env order."""

    def __init__(
        self,
        make_env: Callable[[], SuiteEnv] | Sequence[Callable[[], SuiteEnv]],
        n: int,
        start_method: str = "spawn",
        workers: int | None = None,
    ):
        ctx = mp.get_context(start_method)
        makers = list(make_env) if isinstance(make_env, Sequence) else [make_env] * n
        if len(makers) != n:
            raise ValueError(f"{len(makers)} env factories for n={n} envs")
        self.n = n
        self.groups = split_envs(n, workers if workers is not None else max(1, env_workers(n)))
        self.where = [(w, i - group.start) for w, group in enumerate(self.groups) for i in group]
        self.conns, self.procs = [], []
        for group in self.groups:
            parent, child = ctx.Pipe()
            group_makers = [makers[i] for i in group]
            proc = ctx.Process(target=_worker, args=(child, group_makers), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def reset_slots(self, slots: Sequence[int], seeds: Sequence[int | None]):
        for i, s in zip(slots, seeds, strict=True):
            w, local = self.where[i]
            self.conns[w].send(("reset", (local, s)))
        out = [self.conns[self.where[i][0]].recv() for i in slots]
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])

    def step(self, actions: np.ndarray):
        acts = [int(a) for a in actions]
        if len(acts) != self.n:
            raise ValueError(f"{len(acts)} actions for {self.n} envs")
        for conn, group in zip(self.conns, self.groups, strict=True):
            conn.send(("step", acts[group.start : group.stop]))
        out = [o for conn in self.conns for o in conn.recv()]
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
