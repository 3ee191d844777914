"""What a run may use of a shared machine: its CPU share (GLAMOR_CPUS, set by the executor, sizes
the env workers) and the host-wide memory lock that makes runs starting together see each
other's replay rings."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pytest

from glamor_mini.envs import vec
from glamor_mini.experiments.executor import Job, default_cpus_per_run, run_job
from glamor_mini.resources import (
    CPUS_ENV,
    InsufficientMemoryError,
    check_memory,
    cpu_share,
    memory_lock,
)


# ---------------------------------------------------------------------- CPUs
def test_cpu_share_reads_the_executor_grant(monkeypatch):
    monkeypatch.setenv(CPUS_ENV, "3")
    assert cpu_share() == 3
    monkeypatch.setenv(CPUS_ENV, "0.5")  # a fractional Ray grant still runs on one core
    assert cpu_share() == 1
    monkeypatch.setenv(CPUS_ENV, "many")
    with pytest.raises(ValueError, match="GLAMOR_CPUS='many' is not a number"):
        cpu_share()
    monkeypatch.delenv(CPUS_ENV)
    assert 1 <= cpu_share() <= 4096


@pytest.mark.parametrize(
    ("n", "share", "workers"),
    [(8, 1, 0), (8, 2, 0), (8, 3, 2), (8, 4, 3), (8, 16, 8), (1, 16, 0), (16, 17, 16)],
)
def test_env_workers_fit_in_the_share(n, share, workers):
    """Never more processes than the share minus the trainer's core; none on 2 cores."""
    assert vec.env_workers(n, share) == workers


def test_env_workers_follow_glamor_cpus(monkeypatch):
    monkeypatch.setenv(CPUS_ENV, "4")
    assert vec.env_workers(8) == 3 and vec.use_workers(8)
    monkeypatch.setenv(CPUS_ENV, "1")
    assert vec.env_workers(8) == 0 and not vec.use_workers(8)


def test_split_envs_covers_every_env_once_in_order():
    groups = vec.split_envs(8, 3)
    assert [list(g) for g in groups] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    with pytest.raises(ValueError, match="workers=9 must be in 1..8"):
        vec.split_envs(8, 9)


class CountingEnv:
    """Frame = (env id, steps taken, last action): shows which env answered each slot."""

    def __init__(self, env_id: int):
        self.env_id, self.t = env_id, 0

    def reset(self, seed=None):
        self.t = 0 if seed is None else seed
        return self.frame(0), np.zeros(1, np.float32)

    def step(self, action: int):
        self.t += 1
        return self.frame(action), np.zeros(1, np.float32), self.t % 3 == 0

    def frame(self, action: int) -> np.ndarray:
        return np.array([[[self.env_id, self.t, action]]], dtype=np.uint8)


def test_grouped_workers_step_like_the_envs_in_this_process():
    """5 envs in 2 worker processes (3 + 2) answer every slot as 5 in-process envs do."""
    import functools

    makers = [functools.partial(CountingEnv, i) for i in range(5)]
    serial = vec.SerialVecEnv([m() for m in makers])
    grouped = vec.SubprocVecEnv(makers, 5, start_method="fork", workers=2)  # fork: fast start
    assert len(grouped.procs) == 2
    try:
        out = [v.reset_slots([4, 0, 3], [7, 1, 2]) for v in (serial, grouped)]
        for step in range(4):
            acts = np.arange(5) + step
            out += [v.step(acts) for v in (serial, grouped)]
        for a, b in zip(out[0::2], out[1::2], strict=True):
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x, y)
    finally:
        serial.close()
        grouped.close()


def test_a_job_sees_the_cpus_it_asked_for(monkeypatch, tmp_path):
    """run_job exports the job's num_cpus, so the job's env workers fit in its Ray grant."""
    from glamor_mini.resolve import make_config

    monkeypatch.delenv(CPUS_ENV, raising=False)
    cfg = make_config("debug", total_steps=8, learning_starts=4, log_every=8, eval_episodes=1)
    seen = {}

    def fake_train(cfg, out):  # what the env workers would read inside the job
        seen["share"] = cpu_share()
        raise RuntimeError("stop")

    import importlib

    monkeypatch.setattr(importlib.import_module("glamor_mini.train"), "train", fake_train)
    with pytest.raises(RuntimeError, match="stop"):
        run_job("train", cfg.to_dict(), str(tmp_path), num_cpus=3.0)
    assert seen["share"] == 3
    assert Job("x", cfg).num_cpus == 1.0


def test_table1_jobs_ask_for_their_cpus():
    from glamor_mini.experiments.table1 import build_jobs

    jobs = build_jobs(
        "grid", ["empty-7x7"], ["glamor"], [0], "tiny", gpus_per_run=0.25, cpus_per_run=4
    )
    train = [j for j in jobs if j.kind == "train"]
    assert [j.num_cpus for j in train] == [4] and train[0].num_gpus == 0.25


@pytest.mark.parametrize(
    ("gpus_per_run", "n_gpus", "cores", "cpus"),
    [
        (0.25, 1, 16, 4),
        (0.25, 2, 16, 2),
        (0.5, 1, 16, 8),
        (0.0, 1, 16, 1),
        (0.25, 0, 16, 1),
        (0.25, 1, 2, 1),
        (1 / 3, 1, 16, 5),
    ],
)
def test_default_cpus_per_run_shares_the_cores_among_the_gpu_slots(
    gpus_per_run, n_gpus, cores, cpus
):
    assert default_cpus_per_run(gpus_per_run, n_gpus, cores) == cpus


# ---------------------------------------------------------------------- memory
def _claim(lock_path: str, ledger: str, need: int, results, barrier) -> None:
    """A run's start-up: read the free memory, take a while, then allocate (write the ledger)."""

    def claim() -> None:
        free = int(Path(ledger).read_text())
        time.sleep(0.5)  # the zero-fill of an 8 GB ring takes seconds
        try:
            check_memory(need, "a ring", "lower --buffer_size", available=free)
        except InsufficientMemoryError:
            results.put("refused")
            return
        Path(ledger).write_text(str(int(Path(ledger).read_text()) - need))
        results.put("allocated")

    barrier.wait()  # both runs start together
    with memory_lock(lock_path):
        claim()


def test_memory_lock_makes_concurrent_checks_see_each_other(tmp_path):
    """Two runs that each need 60 of 100 free units start together: under the lock exactly one
    allocates and the other is refused. (With a no-op lock both read 100 free, both pass and
    together overcommit: the race.)"""
    ledger = tmp_path / "free"
    ledger.write_text("100")
    ctx = mp.get_context("fork")
    results, barrier = ctx.Queue(), ctx.Barrier(2)
    lock = str(tmp_path / "lock")
    procs = [
        ctx.Process(target=_claim, args=(lock, str(ledger), 60, results, barrier)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    outcome = sorted(results.get(timeout=5) for _ in procs)
    assert outcome == ["allocated", "refused"] and int(ledger.read_text()) == 40


def test_the_replay_allocates_under_the_memory_lock(monkeypatch):
    import contextlib

    import glamor_mini.replay as replay_mod

    held = []

    @contextlib.contextmanager
    def spy():
        held.append("enter")
        yield
        held.append("exit")

    monkeypatch.setattr(replay_mod, "memory_lock", spy)
    calls = []
    monkeypatch.setattr(replay_mod, "check_memory", lambda *a, **k: calls.append(list(held)))
    buf = replay_mod.ReplayBuffer(100, (1, 2, 2), horizon=4, reserve=10)
    for _ in range(3):  # 5 frames each: the third grows the ring from 10 to 15 rows
        buf.add_trajectory(np.zeros((5, 1, 2, 2), np.uint8), np.zeros(4))
    assert buf.rows == 15
    assert calls == [["enter"], ["enter", "exit", "enter"]], "checked inside the lock, each time"
    assert held[-1] == "exit"
