"""The evaluation metrics (paper §4.4, §4.7.1) against scripted policies whose outcome is known.

On the empty 7x7 room (start in the centre, T = 10) a scripted policy reads the agent's cell and
the goal cell off the frames, walks there (optionally after a detour, or to the wrong cell) and
stops. Every metric then has an exact expected value.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glamor_mini.envs.gridworld import GridWorldTask
from glamor_mini.evaluate import evaluate
from glamor_mini.policies import StopPolicy, UniformRandomPolicy

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


def cell_of(frames: torch.Tensor) -> np.ndarray:
    """(b, 2, H, W) uint8 -> (b, 2) (x, y) of the hot cell of channel 0."""
    b, _, h, w = frames.shape
    flat = frames[:, 0].reshape(b, -1).argmax(1).numpy()
    return np.stack([flat % w, flat // w], axis=1)


class WalkPolicy:
    """Walk a shortest path to a target cell, then stop (ends the episode).

    detour: actions taken first (e.g. [UP, DOWN], 2 wasted steps); reflect: the target is the goal
    mirrored through the start cell (same distance, wrong cell unless goal = start)."""

    def __init__(self, start, detour=(), reflect=False):
        self.start = np.array(start)
        self.detour = list(detour)
        self.reflect = reflect
        self.t: dict[int, int] = {}

    def act(self, slots, obs, goal, steps_left, new_episode):
        here, target = cell_of(obs), cell_of(goal)
        if self.reflect:
            target = 2 * self.start - target
        actions, stop = [], []
        for j, s in enumerate(slots.tolist()):
            t = 0 if bool(new_episode[j]) else self.t[s]
            self.t[s] = t + 1
            if t < len(self.detour):
                actions.append(self.detour[t])
                stop.append(False)
                continue
            dx, dy = target[j] - here[j]
            if dx == dy == 0:
                actions.append(0)
                stop.append(True)
                continue
            actions.append(RIGHT if dx > 0 else LEFT if dx < 0 else DOWN if dy > 0 else UP)
            stop.append(False)
        return torch.tensor(actions), torch.tensor(stop)


@pytest.fixture(scope="module")
def task():
    return GridWorldTask("empty-7x7", horizon=10)


def run(task, policy, episodes=1):
    return evaluate(task, None, None, episodes_per_goal=episodes, policy=policy)


def test_shortest_path_walker_is_optimal_everywhere(task):
    res = run(task, WalkPolicy(task.layout.start), episodes=2)
    assert res.episodes == 2 * 49
    assert res.goal_achievement == 1.0 and res.optimal_path_rate == 1.0
    assert res.mean_extra_steps == 0.0
    assert res.early_stop_rate == 1.0  # it ends every episode itself (the start goal at t = 0)
    assert res.start_achieved_rate == pytest.approx(1 / 49)
    assert res.achievement_beyond_start == 1.0
    sx, sy = task.layout.start
    for g in res.per_goal:
        x, y = g["labels"]
        assert g["shortest"] == abs(x - sx) + abs(y - sy)  # empty room: Manhattan distance
        assert g["mean_steps"] == g["shortest"] and g["optimal"] == 1.0


def test_a_detour_reaches_every_goal_but_no_path_is_optimal(task):
    res = run(task, WalkPolicy(task.layout.start, detour=[UP, DOWN]))
    assert res.goal_achievement == 1.0
    assert res.optimal_path_rate == 0.0  # even the start goal: 2 steps instead of 0
    assert res.mean_extra_steps == 2.0


def test_optimal_length_to_the_wrong_cell_is_not_an_optimal_path(task):
    """optimal = achieved AND steps == shortest: right length, wrong cell does not count."""
    res = run(task, WalkPolicy(task.layout.start, reflect=True))
    assert res.goal_achievement == pytest.approx(1 / 49)  # only the start goal (its own mirror)
    assert res.optimal_path_rate == pytest.approx(1 / 49)
    assert res.early_stop_rate == 1.0
    assert res.achievement_beyond_start == 0.0


def test_stopping_at_once_scores_exactly_the_start_achieved_rate(task):
    res = run(task, StopPolicy(task.n_actions))
    assert res.early_stop_rate == 1.0
    assert res.goal_achievement == res.start_achieved_rate == pytest.approx(1 / 49)
    assert res.achievement_beyond_start == 0.0
    assert all(g["mean_steps"] == 0 for g in res.per_goal)


def test_a_policy_that_never_stops_acts_until_T(task):
    res = run(task, UniformRandomPolicy(task.n_actions, seed=0), episodes=2)
    assert res.early_stop_rate == 0.0
    assert all(g["mean_steps"] == task.horizon for g in res.per_goal)
    assert res.goal_achievement < 0.2
    # an episode counts as optimal only with steps == shortest: never, at T = 10 > max distance 6
    assert res.optimal_path_rate == 0.0


class _EndsAfter:
    """An env that ends every episode by itself after `n` steps (an Atari game over)."""

    def __init__(self, env, n):
        self.env, self.n, self.t = env, n, 0

    def reset(self, seed=None):
        self.t = 0
        return self.env.reset(seed=seed)

    def step(self, action):
        self.t += 1
        frame, labels, _ = self.env.step(action)
        return frame, labels, self.t >= self.n


def test_an_episode_the_env_ends_is_not_an_early_stop(task, monkeypatch):
    """early_stop_rate counts the agent's own END, not every episode shorter than T (the
    mutation `stopped = steps < T` passes on the grid, whose env never ends an episode)."""
    make = task.make_env
    monkeypatch.setattr(task, "make_env", lambda: _EndsAfter(make(), 3))
    res = run(task, UniformRandomPolicy(task.n_actions, seed=0))
    assert all(g["mean_steps"] == 3 for g in res.per_goal)
    assert res.early_stop_rate == 0.0
