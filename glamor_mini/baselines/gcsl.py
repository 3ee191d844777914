"""GCSL, goal-conditioned supervised learning (Ghosh et al. 2020), as the GLAMOR paper runs it
(§3.6, §4.3, Appendix A.1, Eq. 10).

A goal-conditioned policy pi(a | s, g, h) is trained by maximum likelihood on hindsight-relabelled
data and then acts by itself (no planner, no action prior):

    L(pi) = E_D[ -log pi(a_t | s_t, g = s_{t+k}, h = k) ]                            (Eq. 10)

It shares everything else with GLAMOR (the paper: "GCSL was implemented within our code-base"):
the encoders (`glamor_mini.models.make_encoder`, same Config sizes), the replay buffer and its
relabelling, the replay ratio, the epsilon-greedy schedule and Algorithm 1's loop. The time
remaining h enters as the periodic feature (sin 2 pi h / T, cos 2 pi h / T) (§4.3).

Architecture (mirrors GLAMOR's inverse model up to its "mix" context, then a linear head):

    e_s = Encoder(obs stack)                    (B, S)
    e_g = Encoder(goal frame)                   (B, S)     its own encoder, as in GLAMOR
    ctx = MLP([e_s; e_g; sin 2 pi h/T; cos 2 pi h/T])   (B, S)
    logits = Linear(ctx)                        (B, A)     one action, not a sequence

Acting (Config.gcsl_act): 'greedy' takes argmax_a pi(a | s, g, h), as Ghosh et al.'s code does once
its uniform-exploration phase is over; 'sample' draws a ~ pi(. | s, g, h), the policy that
Appendix A.1's analysis (Eq. 11-12) assumes. The trainer wraps the collection policy in
epsilon-greedy. GCSL never ends an episode early: it acts until t = T.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glamor_mini.agents import SupervisedAgent, register_agent, seed_offset
from glamor_mini.config import check_choice
from glamor_mini.envs.base import obs_shape
from glamor_mini.models import GoalTimeTorso, time_features  # noqa: F401
from glamor_mini.options import options_from, register_options

ACT_MODES = ("greedy", "sample")


class GCSLPolicyModel(GoalTimeTorso):
    """pi(a | s, g, h): a goal- and horizon-conditioned policy over n_actions.

    obs: (B, C, H, W) uint8 frame stack of s_t   goal: (B, c, H, W) uint8 one frame of g
    steps_left: (B,) long, h in 1..T
    """

    time_name = "steps_left"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.head = nn.Linear(self.state_size, self.n_actions)

    def forward(self, obs: Tensor, goal: Tensor, steps_left: Tensor) -> Tensor:
        """-> logits (B, n_actions) of pi(. | s, g, h = steps_left)."""
        return self.head(self.features(obs, goal, steps_left))

    def loss(
        self, obs: Tensor, goal: Tensor, actions: Tensor, lengths: Tensor, alpha: float = 1.0
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Eq. 10 on a relabelled batch: mean over rows of -log pi(a_t | s_t, s_{t+k}, h = k).

        actions: (B, T) long, a_t .. a_{t+k-1} then -1; lengths: (B,) long, k in 0..T.
        The target is actions[:, 0] and h = k. Rows with k = 0 (goal = the current state) carry
        no action and are MASKED OUT of the mean: GCSL has no END token, so it cannot learn
        "already there" (it acts until T). `alpha` (GLAMOR's prior weight) is ignored.
        Returns (loss, {"loss": detached scalar}).
        """
        has_action = lengths > 0
        target = actions[:, 0].clamp(min=0)
        h = lengths.clamp(min=1)  # k = 0 rows get any valid h; they are masked below
        logits = self(obs, goal, h)
        nll = F.cross_entropy(logits.float(), target, reduction="none")
        w = has_action.float()
        loss = (nll * w).sum() / w.sum().clamp(min=1.0)
        return loss, {"loss": loss.detach()}

    @torch.no_grad()
    def probs(self, obs: Tensor, goal: Tensor, steps_left: Tensor) -> Tensor:
        """pi(. | s, g, h) as probabilities (B, n_actions), on the model's device."""
        device = next(self.parameters()).device
        logits = self(obs.to(device), goal.to(device), steps_left.to(device))
        return torch.softmax(logits.float(), dim=-1)


class GCSLPolicy:
    """Acts with pi(a | s, g, h = steps_left) for a batch of slots (policies.py interface).

    mode='greedy': argmax; mode='sample': a ~ pi (randomness from `generator`). Never stops early.
    """

    def __init__(
        self,
        model: GCSLPolicyModel,
        mode: str = "greedy",
        generator: torch.Generator | None = None,
    ):
        if mode not in ACT_MODES:
            raise ValueError(f"gcsl_act={mode!r} is not accepted; choose one of {ACT_MODES}")
        self.model, self.mode, self.generator = model, mode, generator

    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]:
        p = self.model.probs(obs, goal, steps_left)  # (b, A)
        if self.mode == "greedy":
            a = p.argmax(dim=1)
        else:
            a = torch.multinomial(p, 1, generator=self.generator).squeeze(1)
        return a.cpu(), torch.zeros(len(slots), dtype=torch.bool)


def build_gcsl_model(cfg, task) -> GCSLPolicyModel:
    """The GCSL policy network described by a Config (GLAMOR's encoder kind and sizes)."""
    return GCSLPolicyModel.from_config(
        cfg, obs_shape(task), task.frame_shape, task.n_actions, task.horizon
    )


@dataclass(frozen=True)
class GCSLOptions:
    """GCSL's own options: the Config fields ``gcsl_<name>`` (``--gcsl_act``; docs in
    config.Config). Registered with `options.register_options` for --help."""

    act: str

    @classmethod
    def from_config(cls, cfg) -> GCSLOptions:
        return options_from(cls, cfg, prefix="gcsl_")


register_options("GCSL", GCSLOptions, prefix="gcsl_")


@register_agent("gcsl")
class GCSLAgent(SupervisedAgent):
    """GCSL as an Agent for Algorithm 1's loop (`--algo gcsl`).

    Collection: the GCSL policy itself (cfg.gcsl_act, conditioned on h = T - t), wrapped in
    epsilon-greedy by the trainer. Evaluation: the same policy, acting until T.
    """

    name = "GCSL"

    @classmethod
    def check_config(cls, cfg) -> None:
        check_choice(cfg, "gcsl_act", ACT_MODES)

    def __init__(self, cfg, task, train_goals, device: torch.device):
        super().__init__(cfg, task, train_goals, device)
        self.net = build_gcsl_model(cfg, task).to(device)
        self._make_optimizer()
        self.generators["gcsl_policy"] = torch.Generator(device=device).manual_seed(
            seed_offset(cfg.seed, "planner")
        )
        self.options = GCSLOptions.from_config(cfg)
        self._collect = GCSLPolicy(self.net, self.options.act, self.generators["gcsl_policy"])

    def collect_policy(self) -> GCSLPolicy:
        return self._collect

    def eval_policy(self, seed: int) -> GCSLPolicy:
        gen = torch.Generator(device=self.device).manual_seed(seed)
        return GCSLPolicy(self.net, self.options.act, gen)

    @property
    def acting(self) -> dict:
        return {"policy": {"act": self.options.act, "conditioned_on": "goal and h = T - t"}}


__all__ = [
    "ACT_MODES",
    "GCSLPolicy",
    "GCSLPolicyModel",
    "GCSLAgent",
    "GCSLOptions",
    "build_gcsl_model",
    "time_features",
]
