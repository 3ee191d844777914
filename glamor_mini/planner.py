"""Planning with the learned models: Eq. 8 by random shooting (paper §3.3-3.4, §4.7, App. A.3).

Eq. 8 picks the action sequence that maximises

    gamma^k * p_theta(a_1..a_k, END | s, g) / p_phi(a_1..a_k, END | s)

so, in logs, with the per-token ratio  z_i(a) = log p_theta(a | ...) - log p_phi(a | ...),

    score(a_1..a_k) = sum_{i=1}^{k+1} z_i(token_i) + k * log(gamma)        (token_{k+1} = END)

Random shooting: N candidates per start state are sampled *autoregressively and in parallel*
from softmax(z_i) (Boltzmann, temperature 1), each accumulating its score; the best one wins.
All B start states x N candidates are rows of one batch: there is no Python loop over candidates,
only over plan positions (at most T - t + 1 of them).

Rules (docs/method.md):
  * clip-p-actions: a token whose log p_theta is below `clip` gets z = -20 (nearly excluded).
  * END may not be sampled first; it is forced at position max_len (plans have <= T - t actions).
  * termination='early' (default): the empty plan [END] (score z_1(END), "I am already there")
    competes with the N sampled candidates; when it wins the agent ends its episode.
    termination='plan_end': END is masked until exactly position max_len: plans end at T.
    termination='naive_end': like 'early' but the empty plan never competes (END is ignored by the
    agent, which keeps taking shortest-path plans until T).
  * mode='guided' samples from softmax(z); 'sparse' samples tokens uniformly among the allowed ones
    and only uses the Eq. 8 score to choose (§4.7.3); 'no_prior' uses z = log p_theta.
  * How sparse candidates get their length: END is one of the allowed tokens and is drawn
    uniformly like any action (never first, forced at max_len), so with A actions a candidate
    has k < max_len actions with probability (A / (A + 1))^(k - 1) / (A + 1), and max_len
    actions otherwise: random sequences of every length, each scored by Eq. 8 including its END
    token. (A sparse planner that never sampled END would only compare plans of length T - t.)

Everything here is @torch.no_grad and device-agnostic; randomness comes from a torch.Generator
on the model's device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from glamor_mini.models import GlamorModel, sequence_tokens

CLIPPED_Z = -20.0
"""z given to tokens below the clip-p-actions threshold (the authors' value; not -inf)."""

MODES = ("guided", "sparse", "no_prior")
TERMINATIONS = ("early", "plan_end", "naive_end")


@dataclass(frozen=True)
class PlannerSettings:
    n_candidates: int = 50
    gamma: float = 0.99
    clip: float | None = -3.15
    mode: str = "guided"
    termination: str = "early"
    use_prior: bool = True
    """False drops the prior from z everywhere (Fig. 6: prior off during collection)."""

    def __post_init__(self) -> None:
        if self.n_candidates < 1:
            raise ValueError(f"n_candidates={self.n_candidates} must be >= 1")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma={self.gamma} must be in (0, 1]")
        if self.mode not in MODES:
            raise ValueError(f"mode={self.mode!r} is not accepted; choose one of {MODES}")
        if self.termination not in TERMINATIONS:
            raise ValueError(f"termination={self.termination!r}; choose one of {TERMINATIONS}")

    @classmethod
    def from_config(cls, cfg, collect: bool = False) -> PlannerSettings:
        """The evaluation planner a Config describes, or (collect=True) the collection planner
        (always guided with END allowed; Fig. 6's ablations change its N and prior)."""
        if collect:
            return cls(
                cfg.collect_n_candidates or cfg.n_candidates,
                cfg.gamma,
                cfg.clip_p_actions,
                "guided",
                "early",
                use_prior=cfg.collect_prior,
            )
        return cls(
            cfg.n_candidates, cfg.gamma, cfg.clip_p_actions, cfg.planner_mode, cfg.termination
        )

    @property
    def prior_used(self) -> bool:
        return self.use_prior and self.mode != "no_prior"

    @property
    def clip_threshold(self) -> float | None:
        return self.clip if self.clip is not None and self.clip < 0 else None


@dataclass
class Plan:
    """Best plan per start state (B rows), and optionally every candidate.

    actions: (B, L) long, -1 past each plan's length   length: (B,) long   score: (B,) float
    candidates: (B, N, L) long | None   candidate_length: (B, N) | None   candidate_score: (B, N)
    """

    actions: Tensor
    length: Tensor
    score: Tensor
    candidates: Tensor | None = None
    candidate_length: Tensor | None = None
    candidate_score: Tensor | None = None

    @property
    def is_end(self) -> Tensor:
        """(B,) bool: the best plan is [END] (the agent should stop here)."""
        return self.length == 0


def token_z(lp_inv: Tensor, lp_prior: Tensor | None, clip: float | None) -> Tensor:
    """Per-token Eq. 8 ratio z = log p_theta - log p_phi (or log p_theta without a prior), with
    tokens below the clip-p-actions threshold set to CLIPPED_Z. Shapes broadcast."""
    z = lp_inv if lp_prior is None else lp_inv - lp_prior
    if clip is not None:
        z = torch.where(lp_inv < clip, torch.full_like(z, CLIPPED_Z), z)
    return z


def _gumbel_argmax(logits: Tensor, generator: torch.Generator | None) -> Tensor:
    """Sample from softmax(logits) (rows of -inf excluded) by the Gumbel-max trick."""
    u = torch.rand(logits.shape, device=logits.device, generator=generator)
    g = -torch.log(-torch.log(u.clamp_(1e-20, 1.0 - 1e-7)))
    return (logits + g).argmax(dim=-1)


@torch.no_grad()
def plan(
    model: GlamorModel,
    obs: Tensor,
    goal: Tensor,
    max_len: Tensor | int,
    settings: PlannerSettings,
    generator: torch.Generator | None = None,
    return_candidates: bool = False,
) -> Plan:
    """Plan for B start states at once.

    obs: (B, C, H, W) uint8   goal: (B, c, H, W) uint8   max_len: (B,) long or int, the most
    actions a plan may hold (T - t). Returns a Plan whose tensors live on the model's device.
    """
    for name, x in (("obs", obs), ("goal", goal)):  # the encoders divide by 255 themselves
        if not isinstance(x, Tensor) or x.dtype != torch.uint8:
            raise TypeError(
                f"plan(): {name} must be a uint8 tensor of raw pixels (0..255); got "
                f"{getattr(x, 'dtype', type(x).__name__)} (convert with torch.as_tensor(x, "
                "dtype=torch.uint8), not by dividing by 255)"
            )
    model.check_inputs(obs, goal)
    device = next(model.parameters()).device
    obs, goal = obs.to(device, non_blocking=True), goal.to(device, non_blocking=True)
    B, N, A = obs.shape[0], settings.n_candidates, model.n_actions
    END = model.end_token
    if isinstance(max_len, int):
        max_len = torch.full((B,), max_len, dtype=torch.long)
    max_len = max_len.to(device=device, dtype=torch.long)
    if (max_len < 0).any():
        raise ValueError("max_len must be >= 0 (plans hold at most T - t actions)")
    L = int(max_len.max().item()) if B else 0
    clip = settings.clip_threshold
    use_prior = settings.prior_used

    ctx_inv, ctx_pri = model.contexts(obs, goal)
    st_inv = model.inverse.start(ctx_inv).repeat_interleave(N)
    st_pri = model.prior.start(ctx_pri).repeat_interleave(N) if use_prior else None
    ml = max_len.repeat_interleave(N)  # (BN,)
    BN = B * N
    prev = torch.full((BN,), A, dtype=torch.long, device=device)
    score = torch.zeros(BN, device=device)
    length = torch.zeros(BN, dtype=torch.long, device=device)
    done = torch.zeros(BN, dtype=torch.bool, device=device)
    actions = torch.full((BN, max(L, 1)), -1, dtype=torch.long, device=device)
    tok_ids = torch.arange(A + 1, device=device)
    empty_score = torch.zeros(B, device=device)

    for i in range(L + 1):
        logits, st_inv = model.inverse.step(st_inv, prev)
        lp_inv = torch.log_softmax(logits, dim=-1)
        lp_pri = None
        if use_prior:
            logits_p, st_pri = model.prior.step(st_pri, prev)
            lp_pri = torch.log_softmax(logits_p, dim=-1)
        z = token_z(lp_inv, lp_pri, clip)  # (BN, A+1)
        if i == 0:
            empty_score = z[::N, END]
        # which tokens may be sampled at position i
        forced = (ml == i).unsqueeze(1)  # (BN, 1): the last allowed position: END only
        is_end_col = (tok_ids == END).unsqueeze(0)  # (1, A+1)
        if settings.termination == "plan_end":
            allowed = torch.where(is_end_col, forced, ~forced)
        else:
            end_ok = torch.full_like(forced, i > 0) | forced
            allowed = torch.where(is_end_col, end_ok, ~forced)
        if settings.mode == "sparse":
            sample_logits = torch.where(allowed, 0.0, -math.inf)
        else:
            sample_logits = torch.where(allowed, z, torch.full_like(z, -math.inf))
        tok = _gumbel_argmax(sample_logits, generator)
        tok = torch.where(done, torch.full_like(tok, END), tok)
        score += torch.where(done, 0.0, z.gather(1, tok.unsqueeze(1)).squeeze(1))
        is_action = tok != END
        if i < L:
            actions[:, i] = torch.where(is_action, tok, -1)
        length += is_action.long()
        done |= ~is_action
        prev = torch.where(is_action, tok, prev)
        if bool(done.all()):
            break

    score = score + length.float() * math.log(settings.gamma)
    cand_score = score.view(B, N)
    best = cand_score.argmax(dim=1)
    rows = torch.arange(B, device=device)
    cand_actions = actions.view(B, N, -1)
    cand_len = length.view(B, N)
    out_actions = cand_actions[rows, best]
    out_len = cand_len[rows, best]
    out_score = cand_score[rows, best]
    if settings.termination == "early":
        take_empty = (empty_score > out_score) | (max_len == 0)
    else:
        take_empty = max_len == 0
    out_actions = torch.where(take_empty.unsqueeze(1), -1, out_actions)
    out_len = torch.where(take_empty, 0, out_len)
    out_score = torch.where(take_empty, empty_score, out_score)
    result = Plan(out_actions[:, : max(L, 1)], out_len, out_score)
    if return_candidates:
        result.candidates, result.candidate_length = cand_actions, cand_len
        result.candidate_score = cand_score
    return result


@torch.no_grad()
def score(
    model: GlamorModel,
    obs: Tensor,
    goal: Tensor,
    actions: Tensor,
    lengths: Tensor,
    gamma: float,
    clip: float | None = -3.15,
    use_prior: bool = True,
) -> Tensor:
    """The Eq. 8 score of given action sequences, by teacher forcing (an independent path from the
    planner's step-by-step sampling).

    obs: (B, C, H, W), goal: (B, c, H, W), actions: (B, L) long padded, lengths: (B,) -> (B,)
    """
    model.check_inputs(obs, goal)
    device = next(model.parameters()).device
    obs, goal = obs.to(device), goal.to(device)
    actions, lengths = actions.to(device), lengths.to(device)
    prev, targets, mask = sequence_tokens(actions, lengths, model.n_actions)
    lp_inv, lp_pri = model.log_probs(obs, goal, prev)
    clip = clip if clip is not None and clip < 0 else None
    z = token_z(lp_inv, lp_pri if use_prior else None, clip)
    zt = z.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (zt * mask).sum(1) + lengths.float() * math.log(gamma)
