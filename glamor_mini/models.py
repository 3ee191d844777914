"""The inverse dynamics model and the action prior (paper §3.4, §4.2, Fig. 1, Eq. 9).

Both are autoregressive models over variable-length action sequences closed by an END token:

    inverse dynamics  p_theta(a_1 .. a_{k-1}, END | s_1, s_k = g)
    action prior      p_phi  (a_1 .. a_{k-1}, END | s_1)

They share only the observation encoder (Fig. 1). The goal, a single frame, has its own encoder.

Architecture (the authors' implementation details, docs/design.md):

    enc(s)  = Encoder(obs stack)               (B, S)       MLP for grids, IMPALA ResNet for pixels
    enc_g(g)= Encoder(goal frame)              (B, S)
    ctx_inv = MLP([enc(s); enc_g(g)])          (B, S)       'mix'
    ctx_pri = MLP(enc(s))                      (B, S)
    per head: (h0, c0) = Linear(ctx); input_i = Linear([ctx; one_hot(a_{i-1})]); LSTM(64);
              logits_i = Linear(h_i) over n_actions + 1 tokens (the last token is END).

Tokens: actions are 0 .. A-1, END = A. The "previous action" before the first step is an all-zero
one-hot, written as the index A in `prev` tensors (an embedding row fixed at zero).

Two ways to run a head:
  * teacher-forced over a whole sequence (`log_probs`, used by the loss and by `planner.score`);
  * one token at a time (`SequenceHead.start` / `SequenceHead.step`), driven by the planner.
Both run the same nn.LSTM, so they agree to float precision (tested).

Mixed precision (`GlamorModel.amp`, Config.amp, on CUDA and on CPUs with native bfloat16: see
`amp_supported`): the encoders and context MLPs run under bfloat16 autocast; the sequence heads
always run in float32 with autocast switched off, also when a caller wraps the loss in its own
autocast (bf16 gates would coarsen the small log-probability differences Eq. 8 ranks plans by,
and cuDNN's RNN autocast path would re-flatten weights in fp16 every call).
On CUDA, `set_cuda_precision` puts the convolutions on TF32 and keeps matmuls and the LSTMs in
IEEE float32, for every algorithm.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glamor_mini.config import check_choice
from glamor_mini.encoders import (  # noqa: F401  (re-exported: models.ENCODERS, ...)
    ENCODERS,
    ImpalaEncoder,
    KeypointEncoder,
    MLPEncoder,
    make_encoder,
    parse_channels,
)

# ----------------------------------------------------------------------------------- sequence heads


def time_features(t: Tensor, horizon: int) -> Tensor:
    """The periodic time feature of §4.2-4.3: t (B,) -> (B, 2) [sin 2 pi t/T, cos 2 pi t/T].

    GCSL feeds the steps left h = T - t; h = T and h = 0 map to the same point, but h = 0 never
    reaches a policy (an acting agent always has h >= 1; GCSL masks k = 0 rows out of its loss).
    """
    angle = 2.0 * math.pi * t.float() / float(horizon)
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=1)


class GoalTimeTorso(nn.Module):
    """The baselines' shared body (§4.3: "all algorithms use the same encoder architecture"):
    [enc(s); enc_g(g); sin 2 pi t/T; cos 2 pi t/T] -> MLP -> (B, S) features. GCSL puts a policy
    head on it, DISCERN a Q head.

    obs: (B, C, H, W) uint8 frame stack    goal: (B, c, H, W) uint8 one frame
    time: (B,) long, what the subclass conditions on (`time_name`: steps left or step t)
    """

    time_name = "time"

    def __init__(
        self,
        obs_shape: tuple[int, int, int],
        goal_shape: tuple[int, int, int],
        n_actions: int,
        horizon: int,
        encoder: str = "mlp",
        state_size: int = 512,
        mlp_hidden: int = 256,
        impala_channels: tuple[int, ...] = (16, 32, 32),
    ):
        super().__init__()
        if horizon < 1:
            raise ValueError(f"horizon={horizon} must be >= 1")
        self.obs_shape, self.goal_shape = tuple(obs_shape), tuple(goal_shape)
        self.n_actions, self.horizon, self.state_size = n_actions, int(horizon), state_size
        enc = dict(state_size=state_size, mlp_hidden=mlp_hidden, channels=impala_channels)
        self.obs_encoder = make_encoder(encoder, self.obs_shape, **enc)
        self.goal_encoder = make_encoder(encoder, self.goal_shape, **enc)
        self.mix = nn.Sequential(
            nn.Linear(2 * state_size + 2, state_size),
            nn.ReLU(),
            nn.Linear(state_size, state_size),
            nn.ReLU(),
        )

    @classmethod
    def from_config(
        cls,
        cfg,
        obs_shape: tuple[int, int, int],
        goal_shape: tuple[int, int, int],
        n_actions: int,
        horizon: int,
        **extra,
    ):
        """The network described by a Config (GLAMOR's encoder kind and sizes, §4.3); `extra`
        goes to the subclass (e.g. DISCERN's `dueling`)."""
        return cls(obs_shape, goal_shape, n_actions, horizon, **encoder_options(cfg), **extra)

    def check_inputs(self, obs: Tensor, goal: Tensor, time: Tensor) -> None:
        """Clear errors for wrongly shaped inputs."""
        for name, x, shape in (("obs", obs, self.obs_shape), ("goal", goal, self.goal_shape)):
            if x.dim() != 4 or tuple(x.shape[1:]) != shape:
                raise ValueError(
                    f"{name} must have shape (B, {', '.join(map(str, shape))}); "
                    f"got {tuple(x.shape)}"
                )
        if time.dim() != 1 or not goal.shape[0] == obs.shape[0] == time.shape[0]:
            n = self.time_name
            raise ValueError(
                f"obs, goal and {n} need the same batch size B ({n}: (B,)); got "
                f"{tuple(obs.shape)}, {tuple(goal.shape)}, {tuple(time.shape)}"
            )

    def features(
        self, obs: Tensor, goal: Tensor, time: Tensor, goal_features: Tensor | None = None
    ) -> Tensor:
        """-> (B, S) the mixed features of (s, g, time). `goal_features`: this torso's
        goal_encoder(goal), (B, S), when the caller has it already (it is not encoded again)."""
        self.check_inputs(obs, goal, time)
        tf = time_features(time, self.horizon).to(obs.device, self.mix[0].weight.dtype)
        e_g = self.goal_encoder(goal) if goal_features is None else goal_features
        return self.mix(torch.cat([self.obs_encoder(obs), e_g, tf], dim=1))


@dataclass
class HeadState:
    """Recurrent state of one head for a batch of rows: LSTM (h, c) of shape (1, B, H) and the
    context's projection into the LSTM input, (B, H), computed once per plan."""

    h: Tensor
    c: Tensor
    ctx_in: Tensor

    def repeat_interleave(self, n: int) -> HeadState:
        return HeadState(
            self.h.repeat_interleave(n, dim=1),
            self.c.repeat_interleave(n, dim=1),
            self.ctx_in.repeat_interleave(n, dim=0),
        )


class SequenceHead(nn.Module):
    """One autoregressive action-sequence model: an LSTM over tokens, conditioned on a context.

    input_i = W_ctx ctx + W_act one_hot(a_{i-1}) + b  is written as  proj(ctx) + embed[a_{i-1}],
    where embed has a zero row at index n_actions for "no previous action" (identical maths,
    no one-hot tensor built on the hot path).
    """

    def __init__(self, context_size: int, n_actions: int, hidden: int = 64):
        super().__init__()
        self.n_actions = n_actions
        self.init_h = nn.Linear(context_size, hidden)
        self.init_c = nn.Linear(context_size, hidden)
        self.ctx_proj = nn.Linear(context_size, hidden)
        self.act_embed = nn.Embedding(n_actions + 1, hidden, padding_idx=n_actions)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=1, batch_first=True)
        self.out = nn.Linear(hidden, n_actions + 1)

    def start(self, ctx: Tensor) -> HeadState:
        """ctx: (B, S) -> the state before the first token."""
        return HeadState(
            self.init_h(ctx).unsqueeze(0).contiguous(),
            self.init_c(ctx).unsqueeze(0).contiguous(),
            self.ctx_proj(ctx),
        )

    def step(self, state: HeadState, prev: Tensor) -> tuple[Tensor, HeadState]:
        """One token. prev: (B,) long previous action (n_actions = none). -> logits (B, A+1)."""
        x = (state.ctx_in + self.act_embed(prev)).unsqueeze(1)  # (B, 1, H)
        y, (h, c) = self.lstm(x, (state.h, state.c))
        return self.out(y[:, 0]), HeadState(h, c, state.ctx_in)

    def forward(self, ctx: Tensor, prev: Tensor) -> Tensor:
        """Teacher forcing. ctx: (B, S); prev: (B, L) long -> logits (B, L, A+1)."""
        state = self.start(ctx)
        x = state.ctx_in.unsqueeze(1) + self.act_embed(prev)
        y, _ = self.lstm(x, (state.h, state.c))
        return self.out(y)


# ----------------------------------------------------------------------------------- precision
AUTOCAST_DEVICES = ("cpu", "cuda", "xpu", "mps")


def autocast_encoders(device: torch.device, enabled: bool):
    """bfloat16 autocast for the encoders when `enabled` (a no-op context otherwise, and on
    devices without autocast such as 'meta')."""
    if not enabled or device.type not in AUTOCAST_DEVICES:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def amp_supported(device: torch.device) -> bool:
    """Whether bfloat16 autocast (Config.amp) pays on `device`: CUDA, and CPUs with native
    bfloat16 kernels (oneDNN: AVX512-BF16 / AMX), where it makes an IMPALA training update ~1.4x
    faster (bench/amp_learning.py). Elsewhere bf16 is emulated and slower than float32."""
    if device.type == "cuda":
        return True
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def full_precision(device: torch.device):
    """Switch autocast off (the sequence heads run in float32 whatever the caller enabled)."""
    if device.type not in AUTOCAST_DEVICES or not torch.is_autocast_enabled(device.type):
        return contextlib.nullcontext()
    return torch.autocast(device.type, enabled=False)


def set_cuda_precision() -> None:
    """Float32 numerics on CUDA, the same for every algorithm (agents.build_agent calls it):
    TF32 tensor cores (float32 storage, ~10-bit mantissa products) for the encoders'
    convolutions, where the FLOPs are; IEEE float32 for matmuls and cuDNN's LSTM, i.e. the
    sequence heads and the planner that ranks plans by small log-probability differences, and
    the Q / policy heads. (torch's own defaults put cuDNN convolutions AND LSTMs on TF32.)
    No effect on CPU."""
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    torch.backends.cudnn.rnn.fp32_precision = "ieee"
    torch.backends.cuda.matmul.fp32_precision = "ieee"


# ----------------------------------------------------------------------------------- the model


def sequence_tokens(
    actions: Tensor, lengths: Tensor, n_actions: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Build teacher-forcing inputs and targets for action sequences closed by END.

    actions: (B, L) long, padded with anything past each length; lengths: (B,) long, 0 <= k <= L.
    Returns
        prev:    (B, L+1) long  [none, a_1, .., a_L]  (the "none" index is n_actions)
        targets: (B, L+1) long  [a_1, .., a_k, END, pad..] with END = n_actions, pad = -100
        mask:    (B, L+1) bool  True for the k+1 real tokens
    """
    B, L = actions.shape
    pos = torch.arange(L + 1, device=actions.device).expand(B, L + 1)
    k = lengths.view(B, 1)
    body = torch.cat([actions.clamp(min=0), actions.new_zeros(B, 1)], dim=1)
    targets = torch.where(pos < k, body, torch.full_like(body, n_actions))
    mask = pos <= k
    targets = torch.where(mask, targets, torch.full_like(targets, -100))
    prev = torch.cat([actions.new_full((B, 1), n_actions), actions.clamp(min=0)], dim=1)
    return prev, targets, mask


class GlamorModel(nn.Module):
    """Inverse dynamics model + action prior sharing one observation encoder (Fig. 1).

    obs:  (B, C, H, W) uint8, the frame stack of s_1
    goal: (B, c, H, W) uint8, one frame of g = s_k
    """

    def __init__(
        self,
        obs_shape: tuple[int, int, int],
        goal_shape: tuple[int, int, int],
        n_actions: int,
        encoder: str = "mlp",
        state_size: int = 512,
        mlp_hidden: int = 256,
        lstm_hidden: int = 64,
        impala_channels: tuple[int, ...] = (16, 32, 32),
    ):
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        self.goal_shape = tuple(goal_shape)
        self.n_actions = n_actions
        self.end_token = n_actions
        enc = dict(state_size=state_size, mlp_hidden=mlp_hidden, channels=impala_channels)
        self.obs_encoder = make_encoder(encoder, self.obs_shape, **enc)
        self.goal_encoder = make_encoder(encoder, self.goal_shape, **enc)
        self.mix = nn.Sequential(
            nn.Linear(2 * state_size, state_size),
            nn.ReLU(),
            nn.Linear(state_size, state_size),
            nn.ReLU(),
        )
        self.prior_mix = nn.Sequential(nn.Linear(state_size, state_size), nn.ReLU())
        self.inverse = SequenceHead(state_size, n_actions, lstm_hidden)
        self.prior = SequenceHead(state_size, n_actions, lstm_hidden)
        self.amp = False
        """bfloat16 autocast for the encoders and context MLPs (the heads stay float32)."""

    def check_inputs(self, obs: Tensor, goal: Tensor | None = None) -> None:
        """Clear errors for wrongly shaped inputs (public entry points call this)."""
        if obs.dim() != 4 or tuple(obs.shape[1:]) != self.obs_shape:
            raise ValueError(
                f"obs must have shape (B, {', '.join(map(str, self.obs_shape))}); "
                f"got {tuple(obs.shape)}"
            )
        if goal is not None:
            if goal.dim() != 4 or tuple(goal.shape[1:]) != self.goal_shape:
                raise ValueError(
                    f"goal must have shape (B, {', '.join(map(str, self.goal_shape))})"
                    f"; got {tuple(goal.shape)}"
                )
            if goal.shape[0] != obs.shape[0]:
                raise ValueError(
                    f"obs and goal batch sizes differ: {obs.shape[0]} vs {goal.shape[0]}"
                )

    def encode_goal(self, goal: Tensor) -> Tensor:
        """goal_encoder(goal), (B, S), under the same autocast as `contexts`."""
        with autocast_encoders(goal.device, self.amp):
            return self.goal_encoder(goal)

    def contexts(
        self, obs: Tensor, goal: Tensor, goal_features: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """-> (ctx_inverse, ctx_prior), each (B, S) float32. The observation is encoded once;
        the goal is not encoded when its `goal_features` (`encode_goal(goal)`) are given.
        With `amp` (or under a caller's autocast) the encoders compute in bfloat16."""
        with autocast_encoders(obs.device, self.amp):
            e = self.obs_encoder(obs)
            e_g = self.goal_encoder(goal) if goal_features is None else goal_features
            ctx_inv = self.mix(torch.cat([e, e_g.to(e.dtype)], dim=1))
            ctx_pri = self.prior_mix(e)
        return ctx_inv.float(), ctx_pri.float()

    def log_probs(self, obs: Tensor, goal: Tensor, prev: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher-forced token log-probabilities. prev: (B, L) -> two (B, L, A+1) float32."""
        ctx_inv, ctx_pri = self.contexts(obs, goal)
        with full_precision(ctx_inv.device):
            lp_inv = F.log_softmax(self.inverse(ctx_inv, prev), dim=-1)
            lp_pri = F.log_softmax(self.prior(ctx_pri, prev), dim=-1)
        return lp_inv, lp_pri

    def loss(
        self, obs: Tensor, goal: Tensor, actions: Tensor, lengths: Tensor, alpha: float = 1.0
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Eq. 9: E[-log p_theta(a.., END | s, g)] + alpha * E[-log p_phi(a.., END | s)].

        Sequence NLLs (summed over the k+1 tokens), averaged over the batch.
        actions: (B, L) long padded; lengths: (B,) long. The stats are detached scalar tensors
        (no device sync here; call .item() when logging).
        """
        self.check_inputs(obs, goal)
        prev, targets, mask = sequence_tokens(actions, lengths, self.n_actions)
        lp_inv, lp_pri = self.log_probs(obs, goal, prev)
        safe = targets.clamp(min=0).unsqueeze(-1)
        nll_inv = -(lp_inv.gather(-1, safe).squeeze(-1) * mask).sum(1).mean()
        nll_pri = -(lp_pri.gather(-1, safe).squeeze(-1) * mask).sum(1).mean()
        loss = nll_inv + alpha * nll_pri
        stats = {
            "loss": loss.detach(),
            "inverse_nll": nll_inv.detach(),
            "prior_nll": nll_pri.detach(),
        }
        return loss, stats


def build_model(
    cfg, obs_shape: tuple[int, int, int], goal_shape: tuple[int, int, int], n_actions: int
) -> GlamorModel:
    """The model described by a Config (encoder kind and sizes); the caller sets `model.amp`
    (Config.amp applies where `amp_supported`)."""
    return GlamorModel(
        obs_shape, goal_shape, n_actions, lstm_hidden=cfg.lstm_hidden, **encoder_options(cfg)
    )


def encoder_options(cfg) -> dict:
    """The encoder arguments a Config describes (kind and sizes), shared by GLAMOR's model and
    the baselines' torso (§4.3: "all algorithms use the same encoder architecture")."""
    return dict(
        encoder=cfg.encoder,
        state_size=cfg.state_size,
        mlp_hidden=cfg.mlp_hidden,
        impala_channels=parse_channels(cfg.impala_channels),
    )


def check_config(cfg) -> None:
    """This registry's check of Config.encoder (config.ConfigError naming what is accepted)."""
    check_choice(cfg, "encoder", ENCODERS)
