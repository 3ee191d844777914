"""The grid world's derived horizon: T = the start's BFS eccentricity + 4, printed when chosen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gridworld
from glamor_mini.config import Config, ConfigError
from glamor_mini.envs.gridworld import HORIZON_SLACK, derive_horizon, start_eccentricity
from glamor_mini.resolve import make_config, resolve_config

DATA = Path(__file__).parent / "data"
MAZES = sorted(DATA.glob("maze_*.txt"))


def _farthest_by_walking(layout: gridworld.Layout) -> int:
    """Eccentricity of the start by stepping the real env breadth-first (independent of BFS code
    in gridworld.paths): the first step count at which no new cell is reached."""
    env = gridworld.GridWorldEnv(layout)
    seen = {layout.start}
    frontier, depth = [layout.start], 0
    while frontier:
        nxt = []
        for cell in frontier:
            for a in range(4):
                env.reset(options={"start": cell})
                _, _, _, _, info = env.step(a)
                c = (info["x"], info["y"])
                if c not in seen:
                    seen.add(c)
                    nxt.append(c)
        if nxt:
            depth += 1
        frontier = nxt
    return depth


def test_maze_files_exist_and_have_interior_walls():
    assert len(MAZES) >= 3
    for path in MAZES:
        lay = gridworld.load_layout(path)
        inner = lay.walls[1:-1, 1:-1]
        assert inner.any(), f"{path.name} has no interior wall"


@pytest.mark.parametrize("name", ["empty-7x7", "four-rooms", "mountain", *map(str, MAZES)])
def test_derived_horizon_is_farthest_cell_plus_slack(name):
    lay = gridworld.get_layout(name)
    ecc = _farthest_by_walking(lay)
    assert start_eccentricity(lay) == (ecc, 0)
    assert derive_horizon(lay) == ecc + HORIZON_SLACK
    # the preset derives it (and the authors' T = 10 comes out for their 7x7 room)
    assert make_config("gridworld", layout=name).horizon == ecc + HORIZON_SLACK


def test_known_values():
    assert derive_horizon("empty-7x7") == 10  # the authors' demo
    assert derive_horizon("mountain") == 68 + HORIZON_SLACK
    assert derive_horizon("four-rooms") == 16 + HORIZON_SLACK


def test_the_user_is_told_what_was_chosen(capsys):
    cfg = make_config("gridworld", layout="four-rooms")
    line = capsys.readouterr().out
    assert f"horizon T = {cfg.horizon}" in line and "16 moves" in line
    assert "interior walls" in line  # and that the preset was not tuned for them
    assert cfg.encoder == "keypoint" and "encoder 'keypoint'" in line  # derived, and said
    mlp = make_config("gridworld", layout="four-rooms", encoder="mlp")  # the user's choice stays
    assert mlp.encoder == "mlp" and "encoder 'mlp'" in capsys.readouterr().out
    assert make_config("gridworld", layout="empty-13x13").encoder == "mlp"  # an open room
    capsys.readouterr()
    make_config("gridworld")  # the demo's own room: T = 10, nothing to say
    assert capsys.readouterr().out == ""


def test_explicit_short_horizon_is_kept_with_a_warning(capsys):
    cfg = make_config("gridworld", layout="four-rooms", horizon=12)
    assert cfg.horizon == 12
    out = capsys.readouterr().out
    d = gridworld.distance_map("four-rooms", gridworld.LAYOUTS["four-rooms"].start)
    assert f"{int((d > 12).sum())} goal cell(s) cannot be reached" in out
    make_config("gridworld", layout="four-rooms", horizon=30)  # long enough: silent
    assert capsys.readouterr().out == ""


def test_cells_cut_off_from_the_start_are_reported(tmp_path, capsys):
    path = tmp_path / "split.txt"
    path.write_text("#######\n#S.#..#\n#######\n")
    assert start_eccentricity(gridworld.load_layout(path)) == (1, 2)
    cfg = make_config("gridworld", layout=str(path))
    assert cfg.horizon == 1 + HORIZON_SLACK
    assert "2 free cell(s) cannot be reached" in capsys.readouterr().out


def test_zero_horizon_is_resolved_by_the_grid_world_and_an_error_elsewhere():
    cfg = Config(suite="gridworld", horizon=0, encoder="mlp", buffer_size=1000).validate()
    assert resolve_config(cfg, announce=False).horizon == derive_horizon("empty-7x7")
    with pytest.raises(ConfigError, match="horizon=0 must be >= 1"):
        resolve_config(Config(suite="die", horizon=0, encoder="mlp", buffer_size=1000))
    assert np.isfinite(derive_horizon("empty-13x13"))


# ------------------------------------------------------------------ exploring starts (collection)
def _first_cells(collect_start: str, seed: int = 0, episodes: int = 3) -> list[tuple[int, int]]:
    """Start cells of the first `episodes` collection episodes of 4 slots on four-rooms."""
    from glamor_mini.envs import make_task
    from glamor_mini.policies import UniformRandomPolicy
    from glamor_mini.replay import ReplayBuffer
    from glamor_mini.rollout import Collector

    cfg = make_config("debug", layout="four-rooms", horizon=4, collect_start=collect_start)
    task = make_task(cfg)
    replay = ReplayBuffer(400, task.frame_shape, task.frame_stack, task.horizon, seed=0)
    col = Collector(
        task, 4, UniformRandomPolicy(task.n_actions, seed), task.train_goals(0), replay, seed
    )
    for _ in range(episodes * task.horizon):
        col.step()
    n = min(replay.total, replay.capacity)
    starts = replay.frames[:n][replay.to_start[:n] == 0][:, 0]  # channel 0: the agent's cell
    return [(int(x), int(y)) for y, x in (np.argwhere(f)[0] for f in starts.numpy())]


def test_random_collect_start_spreads_episodes_and_evaluation_stays_fixed():
    lay = gridworld.get_layout("four-rooms")
    fixed = _first_cells("fixed")
    assert set(fixed) == {lay.start}
    rnd = _first_cells("random")
    assert len(set(rnd)) >= 6  # 12 episodes over 76 free cells
    assert all(not lay.walls[y, x] for x, y in rnd)
    assert _first_cells("random") == rnd  # seeded
    assert _first_cells("random", seed=1) != rnd
    from glamor_mini.envs import make_task

    task = make_task(make_config("debug", layout="four-rooms", collect_start="random"))
    for _ in range(3):  # evaluation envs always start at the layout's start
        assert tuple(task.make_env().reset(seed=None)[1].astype(int)) == lay.start


def test_collect_start_is_checked():
    with pytest.raises(ConfigError, match="collect_start='anywhere' is not accepted"):
        make_config("debug", collect_start="anywhere")
    with pytest.raises(ConfigError, match="grid world only"):
        make_config("minigrid-debug", collect_start="random")
