"""DM Control suite (envs/dmc.py): the seven DISCERN tasks from pixels, action tables, seeding,
goal sets and the 10% rule, and the `dmc-debug` preset end to end through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("dm_control")

from glamor_mini.envs import make_task  # noqa: E402
from glamor_mini.envs.dmc import (  # noqa: E402
    TASKS,
    DmcSuiteEnv,
    DmcTask,
    cube_actions,
    diagonal_actions,
)
from glamor_mini.envs.vec import SerialVecEnv  # noqa: E402
from glamor_mini.resolve import make_config  # noqa: E402

N_ACTIONS = {
    "ball_in_cup/catch": 9,
    "cartpole/balance": 3,
    "finger/spin": 9,
    "manipulator/bring_ball": 11,
    "pendulum/swingup": 3,
    "point_mass/easy": 9,
    "reacher/hard": 9,
}
N_LABELS = {
    "ball_in_cup/catch": 4,
    "cartpole/balance": 3,
    "finger/spin": 4,
    "manipulator/bring_ball": 24,
    "pendulum/swingup": 2,
    "point_mass/easy": 2,
    "reacher/hard": 2,
}


def test_cube_actions_table_is_exact():
    np.testing.assert_array_equal(cube_actions(1), [[-1], [0], [1]])
    expected = [[a, b] for a in (-1, 0, 1) for b in (-1, 0, 1)]
    np.testing.assert_array_equal(cube_actions(2), expected)
    table = cube_actions(3)
    assert table.shape == (27, 3) and len(np.unique(table, axis=0)) == 27
    np.testing.assert_array_equal(table[13], [0, 0, 0])  # the middle row is "do nothing"


def test_diagonal_actions_table_is_exact():
    expected = np.array(
        [
            [0, 0, 0, 0, 0],
            [1, 0, 0, 0, 0],
            [-1, 0, 0, 0, 0],
            [0, 1, 0, 0, 0],
            [0, -1, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [0, 0, -1, 0, 0],
            [0, 0, 0, 1, 0],
            [0, 0, 0, -1, 0],
            [0, 0, 0, 0, 1],
            [0, 0, 0, 0, -1],
        ]
    )
    np.testing.assert_array_equal(diagonal_actions(5), expected)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_builds_renders_and_labels_move(name):
    task = DmcTask(name, shadows=False, goal_dir=None)
    assert task.n_actions == N_ACTIONS[name]
    assert len(task.label_names) == N_LABELS[name]
    env = task.make_env()
    frame, labels = env.reset(seed=0)
    assert frame.shape == (1, 80, 104) and frame.dtype == np.uint8
    assert frame.std() > 1.0  # a real picture, not a blank buffer
    assert labels.shape == (N_LABELS[name],) and labels.dtype == np.float32
    start = labels.copy()
    for _ in range(10):
        frame, labels, ended = env.step(task.n_actions - 1)  # a nonzero action in both tables
        assert not ended
    assert frame.shape == (1, 80, 104)
    assert np.abs(labels - start).max() > 1e-3
    env.close()


def test_seeded_resets_are_reproducible():
    a, b = (DmcSuiteEnv("reacher/hard", shadows=False) for _ in range(2))
    fa, la = a.reset(seed=7)
    fb, lb = b.reset(seed=7)
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(la, lb)
    for action in (0, 4, 8, 2, 2, 6):
        fa, la, _ = a.step(action)
        fb, lb, _ = b.step(action)
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_array_equal(la, lb)
    _, other = b.reset(seed=8)
    assert not np.allclose(other, a.reset(seed=7)[1])
    a.close()
    b.close()


def test_shadows_off_changes_only_a_small_part_of_the_image():
    on, off = DmcSuiteEnv("cartpole/balance", True), DmcSuiteEnv("cartpole/balance", False)
    f_on, _ = on.reset(seed=1)
    f_off, _ = off.reset(seed=1)
    diff = np.abs(f_on.astype(int) - f_off.astype(int)) > 8
    assert 0.0 < diff.mean() < 0.25
    on.close()
    off.close()


def test_goals_are_saved_reloaded_and_judged_by_the_10_percent_rule(tmp_path):
    kw = dict(horizon=20, shadows=False, n_train_goals=12, n_eval_goals=5, goal_dir=tmp_path)
    kw.update(range_rollouts=30, eval_goal_rollouts=10, train_goal_rollouts=24, seed=3)
    task = DmcTask("point_mass/easy", **kw)
    goals = task.eval_goals(seed=3)
    assert goals.frames.shape == (5, 1, 80, 104) and goals.labels.shape == (5, 2)
    train = task.train_goals(seed=3)
    assert len(train) == 12
    assert not np.isin(train.labels[:, 0], goals.labels[:, 0]).all()  # a separate pool
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [
        "dmc-point_mass-easy-h20-noshadow-seed3-eval5-of10-r30.npz",
        "dmc-point_mass-easy-h20-noshadow-seed3-train12-of24-r30.npz",
    ]
    np.testing.assert_array_equal(train.ranges, goals.ranges)  # one seed, one set of ranges
    again = DmcTask("point_mass/easy", **kw)
    np.testing.assert_array_equal(again.eval_goals(seed=3).frames, goals.frames)
    np.testing.assert_array_equal(again.ranges(3), task.ranges(3))
    # A goal frame is the picture of its own state: re-render it from a fresh env.
    assert goals.frames.std() > 1.0
    ranges = task.ranges(3)
    assert (ranges > 0).all()
    g = goals.labels
    assert task.achieved(g, g).all()
    near = g + 0.09 * ranges
    far = g.copy()
    far[:, 1] += 0.11 * ranges[1]
    assert task.achieved(near, g).all()
    assert not task.achieved(far, g).any()
    np.testing.assert_array_equal(task.per_label_achieved(far, g)[:, 0], True)
    assert task.optimal_steps(g, g) is None


def test_without_pixels_gives_blank_frames_and_the_same_labels():
    task = DmcTask("pendulum/swingup", shadows=False, goal_dir=None)
    seen, blind = task.make_env(), task.without_pixels().make_env()
    f1, l1 = seen.reset(seed=4)
    f2, l2 = blind.reset(seed=4)
    for a in (0, 2, 2, 1):
        f1, l1, _ = seen.step(a)
        f2, l2, _ = blind.step(a)
    np.testing.assert_array_equal(l1, l2)
    assert f1.any() and not f2.any()
    assert task.make_env().render  # the original task is unchanged


def test_bad_task_name_is_a_clear_error():
    with pytest.raises(ValueError, match="cartpole/swingup.*accepted"):
        DmcTask("cartpole/swingup")


def test_vec_env_in_process_for_one_env():
    task = make_task(make_config("dmc-debug", goal_dir=""))
    vec = task.make_vec_env(1, seed=0)
    assert isinstance(vec, SerialVecEnv)
    frames, labels = vec.reset_slots([0], [0])
    assert frames.shape == (1, 1, 80, 104) and labels.shape == (1, 2)
    vec.close()


def test_subprocess_vec_env_on_many_cores_steps_like_the_serial_one(workers_match_serial):
    """Above 2 cores each env runs in a worker process that rebuilds the task from the config's
    fields (a crash there once stopped every DMC run on a many-core GPU box)."""
    workers_match_serial(make_task(make_config("dmc-debug", goal_dir="")), [0, 1], steps=2)


def test_unusable_gl_backend_is_a_clear_error():
    code = "from glamor_mini.envs.dmc import _suite; _suite()"
    env = {**os.environ, "MUJOCO_GL": "no-such-backend"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "no headless OpenGL backend works" in proc.stderr
    assert "libosmesa6" in proc.stderr


def test_dmc_debug_preset_runs_end_to_end_via_the_cli(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "glamor_mini.run", "dmc-debug", "--out", str(out)]
        + ["--goal_dir", str(tmp_path / "goals"), "--torch_threads", "1"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "eval.json").read_text())
    assert 0.0 <= result["goal_achievement"] <= 1.0
    assert result["episodes"] == 4 and set(result["per_label"]) == {"position_0", "position_1"}
    assert (out / "eval.png").exists() and (out / "ckpt.pt").exists()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["suite"] == "dmc" and cfg["task"] == "point_mass/easy"


def test_stop_floor_is_the_start_state_judged_against_each_goal():
    """DM Control's "stop at t = 0" floor (python -m glamor_mini.floor --policy stop): exactly
    the share of evaluation goals that the start state already meets, by the goal set's ranges
    (pendulum starts at a random angle, so some goals are met at once)."""
    from glamor_mini.floor import random_floor

    kw = dict(task="pendulum/swingup", horizon=2, n_eval_goals=20, eval_goal_rollouts=30)
    task = make_task(make_config("dmc-debug", goal_dir="", **kw))
    goals = task.eval_goals(0)
    env = task.without_pixels().make_env()
    starts = np.stack([env.reset(seed=i)[1] for i in range(len(goals))])  # evaluate's seeds
    expected = float(task.achieved(starts, goals.labels, goals.ranges).mean())
    assert expected > 0
    assert random_floor("dmc-debug", [0], policy="stop", goal_dir="", **kw) == [expected]
