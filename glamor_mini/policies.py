"""Acting with the planner (paper §3.5): closed loop, open loop, epsilon-greedy, uniform random.

Every policy acts for a batch of environment *slots* at once:

    actions, stop = policy.act(slots, obs, goal, steps_left, new_episode)

    slots:       (b,) long   which env slots these rows are (open-loop plans are kept per slot)
    obs:         (b, C, H, W) uint8 frame stacks        goal: (b, c, H, W) uint8 goal frames
    steps_left:  (b,) long   T - t, the most actions a plan may still hold
    new_episode: (b,) bool   the slot just started an episode (open-loop policies plan then)
    -> actions (b,) long, stop (b,) bool (the agent chose to end its episode: its plan is [END])

Epsilon-greedy and the plan index. The paper (§3.5) takes "the i-th action in the plan ... with
probability 1 - eps and a random action with probability eps". We follow it literally: the plan is
indexed by time since planning, so a random step *consumes* the plan action it replaced (the plan
index advances on every step). The authors' code does the same (their epsilon-greedy mixture asks
every sub-policy for an action at every step, which advances the open-loop plan, and keeps one).
Once the plan is used up, collection pads with random actions until T (method.md), so every
collected trajectory is T steps long unless the env ends it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from glamor_mini.models import GlamorModel
from glamor_mini.planner import PlannerSettings, plan


class UniformRandomPolicy:
    """Uniformly random actions; never stops early."""

    def __init__(self, n_actions: int, seed: int = 0):
        self.n_actions = n_actions
        self.rng = np.random.default_rng(seed)

    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]:
        b = len(slots)
        a = torch.as_tensor(self.rng.integers(self.n_actions, size=b), dtype=torch.long)
        return a, torch.zeros(b, dtype=torch.bool)


class StopPolicy:
    """Ends every episode at once (the plan [END] at t = 0): the goal is judged on the start
    state. A second floor besides the random one: in games whose start states resemble many goals
    (the paddles of Pong, the plane of Riverraid), "do nothing" already scores."""

    def __init__(self, n_actions: int, seed: int = 0):
        self.n_actions = n_actions

    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]:
        b = len(slots)
        return torch.zeros(b, dtype=torch.long), torch.ones(b, dtype=torch.bool)


class ClosedLoopPolicy:
    """Model-predictive control: replan at every step, execute the first action of the best plan;
    stop when the best plan is [END] (early termination, only possible with termination='early')."""

    def __init__(
        self,
        model: GlamorModel,
        settings: PlannerSettings,
        generator: torch.Generator | None = None,
    ):
        self.model, self.settings, self.generator = model, settings, generator

    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]:
        p = plan(self.model, obs, goal, steps_left, self.settings, self.generator)
        first = p.actions[:, 0].cpu()
        stop = (p.length == 0).cpu()
        # A row whose plan is empty (or at T) stops; its action is irrelevant, use 0.
        return torch.where(stop, 0, first), stop


class OpenLoopPolicy:
    """Plan once when a slot starts an episode, then execute that plan blindly.

    stop_at_end=True (evaluation): the agent stops when its plan is used up (it chose END there).
    stop_at_end=False (collection): after the plan, random actions pad the episode to T.
    """

    def __init__(
        self,
        model: GlamorModel,
        settings: PlannerSettings,
        n_slots: int,
        horizon: int,
        generator: torch.Generator | None = None,
        stop_at_end: bool = True,
        seed: int = 0,
    ):
        self.model, self.settings, self.generator = model, settings, generator
        self.stop_at_end = stop_at_end
        self.plans = torch.full((n_slots, max(horizon, 1)), -1, dtype=torch.long)
        self.plan_len = torch.zeros(n_slots, dtype=torch.long)
        self.planned_left = torch.zeros(n_slots, dtype=torch.long)  # steps_left when planned
        self.n_actions = model.n_actions
        self.rng = np.random.default_rng(seed)

    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]:
        new = new_episode.bool()
        if bool(new.any()):
            p = plan(
                self.model, obs[new], goal[new], steps_left[new], self.settings, self.generator
            )
            s = slots[new]
            self.plans[s] = -1
            width = p.actions.shape[1]
            self.plans[s, :width] = p.actions.cpu()
            self.plan_len[s] = p.length.cpu()
            self.planned_left[s] = steps_left[new]
        i = self.planned_left[slots] - steps_left  # plan index = steps since planning
        in_plan = i < self.plan_len[slots]
        planned = self.plans[slots, i.clamp(max=self.plans.shape[1] - 1)]
        pad = torch.as_tensor(self.rng.integers(self.n_actions, size=len(slots)), dtype=torch.long)
        actions = torch.where(in_plan, planned, pad)
        stop = ~in_plan if self.stop_at_end else torch.zeros_like(in_plan)
        return actions, stop


class EpsilonGreedy:
    """Wraps a policy: with probability eps a uniformly random action replaces its action.

    eps is set from outside (`LinearSchedule`), since it depends on the agent-step count.
    """

    def __init__(self, policy, n_actions: int, eps: float = 1.0, seed: int = 0):
        self.policy, self.n_actions, self.eps = policy, n_actions, eps
        self.rng = np.random.default_rng(seed)

    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]:
        actions, stop = self.policy.act(slots, obs, goal, steps_left, new_episode)
        b = len(slots)
        explore = torch.as_tensor(self.rng.random(b) < self.eps)
        rand = torch.as_tensor(self.rng.integers(self.n_actions, size=b), dtype=torch.long)
        return torch.where(explore, rand, actions), stop


class LinearSchedule:
    """start -> final linearly over `steps`, then constant."""

    def __init__(self, start: float, final: float, steps: int):
        self.start, self.final, self.steps = start, final, steps

    def __call__(self, t: int) -> float:
        if self.steps <= 0:
            return self.final
        frac = min(max(t / self.steps, 0.0), 1.0)
        return self.start + frac * (self.final - self.start)
