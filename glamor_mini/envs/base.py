"""What the GLAMOR core needs from an environment suite (grid world, Atari, DM Control, ...).

A *task* describes a suite instance: its action count, frame shape, frame stack, horizon T, goal
sets and the rule that decides whether a goal was achieved. It makes *envs*, each a plain
single-episode stepper that returns one frame (c, H, W) uint8 and a label vector per step.
Labels are the privileged low-dimensional facts (positions) used only to judge goal achievement
(§4.4); the agent never sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


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


class Task(Protocol):
    name: str
    n_actions: int
    frame_shape: tuple[int, int, int]
    frame_stack: int
    horizon: int
    label_names: tuple[str, ...]

    def make_env(self) -> SuiteEnv: ...

    def train_goals(self, seed: int) -> GoalSet: ...

    def eval_goals(self, seed: int) -> GoalSet: ...

    def achieved(self, labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray:
        """(B, n_labels) x (B, n_labels) -> (B,) bool. Suites whose goal sets carry `ranges`
        (Atari, DM Control) also take `ranges=` (the judged set's own; default: the task seed's)."""
        ...

    def optimal_steps(self, start_labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray | None:
        """(B,) shortest-path lengths where the suite knows them (grid world), else None."""
        ...


def obs_shape(task: Task) -> tuple[int, int, int]:
    c, h, w = task.frame_shape
    return (c * task.frame_stack, h, w)
