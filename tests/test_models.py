"""Encoders' shapes, the one-step API against teacher forcing, and the Eq. 9 loss by hand."""

from __future__ import annotations

import math

import pytest
import torch

from glamor_mini.models import (
    GlamorModel,
    ImpalaEncoder,
    KeypointEncoder,
    MLPEncoder,
    sequence_tokens,
)


def test_impala_encoder_on_atari_frame_stacks():
    enc = ImpalaEncoder((4, 104, 80), 512)
    x = torch.randint(0, 256, (2, 4, 104, 80), dtype=torch.uint8)
    assert enc(x).shape == (2, 512)
    # 3 stages of stride-2 pooling: 104 x 80 -> 13 x 10 with 32 channels
    assert enc.head[1].in_features == 32 * 13 * 10


def test_impala_channels_last_is_the_nchw_network_with_gradients_in_each_layer_s_layout():
    """Channels-last is a layout, not a model: the same weights give the NCHW encoder's output
    and gradients, and the gradient reaching every max pool and convolution output arrives
    channels-last (a norm computed in NCHW must not hand them NCHW gradients to copy)."""
    torch.manual_seed(0)
    nhwc = ImpalaEncoder((4, 26, 20), 32, channels=(8, 16), channels_last=True)
    nchw = ImpalaEncoder((4, 26, 20), 32, channels=(8, 16), channels_last=False)
    nchw.load_state_dict(nhwc.state_dict())
    x = torch.randint(0, 256, (5, 4, 26, 20), dtype=torch.uint8)
    layouts: list[bool] = []

    def record(module, inputs, output):
        output.register_hook(
            lambda g: layouts.append(g.is_contiguous(memory_format=torch.channels_last))
        )

    for m in nhwc.conv.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.MaxPool2d):
            m.register_forward_hook(record)
    out = [enc(x) for enc in (nhwc, nchw)]
    torch.testing.assert_close(out[0], out[1], rtol=1e-5, atol=1e-5)
    for o in out:
        o.square().sum().backward()
    # float rounding differs between the layouts' kernels; the biases of convolutions followed
    # by a norm have ~0 gradients, so the tolerance is set by the largest gradient
    scale = max(float(p.grad.abs().max()) for p in nchw.parameters())
    for (name, a), b in zip(nhwc.named_parameters(), nchw.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5 * scale, msg=name)
    assert len(layouts) == 2 * (1 + 4 + 1) and all(layouts)


def test_mlp_encoder_shape():
    assert MLPEncoder((2, 9, 9), 64).forward(torch.zeros(3, 2, 9, 9, dtype=torch.uint8)).shape == (
        3,
        64,
    )


def test_keypoints_are_the_coordinates_of_what_the_conv_detects():
    """A conv that passes the agent channel (x 20) makes each keypoint the agent's own (x, y),
    scaled to [-1, 1]. H != W, so swapping x and y, softmax over the wrong axis or 'xy' meshgrid
    indexing all fail."""
    h, w, k = 7, 9, 3
    enc = KeypointEncoder((2, h, w), 8, hidden=16, k=k)
    pick = torch.nn.Conv2d(2, k, 1, bias=False)
    with torch.no_grad():
        pick.weight.zero_()
        pick.weight[:, 0] = 20.0
    enc.conv = pick
    obs = torch.zeros(3, 2, h, w, dtype=torch.uint8)
    obs[:, 1, 0, :] = 255  # a wall row: ignored by the picking conv
    cells = [(0, 0), (8, 2), (3, 6)]  # (x, y)
    for i, (x, y) in enumerate(cells):
        obs[i, 0, y, x] = 255
    pts = enc.keypoints(obs)
    assert pts.shape == (3, k, 2)
    want = torch.tensor([[2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1] for x, y in cells])
    assert torch.allclose(pts, want[:, None, :].expand(3, k, 2), atol=1e-4)
    assert enc(obs).shape == (3, 8)


def test_keypoint_model_learns_with_gradients_through_the_encoder():
    m = GlamorModel((2, 7, 7), (2, 7, 7), 4, encoder="keypoint", state_size=16, lstm_hidden=8)
    obs = torch.zeros(2, 2, 7, 7, dtype=torch.uint8)
    obs[0, 0, 1, 2] = obs[1, 0, 5, 3] = 255
    loss, _ = m.loss(obs, obs.flip(0), torch.tensor([[1, 2], [0, -1]]), torch.tensor([2, 1]))
    loss.backward()
    for enc in (m.obs_encoder, m.goal_encoder):
        assert isinstance(enc, KeypointEncoder)
        assert enc.conv[0].weight.grad is not None and enc.conv[0].weight.grad.abs().sum() > 0


def test_pixel_model_shapes_and_goal_is_one_frame():
    m = GlamorModel((4, 104, 80), (1, 104, 80), 18, encoder="impala", state_size=64)
    obs = torch.zeros(2, 4, 104, 80, dtype=torch.uint8)
    goal = torch.zeros(2, 1, 104, 80, dtype=torch.uint8)
    acts = torch.tensor([[3, 5, -1], [-1, -1, -1]])
    loss, stats = m.loss(obs, goal, acts, torch.tensor([2, 0]))
    assert loss.ndim == 0 and set(stats) == {"loss", "inverse_nll", "prior_nll"}
    with pytest.raises(ValueError, match="goal must have shape"):
        m.loss(obs, obs, acts, torch.tensor([2, 0]))


def test_encoder_shared_only():
    m = GlamorModel((2, 5, 5), (2, 5, 5), 4, encoder="mlp", state_size=16)
    inv = {id(p) for p in m.inverse.parameters()}
    pri = {id(p) for p in m.prior.parameters()}
    assert not inv & pri
    assert m.goal_encoder is not m.obs_encoder


def test_sequence_tokens():
    prev, targets, mask = sequence_tokens(
        torch.tensor([[2, 0, -1], [1, -1, -1]]), torch.tensor([2, 0]), n_actions=4
    )
    assert prev.tolist() == [[4, 2, 0, 0], [4, 1, 0, 0]]
    assert targets.tolist() == [[2, 0, 4, -100], [4, -100, -100, -100]]
    assert mask.tolist() == [[True, True, True, False], [True, False, False, False]]


@torch.no_grad()
def test_step_api_matches_teacher_forcing():
    torch.manual_seed(0)
    m = GlamorModel((2, 5, 5), (2, 5, 5), 4, encoder="mlp", state_size=16, lstm_hidden=12)
    obs = torch.randint(0, 256, (3, 2, 5, 5), dtype=torch.uint8)
    goal = torch.randint(0, 256, (3, 2, 5, 5), dtype=torch.uint8)
    prev = torch.tensor([[4, 1, 2, 3], [4, 0, 0, 1], [4, 3, 3, 3]])
    lp_inv, lp_pri = m.log_probs(obs, goal, prev)
    ci, cp = m.contexts(obs, goal)
    si, sp = m.inverse.start(ci), m.prior.start(cp)
    for t in range(prev.shape[1]):
        li, si = m.inverse.step(si, prev[:, t])
        lp, sp = m.prior.step(sp, prev[:, t])
        torch.testing.assert_close(torch.log_softmax(li, -1), lp_inv[:, t], atol=1e-5, rtol=0)
        torch.testing.assert_close(torch.log_softmax(lp, -1), lp_pri[:, t], atol=1e-5, rtol=0)


@torch.no_grad()
def test_loss_equals_hand_computed_nll():
    torch.manual_seed(1)
    A = 3
    m = GlamorModel((1, 3, 3), (1, 3, 3), A, encoder="mlp", state_size=8, lstm_hidden=8)
    obs = torch.randint(0, 256, (2, 1, 3, 3), dtype=torch.uint8)
    goal = torch.randint(0, 256, (2, 1, 3, 3), dtype=torch.uint8)
    seqs = [[1, 2], []]
    acts = torch.tensor([[1, 2], [-1, -1]])
    alpha = 0.7
    loss, stats = m.loss(obs, goal, acts, torch.tensor([2, 0]), alpha=alpha)
    ci, cp = m.contexts(obs, goal)
    nll_i = nll_p = 0.0
    for b, seq in enumerate(seqs):
        si, sp = m.inverse.start(ci[b : b + 1]), m.prior.start(cp[b : b + 1])
        prev = torch.tensor([A])
        for tok in seq + [A]:  # END = A
            li, si = m.inverse.step(si, prev)
            lp, sp = m.prior.step(sp, prev)
            nll_i -= torch.log_softmax(li, -1)[0, tok].item()
            nll_p -= torch.log_softmax(lp, -1)[0, tok].item()
            prev = torch.tensor([tok])
    want_i, want_p = nll_i / 2, nll_p / 2
    assert stats["inverse_nll"].item() == pytest.approx(want_i, abs=1e-5)
    assert stats["prior_nll"].item() == pytest.approx(want_p, abs=1e-5)
    assert loss.item() == pytest.approx(want_i + alpha * want_p, abs=1e-5)


def test_untrained_nll_is_near_uniform():
    """Sanity: with small random weights each token costs about log(A + 1)."""
    torch.manual_seed(2)
    m = GlamorModel((1, 3, 3), (1, 3, 3), 4, encoder="mlp", state_size=8, lstm_hidden=8)
    obs = torch.zeros(64, 1, 3, 3, dtype=torch.uint8)
    acts = torch.randint(0, 4, (64, 5))
    _, stats = m.loss(obs, obs, acts, torch.full((64,), 5))
    assert stats["inverse_nll"].item() == pytest.approx(6 * math.log(5), rel=0.15)
