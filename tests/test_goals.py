"""The goal protocol of the pixel suites (envs/goals.py, paper §4.4 as the authors ran it), on a
tiny seeded random walk where every quantity can be recomputed by brute force:

* feasible ranges = max - min over the FINAL states of random-length (1..T) rollouts;
* goals = a diverse buffer over the final states of full-length rollouts only;
* a goal set carries its ranges (saved with it) and is judged by them.
"""

from __future__ import annotations

import numpy as np
import pytest

from glamor_mini.envs.base import GoalSet
from glamor_mini.envs.goals import (
    RolloutGoalsMixin,
    diverse_goal_buffer,
    feasible_ranges,
    load_goals,
    reset_seed,
    rollout_ends,
    within_tolerance,
)
from glamor_mini.evaluate import evaluate
from glamor_mini.policies import StopPolicy

WALL = 3
T = 6


class WalkEnv:
    """A 2-D random walk: actions 0..3 move x-1, x+1, y-1, y+1; the episode ends when |x| reaches
    WALL (so some rollouts are cut short). Labels (x, y, t, c): position, steps taken, a constant.
    The frame (1, 2, 2) encodes the same state, so frame and labels can be matched."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def _obs(self) -> tuple[np.ndarray, np.ndarray]:
        frame = np.array([[[self.x + 100, self.y + 100], [self.t, 7]]], dtype=np.uint8)
        return frame, np.array([self.x, self.y, self.t, 5.0], dtype=np.float32)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.x, self.y, self.t = int(self.rng.integers(-1, 2)), 0, 0
        return self._obs()

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        self.x += (-1, 1, 0, 0)[action]
        self.y += (0, 0, -1, 1)[action]
        self.t += 1
        frame, labels = self._obs()
        return frame, labels, abs(self.x) >= WALL

    def close(self) -> None:
        pass


class WalkTask(RolloutGoalsMixin):
    """A Task over WalkEnv whose goals follow the pixel suites' protocol."""

    name = "walk"
    n_actions = 4
    frame_shape = (1, 2, 2)
    frame_stack = 1
    horizon = T
    label_names = ("x", "y", "t", "c")
    scored = None

    def __init__(self, seed=0, goal_dir=None, reseed=True, **sizes):
        self.seed, self.goal_dir, self.reseed_rollouts = seed, goal_dir, reseed
        self.n_train_goals, self.n_eval_goals = sizes.get("train", 5), sizes.get("eval", 4)
        self.range_rollouts = sizes.get("range_rollouts", 40)
        self.eval_goal_rollouts = sizes.get("eval_rollouts", 15)
        self.train_goal_rollouts = sizes.get("train_rollouts", 25)

    def make_env(self) -> WalkEnv:
        return WalkEnv()

    _goal_env = make_env

    @staticmethod
    def _keep(env, frame, reset_seed):
        return frame.copy()

    @staticmethod
    def _frames_of(payloads):
        return np.stack(payloads)

    def _goal_stem(self) -> str:
        return "walk"


# ---------------------------------------------------------------------------- brute force
def brute_force_finals(n, seed, random_horizon, min_full=0):
    """Each rollout on a FRESH env, every state kept, the final one read off the trajectory."""
    rng = np.random.default_rng(seed)
    finals, frames, full = [], [], []
    i = 0
    while i < n or sum(full) < min_full:
        h = int(rng.integers(1, T + 1)) if random_horizon else T
        env = WalkEnv()
        states = [env.reset(seed=reset_seed(seed, i))]
        for _ in range(h):
            frame, lab, ended = env.step(int(rng.integers(4)))
            states.append((frame, lab))
            if ended:
                break
        finals.append(states[-1][1])
        frames.append(states[-1][0])
        full.append(len(states) - 1 == h)
        i += 1
    return np.array(finals), np.array(frames), np.array(full)


def brute_force_buffer(points, size, seed):
    """The diverse goal buffer written out with Python loops."""
    rng = np.random.default_rng(seed)
    buf = list(range(size))

    def nn(p, skip):
        return min(
            float(np.sqrt(((p - points[buf[k]]) ** 2).sum())) for k in range(size) if k != skip
        )

    for c in range(size, len(points)):
        j = int(rng.integers(size))
        if nn(points[c], j) > nn(points[buf[j]], j):
            buf[j] = c
    return buf


def reference_goals(seed, kind, size, n_rollouts, range_rollouts):
    finals, _, _ = brute_force_finals(range_rollouts, 10 * seed + 1, random_horizon=True)
    span = finals.astype(np.float64).max(0) - finals.min(0)
    ranges = np.where(span < 0.01, 1.0, span)  # float64: lattice points tie, so round alike
    rseed = 10 * seed + (2 if kind == "eval" else 3)
    labels, frames, full = brute_force_finals(n_rollouts, rseed, False, min_full=size)
    labels, frames = labels[full], frames[full]
    idx = brute_force_buffer(labels.astype(np.float64) / ranges, size, rseed)
    return labels[idx], frames[idx], ranges


# ---------------------------------------------------------------------------- tests
@pytest.mark.parametrize("seed", [0, 1])
def test_ranges_and_goal_sets_match_brute_force(seed):
    task = WalkTask(seed)
    for kind, size, n in (("eval", 4, 15), ("train", 5, 25)):
        want_labels, want_frames, want_ranges = reference_goals(seed, kind, size, n, 40)
        goals = task.eval_goals(seed) if kind == "eval" else task.train_goals(seed)
        np.testing.assert_array_equal(goals.ranges, want_ranges.astype(np.float32))
        np.testing.assert_array_equal(goals.labels, want_labels)
        np.testing.assert_array_equal(goals.frames, want_frames)
    assert task.ranges(seed)[3] == 1.0, "a constant label's range counts as 1"


def test_ranges_use_random_horizons_and_include_cut_short_rollouts():
    ends = rollout_ends(WalkEnv(), 4, 300, T, seed=4, random_horizon=True)
    assert set(ends.horizons) == set(range(1, T + 1)), "horizons are drawn from 1..T"
    assert (~ends.full).any(), "some rollouts hit the wall before their horizon"
    np.testing.assert_array_equal(feasible_ranges(ends.labels)[2], T - 1)  # t spans 1..T
    finals, _, _ = brute_force_finals(300, 4, random_horizon=True)
    np.testing.assert_array_equal(ends.labels, finals)


def test_goals_are_final_states_of_full_length_rollouts():
    task = WalkTask(0, eval=6, eval_rollouts=40)
    goals = task.eval_goals(0)
    assert (goals.labels[:, 2] == T).all(), "every goal is the state after exactly T actions"
    ends = rollout_ends(WalkEnv(), 4, 40, T, seed=2, min_full=6)  # the eval rollouts of seed 0
    assert (~ends.full).sum() >= 5, "the pool had walks cut short by the wall: none is a goal"
    finals = {tuple(row) for row in ends.labels[ends.full]}
    assert all(tuple(row) in finals for row in goals.labels)
    # frame and labels from the same state
    np.testing.assert_array_equal(goals.frames[:, 0, 0, 0], goals.labels[:, 0] + 100)
    np.testing.assert_array_equal(goals.frames[:, 0, 1, 0], goals.labels[:, 2])


def test_diverse_buffer_keeps_spread_out_points():
    pts = np.array([[0.0], [0.01], [0.02], [10.0], [20.0]] + [[0.015]] * 20)
    idx = diverse_goal_buffer(pts, 3, ranges=np.ones(1), seed=0)
    assert sorted(idx)[0] < 3 and {3, 4} <= set(idx.tolist())
    assert sorted(idx) == sorted(brute_force_buffer(pts, 3, 0))


def test_unseeded_rollouts_are_still_deterministic():
    a = WalkTask(0, reseed=False).eval_goals(0)
    b = WalkTask(0, reseed=False).eval_goals(0)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.ranges, b.ranges)


def test_too_few_full_rollouts_is_a_clear_error():
    class AlwaysEnds(WalkEnv):
        def step(self, action):
            frame, labels, _ = super().step(action)
            return frame, labels, True

    with pytest.raises(ValueError, match="ran their full 6 steps"):
        rollout_ends(AlwaysEnds(), 4, 2, T, seed=0, min_full=1)


def test_ranges_travel_with_their_goal_set(tmp_path):
    """Saved with the set, reloaded with it, and used to judge it whichever task judges it."""
    t0, t1 = WalkTask(0, goal_dir=tmp_path), WalkTask(1, goal_dir=tmp_path)
    g1 = t1.eval_goals(1)
    assert not np.array_equal(t0.ranges(0), g1.ranges), "seeds 0 and 1 measure other ranges"
    (path,) = tmp_path.glob("walk-seed1-eval4-of15-r40.npz")
    np.testing.assert_array_equal(load_goals(path).ranges, g1.ranges)
    np.testing.assert_array_equal(WalkTask(0, goal_dir=tmp_path).eval_goals(1).ranges, g1.ranges)
    np.testing.assert_array_equal(t0.eval_goals(1).ranges, g1.ranges)  # t0 judges seed 1's goals

    # evaluate() judges a goal set by the set's ranges, not by the task seed's
    starts = np.stack([WalkEnv().reset(seed=i)[1] for i in range(3)])  # evaluate: 10_007 s + i
    r0 = t0.ranges(0)
    off = starts + 0.5 * r0  # missed by 50% of r0 on every label
    wide = GoalSet(np.zeros((3, 1, 2, 2), np.uint8), off.astype(np.float32), 10 * r0)
    res = evaluate(t0, None, None, wide, seed=0, policy=StopPolicy(4))
    assert res.goal_achievement == 1.0, "within 5% of the set's own (wide) ranges"
    assert not t0.achieved(starts, off).any(), "by seed 0's ranges the same goals are missed"
    assert within_tolerance(starts, off, wide.ranges).all()


def test_goal_grid_rows_and_legend(tmp_path):
    """Fig. 11/12 style: rows "goal" / "final frame"; the legend counts achieved and missed."""
    from glamor_mini.envs.goals import goal_grid_figure, plot_goal_grid

    frames = np.zeros((3, 1, 8, 8), np.uint8)
    hit = np.array([True, False, False])
    fig = goal_grid_figure(frames, frames, hit)
    axes = fig.axes
    assert axes[0].get_ylabel() == "goal" and axes[3].get_ylabel() == "final frame"
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["achieved (1)", "missed (2)"]
    edges = [axes[3 + i].spines["top"].get_edgecolor() for i in range(3)]
    assert edges[0] != edges[1] == edges[2], "green frame for the hit, red for the misses"
    plot_goal_grid(frames, frames, hit, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 0
    # more goals than panels: evenly spaced ones, not the first few
    many = np.arange(21, dtype=np.uint8).reshape(21, 1, 1, 1) * np.ones((1, 1, 8, 8), np.uint8)
    fig = goal_grid_figure(many, many, np.arange(21) % 2 == 0, max_goals=3)
    shown = [int(ax.images[0].get_array()[0, 0]) for ax in fig.axes[:3]]
    assert shown == [0, 10, 20]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["achieved (3)", "missed (0)"]
