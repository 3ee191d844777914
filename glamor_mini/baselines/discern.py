"""DISCERN, discriminative goal-achievement rewards (Warde-Farley et al. 2019), as GLAMOR runs it
for Table 1 (paper §3.6, §4.3): a goal-conditioned Q-learner whose only reward is a learned
similarity between the final observation and the goal.

Three parts, trained together by `DiscernAgent.update` on batches drawn from the shared replay:

1. The Q-network Q(a | s_t, g, t) (`DiscernQNet`) on GLAMOR's encoders (models.make_encoder: MLP
   for grids, IMPALA for pixels), with the periodic time feature (sin 2 pi t/T, cos 2 pi t/T)
   (§4.2-4.3). Episodes always last T steps (no END): Q is defined for t in 0..T-1.

       e_s = ObsEncoder(frame stack of s_t)           (B, S)
       e_g = GoalEncoder(goal frame g)                (B, S)    its own encoder, as in GLAMOR
       ctx = MLP([e_s; e_g; sin 2 pi t/T; cos 2 pi t/T])  (B, S)
       Q   = V(ctx) + A(ctx) - mean_a A(ctx)          (B, A)    dueling head (Rainbow)

2. The goal-achievement reward (`Discriminator`, "xi"): an L2-normalised linear embedding of the
   goal encoder's features under a stop-gradient,

       xi(x) = normalise(W GoalEncoder(x).detach() + b)       x: ONE frame, (B, c, H, W)

   trained to pick the commanded goal g of a trajectory among K decoys d_1..d_K from the goal set,
   given the trajectory's final frame s_T:

       L_xi = CE( beta [xi(s_T).xi(g), xi(s_T).xi(d_1), .., xi(s_T).xi(d_K)], class 0 ),
       decoys equal to g are masked out; beta = 4 (`discern_beta`; 0 gives K + 1).

   beta sets the reward's contrast. L_xi prices cosines in logits (beta * cosine), and on the
   commanded pairs of a policy that does not yet reach its goals the best discriminator is
   uniform, which pulls the cosines between different states together; xi settles where the
   goal's margin over other states is a few nats of logit, i.e. a cosine gap of ~3.7 / beta.
   r_T reads the raw cosine, so it separates "reached" from "missed" by ~3.7 / beta: with
   beta = K + 1 = 32, r_T ~ 0.9 on every cell of the 7x7 grid and Q learns nothing
   (docs/investigations.md).

   With `discern_xi_hindsight` (default) xi also learns from the relabelled pairs (s_T, g = s_T),
   i.e. to tell states apart. From commanded pairs alone xi collapses while the policy is still
   random (s_T says nothing about g, and a constant xi is optimal), so r_T ~ 1 for everything.

   The reward is zero before the last step and  r_T = max(0, xi(s_T).xi(g))  at it. It is
   recomputed with the current xi every time a batch is sampled (`final_reward`), so the replay
   stores (s_T, g), never a frozen reward. xi compares single frames: the last frame of s_T and
   the goal frame, both through the goal encoder, so a goal relabelled with the trajectory's own
   final frame gets r_T = 1 exactly.

3. Hindsight relabelling: a share (`discern_relabel`) of the sampled transitions take their
   trajectory's final frame as the goal (r_T = 1); trajectories stored without a commanded goal
   (goal index -1) are always relabelled.

Q-learning: n-step double DQN with a periodically copied target network and a Huber loss,
with no bootstrap past the trajectory's last step (t = T, or earlier when the env ended it):

    m = min(n, steps to the end)
    y = gamma^(m-1) r_T                                   if s_{t+m} is the final state
    y = gamma^n Q_target(s_{t+n}, g, t+n, argmax_a Q(s_{t+n}, g, t+n, a))   otherwise

The reward enters only at t = T, and each copy of the target network carries it at most n steps
further back, so it reaches t = 0 after C = ceil(T / n) copies. `discern_target_period` = 0
(the default) sizes the period to the run: its U updates make at least 4 C copies (one per
update if U < 4 C), with a period of at most 100 (discern_target.py); a run that makes fewer than
C copies warns at its start, and Table 1 marks its cell "cannot train" (`budget_problem`).

Rainbow parts: double Q, dueling, n-step. Not included: C51 (returns lie in [0, 1]; a scalar Q
with a Huber loss), prioritised replay, noisy nets (rlpyt's Rainbow has none either; exploration
is the trainer's epsilon-greedy with the shared schedule). The DISCERN table of docs/design.md
lists every choice and why.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glamor_mini.agents import (
    Agent,
    NonFiniteLossError,
    Policy,
    register_agent,
    seed_offset,
)
from glamor_mini.baselines.discern_target import target_schedule
from glamor_mini.envs.base import GoalSet, Task, obs_shape
from glamor_mini.models import GoalTimeTorso
from glamor_mini.options import options_from, register_options
from glamor_mini.replay import ReplayBuffer
from glamor_mini.utils import frame_fingerprint as _fingerprint


# ---------------------------------------------------------------------------------- networks
class DiscernQNet(GoalTimeTorso):
    """Q(. | s_t, g, t): goal- and time-conditioned action values over n_actions.

    obs: (B, C, H, W) uint8 frame stack of s_t    goal: (B, c, H, W) uint8 one goal frame
    t: (B,) long, the step within the episode, 0..T-1          -> (B, n_actions) float
    """

    time_name = "t"

    def __init__(self, *args, dueling: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.dueling = bool(dueling)
        self.advantage = nn.Linear(self.state_size, self.n_actions)
        self.value = nn.Linear(self.state_size, 1) if dueling else None

    def forward(
        self, obs: Tensor, goal: Tensor, t: Tensor, goal_features: Tensor | None = None
    ) -> Tensor:
        h = self.features(obs, goal, t, goal_features)  # goal_features: see GoalTimeTorso
        adv = self.advantage(h)
        if self.value is None:
            return adv
        return self.value(h) + adv - adv.mean(dim=1, keepdim=True)


class Discriminator(nn.Module):
    """xi: frames -> unit vectors, on the Q-network's goal-encoder features under stop-gradient.

    features: (B, S) float (already detached)  ->  (B, embed_size), each row of L2 norm 1.
    """

    def __init__(self, state_size: int, embed_size: int = 64):
        super().__init__()
        self.proj = nn.Linear(state_size, embed_size)

    def forward(self, features: Tensor) -> Tensor:
        return F.normalize(self.proj(features.float()), dim=-1)


# ---------------------------------------------------------------------------------- acting
class GreedyQPolicy:
    """argmax_a Q(s, g, t = T - steps_left, a) for a batch of slots (policies.py interface).
    Never stops early: DISCERN's episodes last T steps. Ties go to the lowest action index."""

    def __init__(self, qnet: DiscernQNet):
        self.qnet = qnet

    @torch.no_grad()
    def act(
        self, slots: Tensor, obs: Tensor, goal: Tensor, steps_left: Tensor, new_episode: Tensor
    ) -> tuple[Tensor, Tensor]:
        device = next(self.qnet.parameters()).device
        t = (self.qnet.horizon - steps_left).clamp(min=0)
        q = self.qnet(obs.to(device), goal.to(device), t.to(device))
        return q.argmax(dim=1).cpu(), torch.zeros(len(slots), dtype=torch.bool)


# ---------------------------------------------------------------------------------- batches
@dataclass
class DiscernBatch:
    """n-step transitions with their trajectory's final frame and (possibly relabelled) goal.

    obs, next_obs: (B, C, H, W) uint8 frame stacks of s_t and s_{t+m}
    action: (B,) long a_t          t, t_next: (B,) long steps of s_t and s_{t+m}
    m: (B,) long in 1..n, steps to s_{t+m}    done: (B,) bool, s_{t+m} is the trajectory's final
    final: (B, c, H, W) uint8 last frame of the final state s_T    goal: (B, c, H, W) uint8
    goal_idx: (B,) long, the commanded goal's index in the goal set, -1 where relabelled
    decoys: (K, c, H, W) uint8 goal-set frames (shared by the batch)
    decoy_is_goal: (B, K) bool, the decoy's frame equals the row's goal frame (masked out)
    """

    obs: Tensor
    action: Tensor
    t: Tensor
    next_obs: Tensor
    t_next: Tensor
    m: Tensor
    done: Tensor
    final: Tensor
    goal: Tensor
    goal_idx: Tensor
    decoys: Tensor
    decoy_is_goal: Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> DiscernBatch:
        return DiscernBatch(
            **{k: v.to(device, non_blocking=non_blocking) for k, v in vars(self).items()}
        )


# ---------------------------------------------------------------------------------- the agent
@dataclass(frozen=True)
class DiscernOptions:
    """DISCERN's own options: the Config fields ``discern_<name>`` (``--discern_beta`` ...; their
    docs are in config.Config). Registered with `options.register_options` for --help."""

    n_step: int
    gamma: float
    decoys: int
    beta: float
    relabel: float
    target_period: int
    xi_hindsight: bool
    dueling: bool
    embed_size: int

    @classmethod
    def from_config(cls, cfg: Any) -> DiscernOptions:
        return options_from(cls, cfg, prefix="discern_")


register_options("DISCERN", DiscernOptions, prefix="discern_")


@register_agent("discern")
class DiscernAgent(Agent):
    """DISCERN in Algorithm 1's loop: greedy-Q collection (the trainer adds epsilon-greedy),
    greedy-Q evaluation for T steps, and one `update` = one xi step + one Q step."""

    name = "DISCERN"

    def __init__(self, cfg: Any, task: Task, train_goals: GoalSet, device: torch.device):
        super().__init__(cfg, task, train_goals, device)
        self.horizon = int(task.horizon)
        opts = DiscernOptions.from_config(cfg)
        self.n_step = int(opts.n_step)
        self.gamma = float(opts.gamma)
        self.k_decoys = int(opts.decoys)
        self.beta = float(opts.beta) if opts.beta > 0 else float(self.k_decoys + 1)
        self.relabel = float(opts.relabel)
        # discern_target_period, or (0) sized to the run (discern_target.py)
        self.schedule = target_schedule(cfg, horizon=self.horizon)
        self.target_period = self.schedule.period
        self.xi_hindsight = bool(opts.xi_hindsight)
        self.qnet = DiscernQNet.from_config(
            cfg,
            obs_shape(task),
            task.frame_shape,
            task.n_actions,
            self.horizon,
            dueling=opts.dueling,
        ).to(device)
        self.target = copy.deepcopy(self.qnet).requires_grad_(False)
        self.xi = Discriminator(cfg.state_size, opts.embed_size).to(device)
        self.q_optimizer = torch.optim.Adam(self.qnet.parameters(), lr=cfg.lr)
        self.xi_optimizer = torch.optim.Adam(self.xi.parameters(), lr=cfg.lr)
        self.goal_frames = torch.as_tensor(train_goals.frames)  # (G, c, H, W) uint8, CPU
        # on the agent's device (where the replay lives): its draws need no host-to-device copy
        self.generators["discern"] = torch.Generator(device).manual_seed(
            seed_offset(cfg.seed, "agent")
        )
        self.updates = 0
        self._greedy = GreedyQPolicy(self.qnet)

    # -------------------------------------------------------------- acting
    def collect_policy(self) -> Policy:
        return self._greedy

    def eval_policy(self, seed: int) -> Policy:
        return self._greedy  # deterministic: the seed is not needed

    @property
    def acting(self) -> dict:
        return {
            "policy": {"act": "greedy argmax Q", "conditioned_on": "goal and t (sin/cos)"},
            "discern": {
                "n_step": self.n_step,
                "gamma": self.gamma,
                "decoys": self.k_decoys,
                "beta": self.beta,
                "relabel": self.relabel,
                "target_period": self.target_period,
                "target_period_sized": self.schedule.auto,
                "target_copies": self.schedule.copies,
                "target_copies_needed": self.schedule.needed,
                "xi_hindsight": self.xi_hindsight,
                "dueling": self.qnet.dueling,
            },
        }

    def modules(self) -> dict[str, nn.Module]:
        return {"q": self.qnet, "q_target": self.target, "xi": self.xi}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"q": self.q_optimizer, "xi": self.xi_optimizer}

    def extra_state(self) -> dict:
        # target_period: the period this run copies at (read by people; a resumed run sizes it
        # again from its own config, e.g. a larger total_steps)
        return {"updates": self.updates, "target_period": self.target_period}

    def load_extra_state(self, state: dict) -> None:
        self.updates = int(state.get("updates", 0))

    @classmethod
    def budget_problem(cls, cfg: Any) -> str | None:
        """Why a run of `cfg` cannot train, as 'cannot train (C target copies needed, N made)',
        when its target network is copied fewer than C = ceil(T / n) times
        (discern_target.py); else None."""
        if cfg.horizon < 1:
            return None  # unresolved (grid world: derived from the layout)
        return target_schedule(cfg).short

    # -------------------------------------------------------------- sampling
    def sample(self, replay: ReplayBuffer, batch_size: int) -> DiscernBatch:
        """n-step transitions, uniform over every stored step (vectorised, on self.device)."""
        g = self.generators["discern"]  # on self.device, the replay's device
        pos = replay.sample_positions(batch_size, with_action=True)  # (B,) absolute
        dev = pos.device
        left = replay.steps_to_end(pos)  # >= 1
        m = left.clamp(max=self.n_step)
        nxt = pos + m
        final_pos = pos + left
        goal_idx = replay.goal_at(pos)
        coin = torch.rand(batch_size, generator=g, device=dev) < self.relabel
        relabel = coin | (goal_idx < 0)
        goal_idx = torch.where(relabel, torch.full_like(goal_idx, -1), goal_idx)
        final = replay.frame_at(final_pos)
        goal_frames = self._goal_frames(dev)
        commanded = goal_frames[goal_idx.clamp(min=0)]
        goal = torch.where(relabel.view(-1, 1, 1, 1), final, commanded)
        decoy_idx = torch.randint(len(goal_frames), (self.k_decoys,), generator=g, device=dev)
        decoys = goal_frames[decoy_idx]
        batch = DiscernBatch(
            obs=replay.stack_at(pos),
            action=replay.action_at(pos),
            t=replay.step_index(pos),
            next_obs=replay.stack_at(nxt),
            t_next=replay.step_index(nxt),
            m=m,
            done=left <= self.n_step,
            final=final,
            goal=goal,
            goal_idx=goal_idx,
            decoys=decoys,
            decoy_is_goal=_fingerprint(goal).view(-1, 1) == _fingerprint(decoys).view(1, -1),
        )
        return batch.to(self.device, non_blocking=True)

    def _goal_frames(self, device: torch.device) -> Tensor:
        """The goal set's frames (G, c, H, W) uint8 on `device` (the replay's), copied once."""
        if self.goal_frames.device != device:
            self.goal_frames = self.goal_frames.to(device)
        return self.goal_frames

    # -------------------------------------------------------------- reward model
    def embed(self, frames: Tensor) -> Tensor:
        """xi of single frames (B, c, H, W) uint8 -> (B, E) unit vectors; the goal encoder's
        features are detached, so xi's loss never reaches the Q-network (the stop-gradient)."""
        return self.xi(self.qnet.goal_encoder(frames).detach())

    @torch.no_grad()
    def final_reward(
        self, final: Tensor, goal: Tensor, embedded: tuple[Tensor, Tensor] | None = None
    ) -> Tensor:
        """r_T = max(0, xi(s_T) . xi(g)): final, goal (B, c, H, W) uint8 -> (B,) in [0, 1].
        `embedded`: (xi(final), xi(goal)) when the caller has them, from the current xi."""
        z_s, z_g = embedded if embedded is not None else (self.embed(final), self.embed(goal))
        return (z_s * z_g).sum(dim=1).clamp(min=0.0)

    def embed_batch(
        self, batch: DiscernBatch, goal_features: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """xi of the batch's final frames, goals and decoys: (B, E), (B, E), (K, E), xi in float32
        on goal-encoder features without a graph (`goal_features`: goal_encoder(batch.goal))."""
        enc = self.qnet.goal_encoder
        with torch.no_grad():
            f_s, f_d = enc(batch.final), enc(batch.decoys)
            f_g = enc(batch.goal) if goal_features is None else goal_features.detach()
        with torch.autocast(self.device.type, enabled=False):  # xi is a head: float32
            return self.xi(f_s), self.xi(f_g), self.xi(f_d)

    def discriminator_loss(
        self, batch: DiscernBatch, embedded: tuple[Tensor, Tensor, Tensor] | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Cross-entropy of picking the row's goal among the K decoys from the final frame,
        logits beta * cosine; decoys that are the goal itself are masked out. Rows whose goal
        was relabelled (goal = their own final frame) take part when discern_xi_hindsight is
        on. -> (loss, stats), scalars; stats: xi_accuracy, top-1 over the commanded rows (at
        chance while the policy is random, whatever xi is), and reward_decoy, the mean r_T of
        a final frame for the decoys that are other states (the reward matrix's off-diagonal;
        r_T = 1 on the diagonal: their gap is the reward's contrast). `embedded`: the
        batch's `embed_batch`, when the caller has it."""
        commanded = batch.goal_idx >= 0
        rows = torch.ones_like(commanded) if self.xi_hindsight else commanded
        z_s, z_g, z_d = embedded if embedded is not None else self.embed_batch(batch)
        pos = (z_s * z_g).sum(dim=1, keepdim=True)  # (B, 1)
        neg = z_s @ z_d.T  # (B, K)
        logits = self.beta * torch.cat([pos, neg.masked_fill(batch.decoy_is_goal, -torch.inf)], 1)
        ce = F.cross_entropy(logits.float(), torch.zeros_like(batch.goal_idx), reduction="none")
        w = rows.float()
        loss = (ce * w).sum() / w.sum().clamp(min=1.0)
        wc = commanded.float()
        acc = ((logits.argmax(dim=1) == 0).float() * wc).sum() / wc.sum().clamp(min=1.0)
        other = (_fingerprint(batch.final).view(-1, 1) != _fingerprint(batch.decoys)).float()
        r_decoy = (neg.detach().float().clamp(min=0.0) * other).sum() / other.sum().clamp(min=1.0)
        return loss, {"xi_accuracy": acc.detach(), "reward_decoy": r_decoy}

    # -------------------------------------------------------------- Q-learning
    @torch.no_grad()
    def q_targets(
        self, batch: DiscernBatch, reward: Tensor, goal_features: Tensor | None = None
    ) -> Tensor:
        """n-step double-DQN targets (B,): gamma^(m-1) r_T where s_{t+m} is final (no bootstrap
        past the last step), else gamma^n Q_target(s_{t+n}, argmax_a Q_online(s_{t+n}, a)).
        `goal_features`: the online network's goal_encoder(batch.goal), when the caller has it."""
        online = {} if goal_features is None else {"goal_features": goal_features.detach()}
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            a_star = self.qnet(batch.next_obs, batch.goal, batch.t_next, **online).argmax(dim=1)
            q_next = self.target(batch.next_obs, batch.goal, batch.t_next)
        q_next = q_next.float().gather(1, a_star.view(-1, 1)).squeeze(1)
        discount = self.gamma ** batch.m.float()
        return torch.where(batch.done, discount / self.gamma * reward, discount * q_next)

    def update(self, batch: DiscernBatch) -> dict[str, Tensor]:
        """One xi step (discriminator) and one Q step; copies Q to the target every
        `target_period` updates (discern_target_period, or sized to the run). The online goal
        encoder sees batch.goal once, its features shared by xi, the double-DQN action choice
        (both detached) and the Q step (tests/test_discern.py: equal to the parts apart)."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            e_goal = self.qnet.goal_encoder(batch.goal)  # (B, S), with its graph
            z_s, z_g, z_d = self.embed_batch(batch, goal_features=e_goal)
            xi_loss, xi_stats = self.discriminator_loss(batch, (z_s, z_g, z_d))
        reward = self.final_reward(batch.final, batch.goal, embedded=(z_s.detach(), z_g.detach()))
        y = self.q_targets(batch, reward, goal_features=e_goal)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            q_all = self.qnet(batch.obs, batch.goal, batch.t, goal_features=e_goal)
        q = q_all.float().gather(1, batch.action.view(-1, 1)).squeeze(1)
        q_loss = F.smooth_l1_loss(q, y)
        total = q_loss + xi_loss
        # like Agent.step_optimizer: checked here on CPU only (on a GPU the trainer checks the
        # logged losses once per log interval, without a sync per update)
        if total.device.type == "cpu" and not torch.isfinite(total.detach()).item():
            raise NonFiniteLossError(
                f"{self.name}: the loss became {total.item()} (q {q_loss.item()}, xi "
                f"{xi_loss.item()}) — check lr and the discern_* settings"
            )
        self.q_optimizer.zero_grad(set_to_none=True)
        self.xi_optimizer.zero_grad(set_to_none=True)
        total.backward()  # the two losses touch disjoint parameters (stop-gradient)
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.qnet.parameters(), self.cfg.grad_clip)
            torch.nn.utils.clip_grad_norm_(self.xi.parameters(), self.cfg.grad_clip)
        self.q_optimizer.step()
        self.xi_optimizer.step()
        self.updates += 1
        if self.updates % self.target_period == 0:
            self.target.load_state_dict(self.qnet.state_dict())
        cmd = (batch.goal_idx >= 0).float()
        return {
            "loss": total.detach(),
            "q_loss": q_loss.detach(),
            "reward_loss": xi_loss.detach(),
            "xi_accuracy": xi_stats["xi_accuracy"],
            "q_mean": q.detach().mean(),
            "reward_commanded": (reward * cmd).sum() / cmd.sum().clamp(min=1.0),
            "reward_decoy": xi_stats["reward_decoy"],
        }


__all__ = [
    "DiscernAgent",
    "DiscernBatch",
    "DiscernQNet",
    "Discriminator",
    "GreedyQPolicy",
]
