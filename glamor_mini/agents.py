"""The algorithms Algorithm 1 trains, behind one seam (paper §3.4-3.6, §4.3; Table 1's columns).

Algorithm 1 (train.py) is the same loop for GLAMOR and for the baselines: collect with a policy,
store whole trajectories, learn from the replay, evaluate. Everything algorithm-specific sits
behind the `Agent` interface:

    agent.collect_policy()          -> Policy   acts while collecting (the loop adds epsilon-greedy)
    agent.eval_policy(seed)         -> Policy   acts at evaluation
    agent.sample(replay, n)         -> batch    what `update` learns from (on the agent's device)
    agent.update(batch)             -> stats    ONE learning step; the agent owns its optimiser,
                                                target networks, learned rewards, ...
    agent.state_dict() / agent.load_state_dict(state)
                                                everything needed to resume: tensors, numbers,
                                                strings, lists and dicts only, so checkpoints load
                                                with torch.load(weights_only=True)
    agent.train_mode(flag)                     nn.Module train/eval switch for every network

A Policy is anything with ``act(slots, obs, goal, steps_left, new_episode) -> (actions, stop)``
(see policies.py for the shapes).

| name      | class                                   | paper                          |
|-----------|-----------------------------------------|--------------------------------|
| 'glamor'  | `GlamorAgent` (this module)             | §3, Algorithm 1, Eq. 8-9       |
| 'gcsl'    | `baselines.gcsl.GCSLAgent`              | §3.6, §4.3, Eq. 10             |
| 'discern' | `baselines.discern.DiscernAgent`        | §4.3 (Warde-Farley et al. 2019)|

The registry `AGENTS` is filled by the classes themselves (`@register_agent("name")`); the
baselines register when `glamor_mini.baselines` is imported (glamor_mini/resolve.py does), so
this module never imports the modules it registers. Registration order is the order of Table 1's
columns and of every list derived from `AGENTS` (table1, experiments/baselines, --help).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from glamor_mini.config import Config, check_choice
from glamor_mini.envs.base import GoalSet, Task, obs_shape
from glamor_mini.evaluate import EvalResult, evaluate
from glamor_mini.models import (  # noqa: F401  (build_model is re-exported)
    amp_supported,
    build_model,
    set_cuda_precision,
    time_features,
)
from glamor_mini.options import owner_of
from glamor_mini.planner import PlannerSettings
from glamor_mini.policies import (
    ClosedLoopPolicy,
    EpsilonGreedy,
    OpenLoopPolicy,
    UniformRandomPolicy,
)
from glamor_mini.replay import Batch, ReplayBuffer


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite (a bad learning rate, a NaN setting, ...): training stops."""


class Policy(Protocol):
    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]: ...


class Agent:
    """Base class of every algorithm. Subclasses set `name`, build their networks in __init__ and
    implement collect_policy / eval_policy / sample / update.

    cfg: the run's Config    task: the environment suite's Task    train_goals: the goals that
    collection is conditioned on (DISCERN also draws its decoys from them)    device: torch device
    """

    name: str = "agent"
    """Display name (tables, figures): 'GLAMOR', 'GCSL', ..."""

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        """Raise config.ConfigError for a value of this algorithm's own fields it cannot use."""

    @classmethod
    def budget_problem(cls, cfg: Any) -> str | None:
        """A few words when a run of `cfg` (resolved) cannot train this algorithm at its budget,
        e.g. DISCERN's "cannot train (17 target copies needed, 6 made)"; None when it can.
        Table 1 marks such a cell instead of printing its number as a result."""
        return None

    def __init__(self, cfg: Any, task: Task, train_goals: GoalSet, device: torch.device):
        self.cfg, self.task, self.train_goals, self.device = cfg, task, train_goals, device
        self.amp = bool(cfg.amp) and amp_supported(device)
        if cfg.amp and not self.amp:
            print(
                f"warning: amp=True is ignored on {device}: no native bfloat16 there "
                "(CUDA, or a CPU with AVX512-BF16 / AMX); the run computes in float32",
                file=sys.stderr,
                flush=True,
            )
        self.generators: dict[str, torch.Generator] = {}
        """Named torch generators: their states go into checkpoints (see rundir.py)."""

    # -------------------------------------------------------------- what subclasses provide
    def collect_policy(self) -> Policy:
        raise NotImplementedError

    def eval_policy(self, seed: int) -> Policy:
        raise NotImplementedError

    def sample(self, replay: ReplayBuffer, batch_size: int) -> Any:
        raise NotImplementedError

    def update(self, batch: Any) -> dict[str, Tensor]:
        raise NotImplementedError

    @property
    def acting(self) -> dict:
        """How the agent acts (written to eval.json)."""
        return {}

    def modules(self) -> dict[str, nn.Module]:
        """Every network of the agent by name (checkpointed, switched by train_mode)."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {}

    # -------------------------------------------------------------- shared machinery
    @property
    def model(self) -> nn.Module:
        """The agent's main network (the one notebooks and `load_run` look at)."""
        return next(iter(self.modules().values()))

    def train_mode(self, training: bool = True) -> None:
        for m in self.modules().values():
            m.train(training)

    def evaluate(self, goals: GoalSet, episodes_per_goal: int, seed: int) -> EvalResult:
        """§4.4's evaluation: `eval_policy(seed)` for T steps toward each goal of `goals`
        (networks in eval mode). train() and `experiments.common.load_run` both evaluate so."""
        self.train_mode(False)
        return evaluate(
            self.task,
            None,
            None,
            goals,
            episodes_per_goal,
            seed=seed,
            policy=self.eval_policy(seed),
        )

    def extra_state(self) -> dict:
        """Anything beyond networks, optimisers and generators (counters, ...)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def state_dict(self) -> dict:
        return {
            "modules": {k: m.state_dict() for k, m in self.modules().items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        mods, opts = self.modules(), self.optimizers()
        if set(state["modules"]) != set(mods):
            raise ValueError(
                f"checkpoint holds networks {sorted(state['modules'])}; this {self.name} agent "
                f"has {sorted(mods)}"
            )
        for k, m in mods.items():
            m.load_state_dict(state["modules"][k])
        for k, o in opts.items():
            o.load_state_dict(state["optimizers"][k])
        self.load_extra_state(state.get("extra", {}))

    def set_lr_scale(self, scale: float) -> None:
        """Every optimiser's lr = its initial lr * scale (Config.lr_scale: the decay schedule)."""
        for opt in self.optimizers().values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * scale

    def step_optimizer(self, loss: Tensor, optimizer: torch.optim.Optimizer, params) -> None:
        """Backward + gradient clipping (cfg.grad_clip) + step. On the CPU a NaN/inf loss raises
        NonFiniteLossError at once, so a bad setting stops the run with a clear message instead
        of training on NaN; on a GPU (where the check would cost a host sync per update) the
        trainer checks the logged losses once per log interval instead."""
        if loss.device.type == "cpu" and not torch.isfinite(loss.detach()).item():
            raise NonFiniteLossError(
                f"{self.name}: the loss became {loss.item()} — check lr, clip_p_actions and the "
                "other numeric settings (a value that is inf/NaN or far too large)"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        optimizer.step()


AGENTS: dict[str, Callable[..., Agent]] = {}
"""Algorithm name (Config.algo) -> Agent class. Filled by `register_agent`."""


def register_agent(name: str) -> Callable[[type[Agent]], type[Agent]]:
    def deco(cls: type[Agent]) -> type[Agent]:
        AGENTS[name] = cls
        return cls

    return deco


def fields_not_used_by(algo: str) -> frozenset[str]:
    """Config fields owned by another registered algorithm (options.owner_of): a run of `algo`
    never reads them, so its run directory stays resumable when their defaults change."""
    others = {cls.name for key, cls in AGENTS.items() if key != algo}
    return frozenset(f for f in Config.__dataclass_fields__ if owner_of(f) in others)


def check_config(cfg: Any) -> None:
    """The registry's check of Config.algo, then the algorithm's own fields (ConfigError)."""
    check_choice(cfg, "algo", tuple(sorted(AGENTS)))
    AGENTS[cfg.algo].check_config(cfg)


def build_agent(cfg: Any, task: Task, train_goals: GoalSet, device: torch.device) -> Agent:
    """The agent `cfg.algo` names (import glamor_mini.baselines first to register baselines)."""
    check_config(cfg)
    if device.type == "cuda":
        set_cuda_precision()  # one float32 policy for every algorithm
    return AGENTS[cfg.algo](cfg, task, train_goals, device)


# ---------------------------------------------------------------------------------- supervised
class SupervisedAgent(Agent):
    """An agent whose one network is trained by maximum likelihood on hindsight-relabelled
    tuples (replay.sample): GLAMOR (Eq. 9) and GCSL (Eq. 10). `self.net` has
    ``loss(obs, goal, actions, lengths, alpha) -> (loss, stats)``."""

    net: nn.Module

    def _make_optimizer(self) -> None:
        # the fused kernel (one pass over all parameters) where the device has one: ~15% of a
        # grid-world update on a CPU; the same maths as the per-tensor loop
        fused = self.device.type in ("cpu", "cuda")
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(),
            lr=self.cfg.lr,
            weight_decay=self.cfg.weight_decay,
            fused=fused or None,
        )

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def sample(self, replay: ReplayBuffer, batch_size: int) -> Batch:
        return replay.sample(batch_size).to(self.device, non_blocking=True)

    def update(self, batch: Batch) -> dict[str, Tensor]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss, stats = self.net.loss(
                batch.obs, batch.goal, batch.actions, batch.lengths, alpha=self.cfg.alpha
            )
        self.step_optimizer(loss, self.optimizer, self.net.parameters())
        return stats


@register_agent("glamor")
class GlamorAgent(SupervisedAgent):
    """GLAMOR: the inverse dynamics model + action prior (Eq. 9), acting through the Eq. 8
    planner: open loop while collecting (§3.5), closed loop (MPC) at evaluation."""

    name = "GLAMOR"

    def __init__(self, cfg: Any, task: Task, train_goals: GoalSet, device: torch.device):
        super().__init__(cfg, task, train_goals, device)
        self.net = build_model(cfg, obs_shape(task), task.frame_shape, task.n_actions).to(device)
        self.net.amp = self.amp  # bf16 encoders while planning too (heads stay fp32)
        self._make_optimizer()
        self.planner = PlannerSettings.from_config(cfg)
        self.collect_planner = PlannerSettings.from_config(cfg, collect=True)
        self.generators["planner"] = torch.Generator(device=device).manual_seed(
            seed_offset(cfg.seed, "planner")
        )
        self._collect = OpenLoopPolicy(
            self.net,
            self.collect_planner,
            cfg.n_envs,
            cfg.horizon,
            self.generators["planner"],
            stop_at_end=False,
            seed=seed_offset(cfg.seed, "plan_padding"),
        )

    def collect_policy(self) -> Policy:
        return self._collect

    def eval_policy(self, seed: int) -> Policy:
        gen = torch.Generator(device=self.device).manual_seed(seed)
        return ClosedLoopPolicy(self.net, self.planner, gen)

    @property
    def acting(self) -> dict:
        return {"planner": vars(self.planner), "collect_planner": vars(self.collect_planner)}


# ---------------------------------------------------------------------------------- seeds
SEED_OFFSETS: dict[str, int] = {
    "replay": 1,
    "planner": 2,
    "random_policy": 3,
    "plan_padding": 4,
    "epsilon": 5,
    "collector": 6,
    "agent": 7,
}
"""Every component's seed is cfg.seed + its offset here (one place, so no two components share a
stream). Changing an offset changes every run's numbers."""


def seed_offset(seed: int, component: str) -> int:
    return int(seed) + SEED_OFFSETS[component]


def collection_policy(cfg: Any, agent: Agent, n_actions: int) -> Any:
    """Algorithm 1's behaviour policy (§3.5): epsilon-greedy around the agent's collection
    policy (the trainer decays eps), or uniform actions with collect_policy='random'."""
    if cfg.collect_policy == "random":
        return UniformRandomPolicy(n_actions, seed=seed_offset(cfg.seed, "random_policy"))
    return EpsilonGreedy(
        agent.collect_policy(), n_actions, cfg.eps_start, seed=seed_offset(cfg.seed, "epsilon")
    )


__all__ = [
    "AGENTS",
    "Agent",
    "GlamorAgent",
    "NonFiniteLossError",
    "Policy",
    "SEED_OFFSETS",
    "SupervisedAgent",
    "build_agent",
    "collection_policy",
    "check_config",
    "register_agent",
    "seed_offset",
    "time_features",
]
