"""Shared fixtures: the tiny 3x3 grid that a correct learner must solve within a test budget, and
the check that an env suite's worker-process vector env steps like its in-process one."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from glamor_mini.config import Config
from glamor_mini.resolve import make_config

TINY = "#####\n#...#\n#.S.#\n#...#\n#####\n"  # 3x3 free cells, start in the centre


@pytest.fixture
def tiny_layout(tmp_path) -> str:
    path = tmp_path / "tiny.txt"
    path.write_text(TINY)
    return str(path)


@pytest.fixture
def tiny_grid_config(tiny_layout) -> Callable[..., Config]:
    """The `debug` preset on the tiny grid with a budget that learns it (~6k agent steps)."""

    def make(**overrides) -> Config:
        budget = dict(
            layout=tiny_layout,
            horizon=4,
            total_steps=6000,
            learning_starts=500,
            eps_steps=3000,
            replay_ratio=16.0,
            batch_size=64,
            buffer_size=5000,
            eval_episodes=3,
        )
        return make_config("debug", **{**budget, **overrides})

    return make


@pytest.fixture
def workers_match_serial(monkeypatch) -> Callable[..., None]:
    """check(task, actions, steps): task.make_vec_env(2) with a 16-core CPU share (one worker
    process per env) resets and steps exactly like the in-process one with a 1-core share."""

    def check(task, actions: list[int], steps: int) -> None:
        from glamor_mini.envs import vec as vec_module

        monkeypatch.setenv("GLAMOR_CPUS", "1")
        serial = task.make_vec_env(2, seed=1)
        monkeypatch.setenv("GLAMOR_CPUS", "16")
        workers = task.make_vec_env(2, seed=1)
        assert isinstance(serial, vec_module.SerialVecEnv)
        assert isinstance(workers, vec_module.SubprocVecEnv)
        try:
            out = [v.reset_slots([0, 1], [3, 4]) for v in (serial, workers)]
            for _ in range(steps):
                out += [v.step(np.array(actions)) for v in (serial, workers)]
            for a, b in zip(out[0::2], out[1::2], strict=True):
                for x, y in zip(a, b, strict=True):
                    np.testing.assert_array_equal(x, y)
        finally:
            serial.close()
            workers.close()

    return check
