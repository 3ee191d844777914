"""Acting in environments (paper §3.5, §4.4): the one rollout engine.

Every place that runs a policy in an env goes through this module:

  * `Collector`    Algorithm 1's inner loop: n env slots step together, each running episodes of
                   at most T steps toward a sampled training goal; finished trajectories (final
                   observation included, with the commanded goal's index) go to the replay.
  * `run_episodes` evaluation (§4.4) and videos: one episode per goal row, all in lock-step,
                   an episode ends at T, when the env ends it, or when the agent stops (END).
  * `rollout`      one env, one episode of actions drawn one by one (envs/goals.py's uniform-
                   random rollouts for feasible ranges and goal sets, §4.4; the termination
                   experiment's one-step probes of the grid's dynamics).

The engine sits below the suites (envs/goals.py uses it): it imports nothing of glamor_mini.envs
and sees a task, an env and a goal set through the small protocols below.

Both keep observations in a `FrameStacks`, the one place frames are stacked: a slot's stack
starts as its first frame repeated `frame_stack` times and shifts by one frame per step.

Policies are called once per step for all active slots (see policies.py for the interface):

    actions, stop = policy.act(slots, obs, goal, steps_left, new_episode)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from glamor_mini.policies import to_host
from glamor_mini.replay import ReplayBuffer


class Env(Protocol):
    """What the engine needs of an env (envs.base.SuiteEnv)."""

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]: ...


class Goals(Protocol):
    """What the engine needs of a goal set (envs.base.GoalSet): frames (G, c, H, W) uint8,
    labels (G, n_labels) float32."""

    frames: np.ndarray
    labels: np.ndarray


class Task(Protocol):
    """What the engine needs of a task (envs.base.Task)."""

    horizon: int
    frame_shape: tuple[int, int, int]
    frame_stack: int
    label_names: tuple[str, ...]

    def make_env(self) -> Any: ...

    def make_vec_env(self, n: int, seed: int = 0) -> Any: ...

    def achieved(self, labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray: ...


@dataclass
class RolloutEnd:
    """The end of one `rollout`: the last frame and labels, the actions taken, whether the env
    ended it."""

    frame: np.ndarray
    labels: np.ndarray
    steps: int
    ended: bool


def rollout(env: Env, act: Callable[[], int], horizon: int, seed: int | None = None) -> RolloutEnd:
    """Reset `env` (with `seed`; None continues its own random stream), then take `act()`
    actions, drawn one per step, until `horizon` of them were taken or the env ends the episode.
    """
    frame, labels = env.reset(seed=seed)
    t, ended = 0, False
    while t < horizon and not ended:
        frame, labels, ended = env.step(int(act()))
        t += 1
    return RolloutEnd(frame, labels, t, ended)


def reset_seed(seed: int, slot: int) -> int:
    """The env seed of a slot's first episode (collection) or of evaluation row `slot`."""
    return int(seed * 10_007 + slot)


class FrameStacks:
    """(n, stack*c, H, W) uint8 frame stacks of n slots (oldest frame first)."""

    def __init__(self, n: int, task: Task):
        self.c, self.stack = task.frame_shape[0], task.frame_stack
        h, w = task.frame_shape[1:]
        self.obs = np.zeros((n, self.stack * self.c, h, w), dtype=np.uint8)

    def reset(self, slots: np.ndarray, frames: np.ndarray) -> None:
        """frames: (k, c, H, W) the first frame of each slot's episode."""
        self.obs[slots] = np.tile(frames, (1, self.stack, 1, 1))

    def push(self, slots: np.ndarray, frames: np.ndarray) -> None:
        """frames: (k, c, H, W) the newest frame of each slot."""
        if self.stack > 1:
            self.obs[slots, : -self.c] = self.obs[slots, self.c :]
        self.obs[slots, -self.c :] = frames

    def latest(self) -> np.ndarray:
        """(n, c, H, W): the newest frame of every slot."""
        return self.obs[:, -self.c :].copy()


class Collector:
    """n_envs slots collecting whole trajectories into `replay` (Algorithm 1, §3.5)."""

    def __init__(
        self, task: Task, n_envs: int, policy, goals: Goals, replay: ReplayBuffer, seed: int = 0
    ):
        self.task, self.policy, self.goals, self.replay = task, policy, goals, replay
        self.n_envs, self.horizon = n_envs, task.horizon
        self.vec = task.make_vec_env(n_envs, seed)  # grid: exploring starts; pixels: workers
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.stacks = FrameStacks(n_envs, task)
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
        seeds = [reset_seed(self.seed, i) if self.first_reset[i] else None for i in slots]
        self.first_reset[slots] = False
        frames, _ = self.vec.reset_slots(slots.tolist(), seeds)
        self.stacks.reset(slots, frames)
        for i, frame in zip(slots, frames, strict=True):
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
        actions, _ = self.policy.act(
            torch.arange(self.n_envs),
            torch.from_numpy(self.stacks.obs),
            torch.from_numpy(self.goals.frames[self.goal_idx]),
            torch.from_numpy(self.horizon - self.t),
            torch.from_numpy(new),
        )
        actions = actions.cpu().numpy()
        frames, labels, ended = self.vec.step(actions)
        self.stacks.push(np.arange(self.n_envs), frames)
        self.t += 1
        self.visited |= self.task.achieved(labels, self.goals.labels[self.goal_idx])
        for i in range(self.n_envs):
            self.frames[i].append(frames[i])
            self.actions[i].append(int(actions[i]))
            if ended[i] or self.t[i] >= self.horizon:
                self.replay.add_trajectory(
                    np.stack(self.frames[i]), np.array(self.actions[i]), int(self.goal_idx[i])
                )
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


@dataclass
class Episodes:
    """Outcome of B episodes (one per goal row)."""

    start_labels: np.ndarray  # (B, n_labels)
    final_labels: np.ndarray  # (B, n_labels)
    steps: np.ndarray  # (B,) actions taken
    stopped: np.ndarray  # (B,) bool: the agent ended the episode itself
    trajectories: np.ndarray  # (B, T+1, n_labels) labels along the way (repeats after the end)
    final_frames: np.ndarray  # (B, c, H, W) the last frame each agent saw (paper Fig. 11)
    frames: np.ndarray | None = None
    """record=True: (B, T+1, c, H, W) every frame seen (repeats after the end), for videos."""


def run_episodes(
    task: Task,
    policy,
    goals: Goals,
    seed: int = 0,
    progress: bool = False,
    record: bool = False,
) -> Episodes:
    """Run one episode per goal row, in lock-step; the policy acts for the active rows at once.
    Row i's env is reset with `reset_seed(seed, i)`. At most `task.eval_chunk` envs are alive at
    once (None: all rows): the rows run in consecutive chunks of that many, each on envs from
    `task.eval_envs`, given back (closed, or kept with reuse_eval_envs) when the chunk ends."""
    B, T = len(goals), task.horizon
    chunk = task.eval_chunk or B
    stacks = FrameStacks(B, task)
    labels = np.zeros((B, len(task.label_names)), dtype=np.float32)
    start = np.zeros_like(labels)
    traj = np.zeros((B, T + 1, len(task.label_names)), dtype=np.float32)
    seen = None
    steps = np.zeros(B, dtype=np.int64)
    stopped = np.zeros(B, dtype=bool)
    active = np.ones(B, dtype=bool)
    goal_frames = torch.from_numpy(goals.frames)
    for lo in range(0, B, chunk):
        rows = np.arange(lo, min(B, lo + chunk))
        envs = task.eval_envs(len(rows))
        try:
            first = []
            for i in rows:
                frame, labels[i] = envs[i - lo].reset(seed=reset_seed(seed, int(i)))
                first.append(frame)
            stacks.reset(rows, np.stack(first))
            start[rows] = labels[rows]
            traj[rows] = labels[rows, None]
            if record:
                if seen is None:
                    seen = np.zeros((B, T + 1, *stacks.latest().shape[1:]), dtype=np.uint8)
                seen[rows] = stacks.latest()[rows, None]
            ticks = tqdm(range(T), desc="evaluate", disable=not progress, leave=False)
            for t in ticks:
                idx = rows[active[rows]]
                if len(idx) == 0:
                    break
                new = torch.full((len(idx),), t == 0)
                left = torch.full((len(idx),), T - t, dtype=torch.long)
                actions, stop = policy.act(
                    torch.from_numpy(idx),
                    torch.from_numpy(stacks.obs[idx]),
                    goal_frames[idx],
                    left,
                    new,
                )
                actions, stop = to_host(actions, stop)  # one device-to-host copy
                stopped[idx[stop]] = True
                active[idx[stop]] = False
                go = idx[~stop]
                for i, a in zip(go, actions[~stop], strict=True):
                    frame, labels[i], ended = envs[i - lo].step(int(a))
                    stacks.push(np.array([i]), frame[None])
                    steps[i] += 1
                    traj[i, t + 1 :] = labels[i]
                    if seen is not None:
                        seen[i, t + 1 :] = frame
                    if ended:
                        active[i] = False
        finally:
            task.release_eval_envs(envs)
    return Episodes(start, labels.copy(), steps, stopped, traj, stacks.latest(), seen)


__all__ = [
    "Collector",
    "Episodes",
    "FrameStacks",
    "RolloutEnd",
    "reset_seed",
    "rollout",
    "run_episodes",
]
