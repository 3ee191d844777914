"""Eq. 8 planner: brute-force argmax, score consistency, END/length/clip rules, sampling law."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from glamor_mini.models import GlamorModel
from glamor_mini.planner import CLIPPED_Z, PlannerSettings, plan, score, token_z

A = 3  # actions


def tiny_model(seed: int = 0, n_actions: int = A) -> GlamorModel:
    torch.manual_seed(seed)
    m = GlamorModel(
        (1, 2, 2), (1, 2, 2), n_actions, encoder="mlp", state_size=8, mlp_hidden=8, lstm_hidden=8
    )
    # Spread the heads' outputs so the Eq. 8 landscape is not flat.
    with torch.no_grad():
        m.inverse.out.weight.mul_(6.0)
        m.prior.out.weight.mul_(3.0)
    return m.eval()


def inputs(seed: int = 0, b: int = 1):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 256, (b, 1, 2, 2), dtype=torch.uint8, generator=g)
    goal = torch.randint(0, 256, (b, 1, 2, 2), dtype=torch.uint8, generator=g)
    return obs, goal


def all_sequences(max_len: int, lengths: range):
    for k in lengths:
        if k > max_len:
            continue
        yield from itertools.product(range(A), repeat=k)


def brute_force_best(model, obs, goal, lengths, max_len, gamma, clip):
    seqs = list(all_sequences(max_len, lengths))
    acts = torch.full((len(seqs), max_len), -1, dtype=torch.long)
    for i, s in enumerate(seqs):
        acts[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    lens = torch.tensor([len(s) for s in seqs])
    sc = score(
        model,
        obs.expand(len(seqs), -1, -1, -1),
        goal.expand(len(seqs), -1, -1, -1),
        acts,
        lens,
        gamma,
        clip,
    )
    best = int(sc.argmax())
    return seqs[best], float(sc[best]), sc


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "termination,lengths",
    [("early", range(0, 4)), ("naive_end", range(1, 4)), ("plan_end", range(3, 4))],
)
def test_planner_finds_brute_force_argmax(seed, termination, lengths):
    model = tiny_model(seed)
    obs, goal = inputs(seed)
    max_len, gamma, clip = 3, 0.7, -3.15
    want, want_score, _ = brute_force_best(model, obs, goal, lengths, max_len, gamma, clip)
    settings = PlannerSettings(n_candidates=4000, gamma=gamma, clip=clip, termination=termination)
    p = plan(model, obs, goal, max_len, settings, torch.Generator().manual_seed(seed))
    got = tuple(p.actions[0, : int(p.length[0])].tolist())
    assert got == want
    assert float(p.score[0]) == pytest.approx(want_score, abs=1e-4)


def test_planner_scores_equal_teacher_forced_scores():
    """The score accumulated while sampling (step API) equals the teacher-forced Eq. 8 score."""
    model = tiny_model(3)
    obs, goal = inputs(3, b=4)
    settings = PlannerSettings(n_candidates=64, gamma=0.9, clip=-2.0)
    max_len = torch.tensor([0, 1, 3, 5])
    p = plan(
        model,
        obs,
        goal,
        max_len,
        settings,
        torch.Generator().manual_seed(0),
        return_candidates=True,
    )
    B, N, L = p.candidates.shape
    flat = p.candidates.reshape(B * N, L)
    rep = lambda x: x.repeat_interleave(N, 0)  # noqa: E731
    sc = score(model, rep(obs), rep(goal), flat, p.candidate_length.reshape(-1), 0.9, -2.0)
    torch.testing.assert_close(sc, p.candidate_score.reshape(-1), atol=1e-4, rtol=0)


def manual_z_sum(model, obs, goal, seq, gamma, clip, use_prior=True):
    """Independent Eq. 8: run both heads token by token and sum log-prob differences."""
    ctx_i, ctx_p = model.contexts(obs, goal)
    si, sp = model.inverse.start(ctx_i), model.prior.start(ctx_p)
    prev = torch.tensor([A])
    total = 0.0
    for tok in list(seq) + [A]:  # actions, then END (= A)
        li, si = model.inverse.step(si, prev)
        lp, sp = model.prior.step(sp, prev)
        lpi = torch.log_softmax(li, -1)[0, tok].item()
        lpp = torch.log_softmax(lp, -1)[0, tok].item()
        total += CLIPPED_Z if lpi < clip else (lpi - lpp if use_prior else lpi)
        prev = torch.tensor([tok])
    return total + len(seq) * math.log(gamma)


@torch.no_grad()
def test_score_matches_independent_computation():
    model = tiny_model(5)
    obs, goal = inputs(5)
    for seq in [(), (0,), (2, 1), (1, 1, 0, 2)]:
        acts = torch.full((1, 4), -1, dtype=torch.long)
        acts[0, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        for use_prior in (True, False):
            got = score(model, obs, goal, acts, torch.tensor([len(seq)]), 0.5, -2.5, use_prior)
            want = manual_z_sum(model, obs, goal, seq, 0.5, -2.5, use_prior)
            assert float(got) == pytest.approx(want, abs=1e-5)


def test_end_and_length_rules():
    model = tiny_model(7)
    obs, goal = inputs(7, b=3)
    max_len = torch.tensor([1, 2, 4])
    for term in ("early", "naive_end", "plan_end"):
        p = plan(
            model,
            obs,
            goal,
            max_len,
            PlannerSettings(n_candidates=300, termination=term),
            torch.Generator().manual_seed(1),
            return_candidates=True,
        )
        cl = p.candidate_length
        assert (cl >= 1).all(), "END may not be sampled first"
        assert (cl <= max_len.unsqueeze(1)).all(), "plans hold at most T - t actions"
        if term == "plan_end":
            assert (cl == max_len.unsqueeze(1)).all(), "plan_end plans end exactly at T"
        # padding past each candidate's length is -1, actions before it are valid
        pos = torch.arange(p.candidates.shape[2])
        inside = pos < cl.unsqueeze(-1)
        assert ((p.candidates >= 0) == inside).all()
    # at max_len = 0 the only plan is [END]
    p = plan(model, obs, goal, 0, PlannerSettings(n_candidates=8), torch.Generator())
    assert (p.length == 0).all()


def test_clip_sets_z_and_nearly_excludes_tokens():
    lp_inv = torch.log(torch.tensor([[0.001, 0.299, 0.7]]))
    lp_pri = torch.log(torch.tensor([[0.9, 0.05, 0.05]]))
    z = token_z(lp_inv, lp_pri, clip=-3.15)
    assert z[0, 0] == CLIPPED_Z
    assert z[0, 1] == pytest.approx(math.log(0.299 / 0.05))
    assert token_z(lp_inv, None, None)[0, 0] == pytest.approx(math.log(0.001))
    # A model whose inverse head gives action 0 a tiny probability: the guided planner avoids it.
    model = tiny_model(0)
    with torch.no_grad():
        model.inverse.out.weight.zero_()
        model.inverse.out.bias.copy_(torch.tensor([-12.0, 0.0, 0.0, 0.0]))
        model.prior.out.weight.zero_()
        model.prior.out.bias.copy_(torch.tensor([5.0, 0.0, 0.0, 0.0]))
    obs, goal = inputs(0)
    p = plan(
        model,
        obs,
        goal,
        3,
        PlannerSettings(n_candidates=500),
        torch.Generator().manual_seed(0),
        return_candidates=True,
    )
    assert not (p.candidates == 0).any()


@torch.no_grad()
def test_sampling_law_guided_vs_sparse():
    """Guided candidates' first tokens follow softmax(z_1) over actions; sparse ones are uniform."""
    model = tiny_model(11)
    obs, goal = inputs(11)
    n = 20_000
    ctx_i, ctx_p = model.contexts(obs, goal)
    li, _ = model.inverse.step(model.inverse.start(ctx_i), torch.tensor([A]))
    lp, _ = model.prior.step(model.prior.start(ctx_p), torch.tensor([A]))
    z = token_z(torch.log_softmax(li, -1), torch.log_softmax(lp, -1), None)[0, :A]
    expected = torch.softmax(z, -1)
    for mode, want in (("guided", expected), ("sparse", torch.full((A,), 1 / A))):
        p = plan(
            model,
            obs,
            goal,
            2,
            PlannerSettings(n_candidates=n, mode=mode, clip=None),
            torch.Generator().manual_seed(2),
            return_candidates=True,
        )
        freq = torch.bincount(p.candidates[0, :, 0], minlength=A).float() / n
        assert torch.allclose(freq, want, atol=0.015), (mode, freq, want)


def test_no_prior_mode_ignores_prior():
    model = tiny_model(4)
    obs, goal = inputs(4)
    s1 = PlannerSettings(n_candidates=50, mode="no_prior")
    p1 = plan(model, obs, goal, 3, s1, torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.prior.out.bias.add_(torch.randn(A + 1) * 5)
    p2 = plan(model, obs, goal, 3, s1, torch.Generator().manual_seed(0))
    assert torch.equal(p1.actions, p2.actions) and torch.allclose(p1.score, p2.score)


def test_planner_rejects_bad_inputs():
    model = tiny_model()
    obs, goal = inputs()
    with pytest.raises(ValueError, match="goal must have shape"):
        plan(model, obs, torch.zeros(1, 2, 2, 2, dtype=torch.uint8), 3, PlannerSettings())
    with pytest.raises(ValueError, match="n_candidates"):
        PlannerSettings(n_candidates=0)
    with pytest.raises(ValueError, match="termination"):
        PlannerSettings(termination="sometimes")
