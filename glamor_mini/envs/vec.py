"""Several environments stepped together for data collection.

`SerialVecEnv` steps a list of envs in this process (fine when an env step is cheap: grid world,
Atari). `SubprocVecEnv` runs each env in its own process (worth it when a step is expensive and
CPU-bound, e.g. software-rendered DM Control pixels). Both expose:

    reset_slots(slots, seeds) -> frames (k, c, H, W) uint8, labels (k, L) float32
    step(actions (n,))        -> frames (n, c, H, W), labels (n, L), ended (n,) bool
    close()

A task may provide ``make_vec_env(n, seed)`` to choose its own; otherwise the Collector builds a
SerialVecEnv from ``task.make_env()``.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from glamor_mini.envs.base import SuiteEnv


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


class SubprocVecEnv:
    """One process per env; `make_env` must be picklable (a module-level function or partial)."""

    def __init__(self, make_env: Callable[[], SuiteEnv], n: int, start_method: str = "spawn"):
        ctx = mp.get_context(start_method)
        self.n = n
        self.conns, self.procs = [], []
        for _ in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, make_env), daemon=True)
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


def env_from_config(cfg_dict: dict[str, Any]) -> SuiteEnv:
    """Picklable env factory for SubprocVecEnv: rebuild the task from a config dict."""
    from types import SimpleNamespace

    from glamor_mini.envs import make_task

    return make_task(SimpleNamespace(**cfg_dict)).make_env()
