"""Shared fixtures: the tiny 3x3 grid that a correct learner must solve within a test budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from glamor_mini.config import Config, make_config

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
