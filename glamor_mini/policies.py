"""Acting with the planner (paper §3.5): closed loop, open loop, epsilon-greedy, uniform random.

Every policy acts for a batch of environment *slots* at once:

    actions, stop = policy.act(slots, obs, goal, steps_left, new_episode)

    slots:       (b,) long   which env slots these rows are (open-loop plans are kept per slot)
    obs:         (b, C, H, W) uint8 frame stacks        goal: (b, c, H, W) uint8 goal frames
    steps_left:  (b,) long   T - t, the most actions a plan may still hold
    new_episode: (b,) bool   the slot just started an episode (open-loop policies plan then)
    -> actions (b,) long, stop (b,) bool (the agent chose to end its episode: its plan is [END])

Devices: slots, steps_left and new_episode are host (CPU) tensors: the env loop's bookkeeping.
obs and goal may be on either side. The planning policies return actions and stop on the MODEL's
device without reading it (no host-device sync inside `act`); the env loop moves both to the
host in one transfer with `to_host` (the one sync per agent step that stepping envs needs).

Epsilon-greedy and the plan index. The paper (§3.5) takes "the i-th action in the plan ... with
probability 1 - eps and a random action with probability eps". We follow it literally: the plan is
indexed by time since planning, so a random step *consumes* the plan action it replaced (the plan
index advances on every step). The authors' code does the same (their epsilon-greedy mixture asks
every sub-policy for an action at every step, which advances the open-loop plan, and keeps one).
Once the plan is used up, collection pads with random actions until T (docs/design.md), so every
collected trajectory is T steps long unless the env ends it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from glamor_mini.config import check_choice
from glamor_mini.models import GlamorModel
from glamor_mini.planner import PlannerSettings, plan

COLLECT_POLICIES: tuple[str, ...] = ("planner", "random")
"""Config.collect_policy: the agent's own collection policy (epsilon-greedy), or uniform random
actions (Fig. 7's ablation)."""


def to_host(actions: Tensor, stop: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(b,) actions and (b,) stop flags from any device -> numpy int64 and bool, in ONE
    device-to-host copy."""
    both = torch.stack([actions.long(), stop.long()]).cpu().numpy()
    return both[0], both[1].astype(bool)


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


class GoalFeatures:
    """An episode's goal features per env slot, encoded at the slot's first step.

    A goal does not change during an episode, so a policy that looks at it at every step needs
    its encoding once per episode: `encode(goal)` runs for the rows that start an episode (or
    whose slot it has not seen) and the others reuse their slot's row (a GLAMOR evaluation of
    cartpole at the cpu scale spent ~8% of its time encoding goals: docs/speed.md). The
    features are those of the weights at the episode's first step: make a new one when the
    weights change.
    """

    def __init__(self, encode: Callable[[Tensor], Tensor]):
        self.encode = encode
        self.table: Tensor | None = None  # (slots, S) on the encoder's device
        self.known = torch.zeros(0, dtype=torch.bool)  # host: which slots have a row

    def __call__(self, slots: Tensor, goal: Tensor, new_episode: Tensor) -> Tensor:
        slots = slots.cpu()
        if len(slots) and int(slots.max()) >= len(self.known):
            grow = int(slots.max()) + 1 - len(self.known)
            self.known = torch.cat([self.known, torch.zeros(grow, dtype=torch.bool)])
        fresh = new_episode.cpu().bool() | ~self.known[slots]
        if bool(fresh.any()):
            idx = fresh.nonzero().squeeze(1)
            feats = self.encode(goal[idx.to(goal.device)])
            if self.table is None or len(self.table) < len(self.known):
                table = feats.new_zeros(len(self.known), feats.shape[1])
                if self.table is not None:
                    table[: len(self.table)] = self.table
                self.table = table
            self.table[slots[idx].to(feats.device, non_blocking=True)] = feats
            self.known[slots[idx]] = True
        assert self.table is not None
        return self.table[slots.to(self.table.device, non_blocking=True)]


class ClosedLoopPolicy:
    """Model-predictive control: replan at every step, execute the first action of the best plan;
    stop when the best plan is [END] (early termination, only possible with termination='early').
    Each episode's goal is encoded once, at its first step (`GoalFeatures`), unless
    `encode_goal_once` is False (the planner then encodes it at every step: same plans, slower)."""

    encode_goal_once = True

    def __init__(
        self,
        model: GlamorModel,
        settings: PlannerSettings,
        generator: torch.Generator | None = None,
    ):
        self.model, self.settings, self.generator = model, settings, generator
        device = next(model.parameters()).device
        self.goal_features = GoalFeatures(lambda g: model.encode_goal(g.to(device)))

    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]:
        e_g = None
        if self.encode_goal_once:
            with torch.no_grad():
                e_g = self.goal_features(slots, goal, new_episode)
        p = plan(
            self.model, obs, goal, steps_left, self.settings, self.generator, goal_features=e_g
        )
        stop = p.length == 0
        # A row whose plan is empty (or at T) stops; its action is irrelevant, use 0.
        return p.actions[:, 0].clamp(min=0), stop


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
        self.device = dev = next(model.parameters()).device
        self.plans = torch.full((n_slots, max(horizon, 1)), -1, dtype=torch.long, device=dev)
        self.plan_len = torch.zeros(n_slots, dtype=torch.long, device=dev)
        self.planned_left = torch.zeros(n_slots, dtype=torch.long, device=dev)  # T - t at plan
        self.n_actions = model.n_actions
        self.rng = np.random.default_rng(seed)

    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]:
        dev = self.device
        new = new_episode.cpu().bool()  # host bookkeeping: reading it costs no device sync
        if bool(new.any()):
            idx = new.nonzero().squeeze(1)
            p = plan(
                self.model,
                obs[idx.to(obs.device)],
                goal[idx.to(goal.device)],
                steps_left.cpu()[idx],
                self.settings,
                self.generator,
            )
            s = slots.cpu()[idx].to(dev, non_blocking=True)
            self.plans[s] = -1
            width = p.actions.shape[1]
            self.plans[s, :width] = p.actions
            self.plan_len[s] = p.length
            self.planned_left[s] = steps_left.cpu()[idx].to(dev, non_blocking=True)
        slots_d = slots.to(dev, non_blocking=True)
        left_d = steps_left.to(dev, non_blocking=True)
        i = self.planned_left[slots_d] - left_d  # plan index = steps since planning
        in_plan = i < self.plan_len[slots_d]
        planned = self.plans[slots_d, i.clamp(max=self.plans.shape[1] - 1)]
        pad = torch.as_tensor(self.rng.integers(self.n_actions, size=len(slots)), dtype=torch.long)
        actions = torch.where(in_plan, planned, pad.to(dev, non_blocking=True))
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
        b, dev = len(slots), actions.device
        explore = torch.as_tensor(self.rng.random(b) < self.eps).to(dev, non_blocking=True)
        rand = torch.as_tensor(self.rng.integers(self.n_actions, size=b), dtype=torch.long)
        return torch.where(explore, rand.to(dev, non_blocking=True), actions), stop


class LinearSchedule:
    """start -> final linearly over `steps`, then constant."""

    def __init__(self, start: float, final: float, steps: int):
        self.start, self.final, self.steps = start, final, steps

    def __call__(self, t: int) -> float:
        if self.steps <= 0:
            return self.final
        frac = min(max(t / self.steps, 0.0), 1.0)
        return self.start + frac * (self.final - self.start)


def check_config(cfg) -> None:
    """This registry's check of Config.collect_policy (ConfigError naming the accepted)."""
    check_choice(cfg, "collect_policy", COLLECT_POLICIES)
