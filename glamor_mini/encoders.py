"""Observation encoders (paper §4.2, Fig. 1; docs/design.md): the state s_t and the goal g each
become a vector of Config.state_size.

    MLPEncoder       grid worlds: the flattened frame stack through a two-layer MLP
    ImpalaEncoder    pixels: the IMPALA "large" ResNet (stages of conv 3x3, max pool 3 stride 2,
                     two residual blocks; GroupNorm), then a linear layer
    KeypointEncoder  grid layouts with interior walls: two 3x3 convs, a spatial softmax, the
                     (x, y) of each feature map, then the MLP

`make_encoder(kind, ...)` builds one by name (`ENCODERS`, Config.encoder); models.py puts them
under the two sequence heads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MLPEncoder(nn.Module):
    """Flatten -> Linear -> ReLU -> Linear -> ReLU. For small observations such as the grid world.

    obs: (B, C, H, W) uint8 (0..255)  ->  (B, state_size) float
    """

    def __init__(self, in_shape: tuple[int, ...], state_size: int, hidden: int = 256):
        super().__init__()
        n_in = 1
        for d in in_shape:
            n_in *= d
        self.in_shape = tuple(in_shape)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_in, hidden),
            nn.ReLU(),
            nn.Linear(hidden, state_size),
            nn.ReLU(),
        )

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs.float() / 255.0)


class _Relayout(torch.autograd.Function):
    """`x` copied into memory format `to`, whose gradient goes back in format `back`.

    `Tensor.contiguous(memory_format=...)` passes its gradient through in whatever layout it
    arrives, so a norm computed in NCHW between channels-last layers would hand NCHW gradients to
    the channels-last max pool and convolution, which then copy them at full resolution (and the
    norm's backward would get channels-last gradients). Here each gradient is put into the layout
    its consumer runs in: the same numbers, one copy each way, no layout conversions elsewhere."""

    @staticmethod
    def forward(ctx, x: Tensor, to: torch.memory_format, back: torch.memory_format) -> Tensor:
        ctx.back = back
        return x.contiguous(memory_format=to)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad.contiguous(memory_format=ctx.back), None, None


class _GroupNorm(nn.GroupNorm):
    """nn.GroupNorm computed on a contiguous (NCHW) copy, returned in the input's memory format.

    The IMPALA encoder runs its convolutions and max pools channels-last (NHWC), where the CPU
    kernels are fastest, but PyTorch's CPU GroupNorm is several times slower on NHWC than on
    NCHW (backward above all), so the norm alone goes through NCHW, forward and backward
    (`_Relayout`; bench/pixel_speed.py)."""

    def forward(self, x: Tensor) -> Tensor:
        nhwc = (
            x.dim() == 4
            and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last)
        )
        if not nhwc:
            return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        nchw = _Relayout.apply(x, torch.contiguous_format, torch.channels_last)
        y = F.group_norm(nchw, self.num_groups, self.weight, self.bias, self.eps)
        return _Relayout.apply(y, torch.channels_last, torch.contiguous_format)


class _ResidualBlock(nn.Module):
    """conv - norm - ReLU - conv - norm, plus the skip connection."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = _GroupNorm(groups, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = _GroupNorm(groups, channels)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return x + self.norm2(self.conv2(y))


class ImpalaEncoder(nn.Module):
    """The IMPALA 'large' ResNet (Espeholt et al. 2018) with GroupNorm, as used by the authors.

    3 stages of (3x3 conv, max-pool 3 stride 2, GroupNorm, ReLU, 2 residual blocks) with
    16, 32, 32 channels; flatten; Linear to state_size; ReLU.

    obs: (B, C, H, W) uint8  ->  (B, state_size) float.  For (4, 104, 80): 32 x 13 x 10 -> 512.

    `channels_last=True` (the default) runs the convolutions and max pools on NHWC tensors: the
    same maths as NCHW (max pooling is exact; the convolutions differ in float rounding only),
    ~1.3x faster per training update on a CPU (bench/pixel_speed.py) and the layout cuDNN
    prefers. The weights and the state dict are the same either way.
    """

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        state_size: int = 512,
        channels: tuple[int, ...] = (16, 32, 32),
        groups: int = 8,
        channels_last: bool = True,
    ):
        super().__init__()
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for out in channels:
            layers += [
                nn.Conv2d(c, out, 3, padding=1),
                nn.MaxPool2d(3, stride=2, padding=1),
                _GroupNorm(min(groups, out), out),
                nn.ReLU(),
                _ResidualBlock(out, min(groups, out)),
                _ResidualBlock(out, min(groups, out)),
            ]
            c = out
            h, w = (h + 1) // 2, (w + 1) // 2
        self.in_shape = tuple(in_shape)
        self.conv = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, state_size), nn.ReLU())
        self.channels_last = channels_last
        if channels_last:
            self.conv.to(memory_format=torch.channels_last)

    def forward(self, obs: Tensor) -> Tensor:
        x = obs.float() / 255.0
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        # Flatten reads the logical (C, H, W) order whatever the layout: the head is unchanged
        return self.head(self.conv(x))


class KeypointEncoder(nn.Module):
    """Two 3x3 convs -> spatial softmax -> the expected (x, y) of each of K feature maps
    (keypoints, Levine et al. 2016) -> Linear -> ReLU -> Linear -> ReLU. For grid layouts with
    interior walls (docs/investigations.md, 'Layouts with interior walls').

    A flattening MLP gives every pixel its own first-layer weights, so a cell the agent seldom
    occupies keeps a nearly untrained embedding and goals there look alike to the inverse model
    (four-rooms: it plans to (7, 3) when asked for (8, 3)). Keypoints are coordinates computed by
    weights that every cell shares, so a rarely seen cell is encoded as well as a common one.

    obs: (B, C, H, W) uint8 -> (B, state_size) float.
    """

    def __init__(
        self, in_shape: tuple[int, int, int], state_size: int, hidden: int = 256, k: int = 16
    ):
        super().__init__()
        c, h, w = in_shape
        self.in_shape = tuple(in_shape)
        self.conv = nn.Sequential(
            nn.Conv2d(c, k, 3, padding=1), nn.ReLU(), nn.Conv2d(k, k, 3, padding=1)
        )
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        # (H*W, 2): the (x, y) of each pixel in row-major order, in [-1, 1]
        self.register_buffer("coords", torch.stack([xs.flatten(), ys.flatten()], 1), False)
        self.head = nn.Sequential(
            nn.Linear(2 * k, hidden), nn.ReLU(), nn.Linear(hidden, state_size), nn.ReLU()
        )

    def keypoints(self, obs: Tensor) -> Tensor:
        """(B, K, 2): per feature map, the (x, y) expectation under softmax over its pixels."""
        maps = self.conv(obs.float() / 255.0).flatten(2)  # (B, K, H*W)
        return torch.softmax(maps, dim=-1) @ self.coords

    def forward(self, obs: Tensor) -> Tensor:
        return self.head(self.keypoints(obs).flatten(1))


ENCODERS: tuple[str, ...] = ("mlp", "impala", "keypoint")
"""Observation encoders by name (Config.encoder)."""


def make_encoder(
    kind: str,
    in_shape: tuple[int, int, int],
    state_size: int,
    mlp_hidden: int = 256,
    channels: tuple[int, ...] = (16, 32, 32),
) -> nn.Module:
    if kind == "mlp":
        return MLPEncoder(in_shape, state_size, mlp_hidden)
    if kind == "impala":
        return ImpalaEncoder(in_shape, state_size, channels)
    if kind == "keypoint":
        return KeypointEncoder(in_shape, state_size, mlp_hidden)
    raise ValueError(f"encoder={kind!r} is not accepted; choose one of {ENCODERS}")


def parse_channels(text: str) -> tuple[int, ...]:
    """'16,32,32' -> (16, 32, 32), with a clear error for anything else."""
    try:
        chans = tuple(int(c) for c in str(text).split(","))
    except ValueError:
        chans = ()
    if not chans or any(c < 1 for c in chans):
        raise ValueError(f"impala_channels={text!r}: expected positive integers like '16,32,32'")
    return chans


__all__ = [
    "ENCODERS",
    "ImpalaEncoder",
    "KeypointEncoder",
    "MLPEncoder",
    "make_encoder",
    "parse_channels",
]
