"""Tests that pin the method where a one-line bug would otherwise pass the unit tests.

Each test names the mutation it catches:
  * clip-p-actions compares log p_theta, not z (App. A.3; `planner.token_z`);
  * the action prior p_phi(a | s) reads the SHARED observation encoder and never the goal
    (paper §3.4, Fig. 1; `GlamorModel.contexts`);
  * sparse planning (§4.7.3) samples END like any other allowed token, so its candidates have
    varied lengths (`planner.plan`, mode='sparse').
"""

from __future__ import annotations

import math

import pytest
import torch

from glamor_mini.models import GlamorModel
from glamor_mini.planner import CLIPPED_Z, PlannerSettings, plan, score, token_z

A = 3  # actions; END = A


def tiny_model(seed: int = 0) -> GlamorModel:
    torch.manual_seed(seed)
    m = GlamorModel(
        (1, 2, 2), (1, 2, 2), A, encoder="mlp", state_size=8, mlp_hidden=8, lstm_hidden=8
    )
    return m.eval()


def inputs(seed: int = 0, b: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 256, (b, 1, 2, 2), dtype=torch.uint8, generator=g)
    goal = torch.randint(0, 256, (b, 1, 2, 2), dtype=torch.uint8, generator=g)
    return obs, goal


def set_head_bias(m: GlamorModel, inverse: list[float], prior: list[float]) -> None:
    """Make both heads output fixed logits at every position (weights zeroed, biases set)."""
    with torch.no_grad():
        for head, bias in ((m.inverse, inverse), (m.prior, prior)):
            head.out.weight.zero_()
            head.out.bias.copy_(torch.tensor(bias))


# ------------------------------------------------------------------ clip-p-actions (App. A.3)


def test_clip_reads_log_p_inverse_not_z():
    """Mutation caught: `torch.where(z < clip, ...)` instead of `lp_inv < clip`.

    z = log p_theta - log p_phi >= log p_theta, so the two rules differ exactly when the inverse
    model is unsure (log p_theta < clip) but the prior is even less sure (z >= clip): App. A.3
    excludes such a token, a clip on z would favour it."""
    lp_inv = torch.log(torch.tensor([[0.01, 0.49, 0.5]]))  # action 0: log p = -4.6 < -3.15
    lp_pri = torch.log(torch.tensor([[1e-4, 0.4999, 0.5]]))  # ... but z(0) = +4.6
    z = token_z(lp_inv, lp_pri, clip=-3.15)
    assert z[0, 0] == CLIPPED_Z
    assert z[0, 1] == pytest.approx(math.log(0.49 / 0.4999), abs=1e-5)
    # in the planner: action 0 has the highest z but log p_theta below the clip, so the guided
    # planner (nearly) never samples it, and the scorer gives it CLIPPED_Z
    model = tiny_model(1)
    set_head_bias(model, [-3.0, 2.0, 2.0, 0.0], [-12.0, 2.0, 2.0, 0.0])
    lpi = torch.log_softmax(torch.tensor([-3.0, 2.0, 2.0, 0.0]), 0)
    lpp = torch.log_softmax(torch.tensor([-12.0, 2.0, 2.0, 0.0]), 0)
    assert lpi[0] < -3.15 < lpi[0] - lpp[0]  # the case where the two rules disagree
    obs, goal = inputs(1)
    p = plan(
        model,
        obs,
        goal,
        3,
        PlannerSettings(n_candidates=400, clip=-3.15),
        torch.Generator().manual_seed(0),
        return_candidates=True,
    )
    assert (p.candidates == 0).float().mean() < 0.01
    assert int(p.actions[0, 0]) != 0
    s = score(model, obs, goal, torch.tensor([[0]]), torch.tensor([1]), 1.0, -3.15)
    ends = score(model, obs, goal, torch.tensor([[1]]), torch.tensor([1]), 1.0, -3.15)
    # [0, END] = CLIPPED_Z + z(END); [1, END] = z(1) + z(END)
    assert float(ends - s) == pytest.approx(float(lpi[1] - lpp[1]) - CLIPPED_Z, abs=1e-4)


# ------------------------------------------------------------------ the action prior (§3.4)


@torch.no_grad()
def test_prior_ignores_the_goal_and_reads_the_shared_observation_encoder():
    """Mutation caught: the prior given the goal (`prior_mix(e + goal_encoder(goal))`, or any
    goal input) and a prior with its own observation encoder."""
    model = tiny_model(2)
    obs, goal = inputs(2, b=4)
    other_goal = torch.flip(goal, dims=(0,))
    prev = torch.tensor([[A, 0, 2]] * 4)
    lp_inv, lp_pri = model.log_probs(obs, goal, prev)
    lp_inv2, lp_pri2 = model.log_probs(obs, other_goal, prev)
    assert torch.equal(lp_pri, lp_pri2), "p_phi(a | s) must not depend on the goal"
    assert not torch.allclose(lp_inv, lp_inv2), "p_theta(a | s, g) must depend on the goal"
    # the prior's context is prior_mix(enc(s)) with enc the SAME module the inverse model uses
    _, ctx_pri = model.contexts(obs, goal)
    torch.testing.assert_close(ctx_pri, model.prior_mix(model.obs_encoder(obs)), rtol=0, atol=0)
    # changing the shared encoder changes the prior; changing the goal encoder does not
    before = model.log_probs(obs, goal, prev)[1]
    for p in model.goal_encoder.parameters():
        p.add_(torch.randn_like(p))
    assert torch.equal(model.log_probs(obs, goal, prev)[1], before)
    for p in model.obs_encoder.parameters():
        p.add_(0.5 * torch.randn_like(p))
    assert not torch.allclose(model.log_probs(obs, goal, prev)[1], before)


def test_prior_loss_trains_the_shared_encoder_and_not_the_goal_encoder():
    """Eq. 9's prior term sends gradient into the shared observation encoder only."""
    model = tiny_model(3).train()
    obs, goal = inputs(3, b=6)
    actions = torch.tensor([[0, 1, -1]] * 3 + [[2, -1, -1]] * 3)
    lengths = torch.tensor([2, 2, 2, 1, 1, 1])
    _, stats = model.loss(obs, goal, actions, lengths)
    from glamor_mini.models import sequence_tokens

    prev, targets, mask = sequence_tokens(actions, lengths, A)
    _, lp_pri = model.log_probs(obs, goal, prev)
    nll_pri = -(lp_pri.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask).sum(1)
    assert nll_pri.mean().item() == pytest.approx(stats["prior_nll"].item(), abs=1e-5)
    model.zero_grad()
    nll_pri.mean().backward()
    goal_grads = [p.grad for p in model.goal_encoder.parameters()]
    assert all(g is None or not g.any() for g in goal_grads)
    assert any(p.grad is not None and p.grad.any() for p in model.obs_encoder.parameters())
    assert all(p.grad is None or not p.grad.any() for p in model.inverse.parameters())


# ------------------------------------------------------------------ sparse planning (§4.7.3)


@torch.no_grad()
def test_sparse_candidates_sample_end_uniformly_like_any_allowed_token():
    """Mutation caught: sparse mode never sampling END (every candidate would last max_len).

    The rule (planner.py): END may not come first and is forced at max_len; in between, sparse
    candidates draw uniformly among the A + 1 allowed tokens, END included. So with max_len = 4:
    P(k) = (A / (A + 1))^(k - 1) / (A + 1) for k = 1, 2, 3 and the rest at k = 4."""
    model = tiny_model(4)
    # a model that would almost never end a plan: guided candidates would all be long
    set_head_bias(model, [3.0, 3.0, 3.0, -9.0], [0.0, 0.0, 0.0, 0.0])
    obs, goal = inputs(4)
    n, max_len = 20_000, 4
    p = plan(
        model,
        obs,
        goal,
        max_len,
        PlannerSettings(n_candidates=n, mode="sparse", clip=None),
        torch.Generator().manual_seed(0),
        return_candidates=True,
    )
    freq = torch.bincount(p.candidate_length[0], minlength=max_len + 1).float() / n
    q = A / (A + 1)
    want = torch.tensor([0.0] + [q ** (k - 1) / (A + 1) for k in (1, 2, 3)] + [q**3])
    assert torch.allclose(freq, want, atol=0.015), (freq, want)
    # the winner is still chosen by the Eq. 8 score among those candidates
    assert float(p.score[0]) == pytest.approx(float(p.candidate_score[0].max()), abs=1e-6)
