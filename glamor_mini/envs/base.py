"""What the GLAMOR core needs from an environment suite (grid world, Atari, DM Control, ...).

A *task* describes a suite instance: its action count, frame shape, frame stack, horizon T, goal
sets and the rule that decides whether a goal was achieved. It makes *envs*, each a plain
single-episode stepper that returns one frame (c, H, W) uint8 and a label vector per step.
Labels are the privileged low-dimensional facts (positions) used only to judge goal achievement
(§4.4); the agent never sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from glamor_mini.envs.vec import SerialVecEnv


@dataclass
class GoalSet:
    """G goals: frames (G, c, H, W) uint8 and labels (G, n_labels) float32, from the same states.

    `ranges` (n_labels,): the feasible ranges the set was built with (pixel suites, §4.4); the
    10% rule judges this set's goals by them (suites whose rule needs no ranges leave it None).
    """

    frames: np.ndarray
    labels: np.ndarray
    ranges: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.dtype != np.uint8:
            raise ValueError(
                f"goal frames must be (G, c, H, W) uint8; got {self.frames.shape} "
                f"{self.frames.dtype}"
            )
        if self.labels.ndim != 2 or self.labels.shape[0] != self.frames.shape[0]:
            raise ValueError(
                f"goal labels must be (G, n_labels) with G={self.frames.shape[0]}; "
                f"got {self.labels.shape}"
            )
        if self.ranges is not None and self.ranges.shape != (self.labels.shape[1],):
            raise ValueError(
                f"goal ranges must be (n_labels,) = ({self.labels.shape[1]},); "
                f"got {self.ranges.shape}"
            )

    def __len__(self) -> int:
        return self.frames.shape[0]

    def take(self, idx: np.ndarray) -> GoalSet:
        return GoalSet(self.frames[idx], self.labels[idx], self.ranges)


class SuiteEnv(Protocol):
    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Start a trajectory: -> (frame (c, H, W) uint8, labels (n_labels,) float32)."""
        ...

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """-> (frame, labels, ended): ended is True when the env itself ends the trajectory."""
        ...


def close_envs(envs: list[SuiteEnv]) -> None:
    """Close each env that has a `close` (the grid world's envs hold nothing to close)."""
    for env in envs:
        close = getattr(env, "close", None)
        if close is not None:
            close()


class Task:
    """Base class of every suite's task. Subclasses set the attributes below and implement
    make_env, train_goals, eval_goals and achieved; every other hook has a default here, so the
    core calls it on any task (never getattr / hasattr).

    | hook                 | default                       | overridden by               |
    |----------------------|-------------------------------|-----------------------------|
    | make_collect_env     | make_env()                    | grid world (exploring starts)|
    | make_vec_env         | SerialVecEnv of collect envs  | Atari, DM Control (workers) |
    | optimal_steps        | None (unknown)                | grid world                  |
    | per_label_achieved   | None (no per-label rates)     | MiniGrid, Atari, DM Control |
    | plot_outcomes        | False (no plot: goal grid)    | grid world (heatmaps)       |
    | episode_gif          | False (no episode.gif)        | Atari (save_goal_gif)       |
    | without_pixels       | self                          | DM Control (skip rendering) |
    | eval_envs            | new envs each evaluation      | Atari, DM Control (kept:     |
    |                      |                               | reuse_eval_envs)             |
    | eval_chunk           | None (one env per episode)    | DM Control (30 at a time)    |
    """

    name: str
    n_actions: int
    frame_shape: tuple[int, int, int]
    frame_stack: int
    horizon: int
    label_names: tuple[str, ...]
    episode_gif: bool = False
    """Whether `save_goal_gif` draws an episode.gif next to eval.png."""
    reuse_eval_envs: bool = False
    """True: `eval_envs` hands out the same envs at every evaluation instead of building new ones
    (suites whose envs are slow to build: an ALE env loads its ROM, ~0.13 s x 90 per evaluation).
    Only for envs whose seeded `reset` restores everything an episode depends on."""
    eval_chunk: int | None = None
    """The most evaluation envs alive at once: an evaluation runs its episodes (lock-step) in
    consecutive chunks of this many rows (rollout.run_episodes); None: all episodes at once.
    For suites whose envs are large (a MuJoCo env with its renderer: ~90 MB)."""
    _eval_env_pool: list[SuiteEnv] | None = None

    def make_env(self) -> SuiteEnv:
        raise NotImplementedError

    def train_goals(self, seed: int) -> GoalSet:
        raise NotImplementedError

    def eval_goals(self, seed: int) -> GoalSet:
        raise NotImplementedError

    def achieved(self, labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray:
        """(B, n_labels) x (B, n_labels) -> (B,) bool. Suites whose goal sets carry `ranges`
        (Atari, DM Control) also take `ranges=` (the judged set's own; default: the task seed's)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ hooks with defaults
    def make_collect_env(self) -> SuiteEnv:
        """An env for data collection (default: `make_env`; the grid world may start anywhere)."""
        return self.make_env()

    def make_vec_env(self, n: int, seed: int = 0):
        """n collection envs stepped together (vec.py); default: in this process."""
        return SerialVecEnv([self.make_collect_env() for _ in range(n)])

    def optimal_steps(self, start_labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray | None:
        """(B,) shortest-path lengths where the suite knows them (grid world), else None."""
        return None

    def per_label_achieved(
        self, labels: np.ndarray, goal_labels: np.ndarray, **ranges
    ) -> np.ndarray | None:
        """(B, n_labels) bool: each label alone achieved (evaluation reports the rate per
        label), or None where the suite has no such rule."""
        return None

    def plot_outcomes(self, goal_labels: np.ndarray, values: np.ndarray, path: str | Path) -> bool:
        """Draw eval.png from per-goal values (columns: achieved, optimal); False: not drawn
        (the goal grid of goal frames above final frames is drawn instead)."""
        return False

    def save_goal_gif(
        self, goal_frame: np.ndarray, frames: np.ndarray, path: str | Path, achieved: bool
    ) -> None:
        """episode.gif of one evaluation episode (only called where `episode_gif` is True)."""
        raise NotImplementedError

    def eval_envs(self, n: int) -> list[SuiteEnv]:
        """n envs for one evaluation (rollout.run_episodes), each reset with a seed before use;
        give them back with `release_eval_envs`."""
        if not self.reuse_eval_envs:
            return [self.make_env() for _ in range(n)]
        pool = self._eval_env_pool = self._eval_env_pool or []
        while len(pool) < n:
            pool.append(self.make_env())
        return pool[:n]

    def release_eval_envs(self, envs: list[SuiteEnv]) -> None:
        """Close envs from `eval_envs` (kept for the next evaluation with reuse_eval_envs)."""
        if not self.reuse_eval_envs:
            close_envs(envs)

    def close(self) -> None:
        """Close the envs this task keeps (reuse_eval_envs)."""
        close_envs(self._eval_env_pool or [])
        self._eval_env_pool = None

    def without_pixels(self) -> Task:
        """A task whose envs may skip rendering, for policies that never look at observations
        (the random floor); default: this task."""
        return self


def obs_shape(task: Task) -> tuple[int, int, int]:
    c, h, w = task.frame_shape
    return (c * task.frame_stack, h, w)
