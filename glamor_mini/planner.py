"""Planning with the learned models: Eq. 8 by random shooting (paper §3.3-3.4, §4.7, App. A.3).

Eq. 8 picks the action sequence that maximises

    gamma^k * p_theta(a_1..a_k, END | s, g) / p_phi(a_1..a_k, END | s)

so, in logs, with the per-token ratio  z_i(a) = log p_theta(a | ...) - log p_phi(a | ...),

    score(a_1..a_k) = sum_{i=1}^{k+1} z_i(token_i) + k * log(gamma)        (token_{k+1} = END)

Random shooting: N candidates per start state are sampled *autoregressively and in parallel*
from softmax(z_i) (Boltzmann, temperature 1), each accumulating its score; the best one wins.
All B start states x N candidates are rows of one batch: there is no Python loop over candidates,
only over plan positions (at most T - t + 1 of them).

Rules (docs/design.md):
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

from glamor_mini.config import check_choice
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


# ----------------------------------------------------------------------------------- fused heads
_GATE_ORDER = (0, 1, 3, 2)
"""nn.LSTM packs its gates as (i, f, g, o); the fused step packs them as (i, f, o, g)."""


class FusedHeads:
    """The planner's view of the two sequence heads (§3.4): both LSTMs advanced together.

    Each head's LSTM input is proj(ctx) + embed[a_{i-1}] (models.SequenceHead), so its input-gate
    term splits into a per-row constant, base = W_ih proj(ctx) + b_ih + b_hh, computed once per
    plan, and a per-token table, W_ih embed: (A+1, 4H), looked up by the previous token (no input
    matmul per position). With the heads stacked on a leading dim of size nh, one position is

        gates  = sigmoid(table[prev] + base + h @ W_hh)      (nh, n, 4H): ONE batched matmul
        c      = f * c + i * g,   h = o * tanh(c)            (the nn.LSTM equations)
        lp     = log_softmax(h @ W_out + b_out)              (nh, n, A+1): ONE batched matmul

    where tanh is taken as 2 sigmoid(2x) - 1 (the g gate's weights are stored doubled, so a
    single sigmoid covers all four gates; sigmoid is the cheaper kernel on CPU). Identical maths
    to SequenceHead.step per head (tested to float precision), in ~12 ops per position instead
    of ~25. nh = 2 (inverse model, prior)
    or 1 (no prior).

    Built on the weights' device from device tensors only (no host-to-device copy, no CPU index
    into device weights: tests/test_device_path.py counts both), and rebuilt by every plan():
    a cache keyed by the weights' version counters would serve stale weights, because a fused
    AdamW step updates the parameters without bumping those counters (tested).
    """

    def __init__(self, model: GlamorModel, use_prior: bool):
        heads = [model.inverse, model.prior] if use_prior else [model.inverse]
        self.heads, self.nh, self.H = heads, len(heads), heads[0].lstm.hidden_size
        H, w = self.H, heads[0].out.weight
        # built on the weights' device: no host-to-device copy, no CPU index into device weights
        perm = torch.cat([torch.arange(g * H, (g + 1) * H, device=w.device) for g in _GATE_ORDER])
        scale = torch.ones(4 * H, dtype=w.dtype, device=w.device)
        scale[3 * H :] = 2.0  # the g gate: tanh(x) = 2 sigmoid(2x) - 1
        self.w_ih = [(h.lstm.weight_ih_l0[perm] * scale[:, None]).t() for h in heads]  # (H, 4H)
        self.bias = [(h.lstm.bias_ih_l0 + h.lstm.bias_hh_l0)[perm] * scale for h in heads]
        self.w_hh = torch.stack([(h.lstm.weight_hh_l0[perm] * scale[:, None]).t() for h in heads])
        self.table = torch.stack(
            [h.act_embed.weight @ w for h, w in zip(heads, self.w_ih, strict=True)]
        )
        self.w_out = torch.stack([h.out.weight.t() for h in heads])  # (nh, H, A+1)
        self.b_out = torch.stack([h.out.bias for h in heads]).unsqueeze(1)  # (nh, 1, A+1)

    def start(self, contexts: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Per-head contexts (B, S) -> h0, c0: (nh, B, H) and base: (nh, B, 4H)."""
        zipped = zip(self.heads, contexts, self.w_ih, self.bias, strict=True)
        h, c, base = [], [], []
        for head, ctx, w_ih, bias in zipped:
            h.append(head.init_h(ctx))
            c.append(head.init_c(ctx))
            base.append(torch.addmm(bias, head.ctx_proj(ctx), w_ih))
        return torch.stack(h), torch.stack(c), torch.stack(base)

    def step(self, h: Tensor, c: Tensor, base: Tensor, prev: Tensor) -> tuple[Tensor, ...]:
        """h, c: (nh, n, H); base: (nh, n, 4H); prev: (n,) long -> log-probs (nh, n, A+1), h, c."""
        H = self.H
        x = self.table.index_select(1, prev).add_(base).baddbmm_(h, self.w_hh).sigmoid_()
        g = x[..., 3 * H :].mul_(2.0).sub_(1.0)
        c = torch.addcmul(x[..., H : 2 * H] * c, x[..., :H], g)
        o = x[..., 2 * H : 3 * H]
        h = torch.addcmul(-o, o, (c * 2.0).sigmoid_(), value=2.0)  # o * tanh(c)
        return torch.baddbmm(self.b_out, h, self.w_out).log_softmax(-1), h, c


def _sample(z: Tensor, n_cols: int, sparse: bool, generator: torch.Generator | None) -> Tensor:
    """A token per row among the first n_cols columns of z (n, A+1): from softmax(z) by the
    Gumbel-max trick, argmax(z - log(-log u)) with u ~ U[0, 1), or uniformly when sparse."""
    n = z.shape[0]
    if sparse:
        return torch.randint(n_cols, (n,), device=z.device, generator=generator)
    g = torch.rand((n, n_cols), device=z.device, generator=generator).log_().neg_().log_()
    return (z[:, :n_cols] - g).argmax(1)


def _plan_lengths(max_len: Tensor | int, B: int, device: torch.device) -> tuple[Tensor, int, bool]:
    """plan()'s max_len checked: ((B,) long on `device`, the longest L, whether all are L).
    An int or a CPU tensor costs no device read; a device tensor is read once."""
    if isinstance(max_len, int):
        if max_len < 0:
            raise ValueError("max_len must be >= 0 (plans hold at most T - t actions)")
        return torch.full((B,), max_len, dtype=torch.long, device=device), max_len, True
    host_len = max_len.detach().cpu()  # a no-op for the CPU tensors policies pass
    if host_len.shape != (B,):
        raise ValueError(f"max_len must be an int or a (B,) = ({B},) tensor")
    if B and bool((host_len < 0).any()):
        raise ValueError("max_len must be >= 0 (plans hold at most T - t actions)")
    L = int(host_len.max()) if B else 0
    uniform = not B or bool((host_len == L).all())
    return max_len.to(device=device, dtype=torch.long, non_blocking=True), L, uniform


def _dense_records(
    rec_tok: list[Tensor], rec_z: list[Tensor], rec_rows: list[Tensor] | None, BN: int, END: int
) -> tuple[Tensor, Tensor]:
    """plan()'s per-position records as dense (P, BN) grids: each candidate's token and the z of
    that token. `rec_rows` (compact mode): which candidates each position ran; a candidate that
    had left (drawn END) gets END and z 0 at the later positions."""
    P = len(rec_tok)  # positions run
    if rec_rows is None:
        toks = torch.stack(rec_tok)  # (P, BN)
        return toks, torch.stack(rec_z).gather(2, toks.unsqueeze(2)).squeeze(2)
    device = rec_tok[0].device
    pos = torch.repeat_interleave(
        torch.arange(P, device=device),
        torch.tensor([t.shape[0] for t in rec_tok], device=device),
    )
    r = torch.cat(rec_rows)
    toks = torch.full((P, BN), END, dtype=torch.long, device=device)
    toks[pos, r] = torch.cat(rec_tok)
    zt = torch.zeros(P, BN, device=device)
    zt[pos, r] = torch.cat(rec_z).gather(1, toks[pos, r].unsqueeze(1)).squeeze(1)
    return toks, zt


@torch.no_grad()
def plan(
    model: GlamorModel,
    obs: Tensor,
    goal: Tensor,
    max_len: Tensor | int,
    settings: PlannerSettings,
    generator: torch.Generator | None = None,
    return_candidates: bool = False,
    compact: bool | None = None,
    goal_features: Tensor | None = None,
) -> Plan:
    """Plan for B start states at once: Eq. 8's random shooting (§3.3-3.4), kept in one piece
    (sample N candidates token by token from softmax(z), score them, keep the best) so that it
    reads next to the paper; input checks and the record bookkeeping are the helpers above.

    obs: (B, C, H, W) uint8   goal: (B, c, H, W) uint8   max_len: (B,) long or int, the most
    actions a plan may hold (T - t). Returns a Plan whose tensors live on the model's device.
    generator: a torch.Generator on the model's device (None: torch's default one).

    The loop over positions only samples: each position's tokens and z rows are recorded, and
    which tokens belong to a plan (those up to its first END) is resolved once at the end.
    compact chooses how the B*N candidate rows are advanced (both sample from the same law):
      True  (default on CPU): a candidate leaves the batch once it drew END, so a position only
            costs the candidates still sampling; this reads the device once per position.
      False (default elsewhere): fixed shapes, all L+1 positions, no host-device synchronisation
            at all when max_len is an int or a CPU tensor (a device max_len is read once), so a
            GPU never waits for the host.
    goal_features: model.encode_goal(goal), (B, S), when the caller has it (a closed-loop
    policy encodes an episode's goal once, not at every step); the goal is then not encoded.
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
    if generator is not None and generator.device.type != device.type:
        raise ValueError(
            f"the generator is on {generator.device} but the model on {device}: "
            "pass torch.Generator(device=<the model's device>)"
        )
    compact = device.type == "cpu" if compact is None else compact
    B, N, A = obs.shape[0], settings.n_candidates, model.n_actions
    if goal_features is not None and goal_features.shape[0] != B:
        raise ValueError(f"goal_features has {goal_features.shape[0]} rows for {B} goals")
    END = model.end_token
    max_len, L, uniform = _plan_lengths(max_len, B, device)
    obs, goal = obs.to(device, non_blocking=True), goal.to(device, non_blocking=True)
    clip = settings.clip_threshold
    use_prior = settings.prior_used
    sparse = settings.mode == "sparse"
    plan_end = settings.termination == "plan_end"

    heads = FusedHeads(model, use_prior)  # rebuilt per plan: see FusedHeads
    ctx_inv, ctx_pri = model.contexts(obs, goal, goal_features)
    h, c, base = heads.start([ctx_inv, ctx_pri][: heads.nh])
    h, c, base = (x.repeat_interleave(N, 1) for x in (h, c, base))
    ml = max_len.repeat_interleave(N)  # (BN,)
    BN, W = B * N, max(L, 1)
    prev = torch.full((BN,), A, dtype=torch.long, device=device)
    rows = torch.arange(BN, device=device)  # compact: which candidate each row is
    rec_tok: list[Tensor] = []  # per position: (n_i,) tokens
    rec_z: list[Tensor] = []  # per position: (n_i, A+1) z rows
    rec_rows: list[Tensor] = []  # compact: (n_i,) candidate ids
    for i in range(L + 1):
        lp, h, c = heads.step(h, c, base, prev)
        z = token_z(lp[0], lp[1] if use_prior else None, clip)  # Eq. 8's per-token ratio
        if i == L:  # the last allowed position of every plan: END only
            tok = torch.full_like(prev, END)
        else:  # END may not come first, nor before T with 'plan_end'
            tok = _sample(z, A if (i == 0 or plan_end) else A + 1, sparse, generator)
            if not uniform:
                tok.masked_fill_(ml == i, END)  # rows whose last allowed position is i
        rec_tok.append(tok)
        rec_z.append(z)
        if compact:
            rec_rows.append(rows)
            keep = (tok != END).nonzero().squeeze(1)
            if keep.shape[0] == 0:
                break
            if keep.shape[0] < tok.shape[0]:
                h, c, base = (x.index_select(1, keep) for x in (h, c, base))
                rows, tok = rows.index_select(0, keep), tok.index_select(0, keep)
                if not uniform:
                    ml = ml.index_select(0, keep)
        prev = tok  # (masked: a finished row keeps sampling; its tokens are ignored below)

    toks, zt = _dense_records(rec_tok, rec_z, rec_rows if compact else None, BN, END)
    empty_score = rec_z[0][::N, END]  # z_1(END): the plan [END]
    # a candidate's tokens are those up to and including its first END
    is_end = toks == END
    inside = (is_end.cumsum(0) - is_end.long()) == 0
    is_action = inside & ~is_end
    score = (zt * inside).sum(0)
    length = is_action.sum(0)
    actions = torch.where(is_action, toks, -1).t()[:, :W]
    if actions.shape[1] < W:
        actions = torch.nn.functional.pad(actions, (0, W - actions.shape[1]), value=-1)
    actions = actions.contiguous()

    score = score + length.float() * math.log(settings.gamma)
    cand_score = score.view(B, N)
    best = cand_score.argmax(dim=1)
    rows_b = torch.arange(B, device=device)
    cand_actions = actions.view(B, N, -1)
    cand_len = length.view(B, N)
    out_actions = cand_actions[rows_b, best]
    out_len = cand_len[rows_b, best]
    out_score = cand_score[rows_b, best]
    if settings.termination == "early":
        take_empty = (empty_score > out_score) | (max_len == 0)
    else:
        take_empty = max_len == 0
    out_actions = torch.where(take_empty.unsqueeze(1), -1, out_actions)
    out_len = torch.where(take_empty, 0, out_len)
    out_score = torch.where(take_empty, empty_score, out_score)
    result = Plan(out_actions[:, :W], out_len, out_score)
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


def check_config(cfg) -> None:
    """This module's checks of Config.planner_mode and Config.termination (ConfigError)."""
    check_choice(cfg, "planner_mode", MODES)
    check_choice(cfg, "termination", TERMINATIONS)
