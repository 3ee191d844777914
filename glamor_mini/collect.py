"""Data collection (paper §3.5, Algorithm 1's inner loop): n_envs environments step together.

Each env slot runs episodes of at most T steps toward a goal sampled from the training goal set.
The policy acts for all slots in one batched call (open-loop planners plan for every slot that
starts an episode in the same call). Each trajectory is staged in the slot until it ends (t = T or
the env ends it), then written whole to the replay buffer, final observation included.
"""

from __future__ import annotations

import numpy as np
import torch

from glamor_mini.envs.base import GoalSet, Task, obs_shape
from glamor_mini.envs.vec import SerialVecEnv
from glamor_mini.replay import ReplayBuffer


class Collector:
    def __init__(
        self, task: Task, n_envs: int, policy, goals: GoalSet, replay: ReplayBuffer, seed: int = 0
    ):
        self.task, self.policy, self.goals, self.replay = task, policy, goals, replay
        self.n_envs, self.horizon = n_envs, task.horizon
        make_vec = getattr(task, "make_vec_env", None)
        self.vec = (
            make_vec(n_envs, seed)
            if make_vec is not None
            else SerialVecEnv([task.make_env() for _ in range(n_envs)])
        )
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.c = task.frame_shape[0]
        self.stack = np.zeros((n_envs, *obs_shape(task)), dtype=np.uint8)
        self.t = np.zeros(n_envs, dtype=np.int64)
        self.goal_idx = np.zeros(n_envs, dtype=np.int64)
        self.needs_reset = np.ones(n_envs, dtype=bool)
        self.first_reset = np.ones(n_envs, dtype=bool)
        self.frames: list[list[np.ndarray]] = [[] for _ in range(n_envs)]
        self.actions: list[list[int]] = [[] for _ in range(n_envs)]
        self.episodes = 0
        self.visited = np.zeros(n_envs, dtype=bool)  # the slot's goal was reached at some step
        self.recent_visited: list[bool] = []  # of episodes finished since the last pop

    def _start(self, slots: np.ndarray) -> None:
        seeds = [int(self.seed * 10_007 + i) if self.first_reset[i] else None for i in slots]
        self.first_reset[slots] = False
        frames, _ = self.vec.reset_slots(slots.tolist(), seeds)
        for i, frame in zip(slots, frames, strict=True):
            self.stack[i] = np.concatenate([frame] * self.task.frame_stack, axis=0)
            self.frames[i], self.actions[i] = [frame], []
            self.t[i] = 0
            self.goal_idx[i] = self.rng.integers(len(self.goals))
            self.visited[i] = False

    def step(self) -> int:
        """One step of every env. Returns the number of agent steps taken (n_envs)."""
        new = self.needs_reset.copy()
        if new.any():
            self._start(np.flatnonzero(new))
        self.needs_reset[:] = False
        slots = torch.arange(self.n_envs)
        actions, _ = self.policy.act(
            slots,
            torch.from_numpy(self.stack),
            torch.from_numpy(self.goals.frames[self.goal_idx]),
            torch.from_numpy(self.horizon - self.t),
            torch.from_numpy(new),
        )
        actions = actions.numpy()
        frames, labels_all, ended_all = self.vec.step(actions)
        for i in range(self.n_envs):
            frame, labels, ended = frames[i], labels_all[i], ended_all[i]
            self.frames[i].append(frame)
            self.actions[i].append(int(actions[i]))
            if self.task.frame_stack > 1:
                self.stack[i] = np.concatenate([self.stack[i][self.c :], frame], axis=0)
            else:
                self.stack[i] = frame
            self.t[i] += 1
            goal_labels = self.goals.labels[self.goal_idx[i]][None]
            self.visited[i] |= bool(self.task.achieved(labels[None], goal_labels)[0])
            if ended or self.t[i] >= self.horizon:
                self.replay.add_trajectory(np.stack(self.frames[i]), np.array(self.actions[i]))
                self.recent_visited.append(bool(self.visited[i]))
                self.episodes += 1
                self.needs_reset[i] = True
        return self.n_envs

    def close(self) -> None:
        self.vec.close()

    def pop_visit_rate(self) -> float | None:
        """Fraction of episodes finished since the last call that passed through their training
        goal at some step (collection pads plans with random actions, so the final state says
        little about the planner)."""
        if not self.recent_visited:
            return None
        rate = float(np.mean(self.recent_visited))
        self.recent_visited.clear()
        return rate
