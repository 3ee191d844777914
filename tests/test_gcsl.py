"""GCSL: the exact operator of Appendix A.1 (Eq. 11-12), GLAMOR's exact choice, the GCSL policy
model and loss, and GCSL learning a tiny grid through Algorithm 1's loop."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from glamor_mini.appendix import (
    bayes_choices,
    behaviour,
    gcsl_step,
    glamor_choice,
    iterate_gcsl,
    optimal_policy,
    overall_success,
    success_rates,
    uniform_policy,
)
from glamor_mini.baselines.gcsl import GCSLPolicy, GCSLPolicyModel, time_features
from glamor_mini.config import ConfigError
from glamor_mini.envs.die import outcome_probs
from glamor_mini.resolve import make_config
from glamor_mini.train import train

PAPER_DIE = outcome_probs(6, "1")  # (2, 6): fair uniform, loaded always 1
FAIR, LOADED = 0, 1


# ------------------------------------------------------------------ exact operator (A.1)
def test_gcsl_from_uniform_decays_exactly_like_6_over_5t_plus_2():
    pis = iterate_gcsl(uniform_policy(6, 2), PAPER_DIE, 40, act="sample")
    x = pis[:, 0, LOADED]  # pi_t(loaded | g = 1)
    # By hand: 1/x_{t+1} = 1/x_t + 5/6 and x_1 = 6/7, so x_t = 6 / (5t + 2) for t >= 1.
    t = np.arange(1, 41)
    np.testing.assert_allclose(x[1:], 6.0 / (5 * t + 2), rtol=1e-12)
    assert np.all(np.diff(x[1:]) < 0)  # strictly decreasing after the first step
    assert x[-1] < 0.03
    # the other goals never use the loaded die again after one step
    np.testing.assert_allclose(pis[1:, 1:, LOADED], 0.0)


def test_optimal_policy_is_not_a_fixed_point():
    opt = optimal_policy(PAPER_DIE)
    np.testing.assert_array_equal(opt.argmax(1), [LOADED, FAIR, FAIR, FAIR, FAIR, FAIR])
    assert overall_success(opt, PAPER_DIE) == pytest.approx((1 + 5 / 6) / 6)
    nxt = gcsl_step(opt, PAPER_DIE)
    # p(a = loaded) = 1/6 under the optimal policy: pi(loaded | 1) = (1/6) / (1/6 + 5/36) = 6/11
    assert nxt[0, LOADED] == pytest.approx(6 / 11)
    assert not np.allclose(nxt, opt)
    assert success_rates(nxt, PAPER_DIE)[0] == pytest.approx(6 / 11 + 5 / 66)
    assert overall_success(nxt, PAPER_DIE) < overall_success(opt, PAPER_DIE) - 0.01


def test_glamor_exact_choice_is_optimal_for_every_goal():
    choice = glamor_choice(PAPER_DIE)
    np.testing.assert_array_equal(choice, [LOADED, FAIR, FAIR, FAIR, FAIR, FAIR])
    rates = success_rates(np.eye(2)[choice], PAPER_DIE)
    np.testing.assert_allclose(rates, [1.0] + [1 / 6] * 5)
    np.testing.assert_allclose(rates, PAPER_DIE.max(0))
    # From data of ANY full-support collection policy, argmax p(a|g)/p(a) is the same choice,
    # while argmax p(a|g) (no prior) depends on the data.
    rng = np.random.default_rng(0)
    no_prior_choices = set()
    for _ in range(50):
        p_loaded = rng.uniform(0.01, 0.4, size=(6, 1))  # p(a = loaded) = mean, in (0.01, 0.4)
        beta = np.hstack([1 - p_loaded, p_loaded])
        with_prior, without = bayes_choices(beta, PAPER_DIE)
        np.testing.assert_array_equal(with_prior, choice)
        no_prior_choices.add(int(without[0]))
    assert no_prior_choices == {FAIR, LOADED}


def test_greedy_behaviour_breaks_ties_uniformly_and_mixes_eps():
    pi = np.array([[0.5, 0.5], [0.9, 0.1]])
    np.testing.assert_allclose(behaviour(pi, "greedy"), [[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(behaviour(pi, "greedy", eps=0.2), [[0.5, 0.5], [0.9, 0.1]])
    with pytest.raises(ValueError, match="act="):
        behaviour(pi, "argmax")


# ------------------------------------------------------------------ the policy model
def _model(horizon=4):
    torch.manual_seed(0)
    return GCSLPolicyModel((2, 5, 5), (2, 5, 5), 4, horizon, encoder="mlp", state_size=16)


def test_time_features_are_the_periodic_code():
    f = time_features(torch.tensor([1, 2, 3, 4]), 4)
    np.testing.assert_allclose(f.numpy(), [[1, 0], [0, -1], [-1, 0], [0, 1]], atol=1e-6)


def test_loss_targets_first_action_and_masks_k0_rows():
    m = _model()
    g = torch.Generator().manual_seed(1)
    obs = torch.randint(0, 256, (6, 2, 5, 5), generator=g, dtype=torch.uint8)
    goal = torch.randint(0, 256, (6, 2, 5, 5), generator=g, dtype=torch.uint8)
    actions = torch.tensor([[2, 1, -1, -1]] * 3 + [[-1] * 4] * 3)
    lengths = torch.tensor([2, 2, 2, 0, 0, 0])
    loss, stats = m.loss(obs, goal, actions, lengths)
    assert set(stats) == {"loss"} and not stats["loss"].requires_grad
    # by hand: mean NLL of action 2 at h = 2 over the three rows with k > 0
    logp = torch.log_softmax(m(obs[:3], goal[:3], torch.tensor([2, 2, 2])), dim=1)
    assert loss.item() == pytest.approx(-logp[:, 2].mean().item(), rel=1e-5)
    # rows with k = 0 do not matter, and an all-k=0 batch gives a finite zero loss
    obs2 = obs.clone()
    obs2[3:] = 0
    assert m.loss(obs2, goal, actions, lengths)[0].item() == pytest.approx(loss.item())
    zero, _ = m.loss(obs[3:], goal[3:], actions[3:], lengths[3:])
    assert zero.item() == 0.0


def test_policy_acts_batched_greedy_and_sampled():
    m = _model().eval()
    obs = torch.zeros((3, 2, 5, 5), dtype=torch.uint8)
    goal = torch.full((3, 2, 5, 5), 255, dtype=torch.uint8)
    left = torch.tensor([4, 4, 4])
    slots = torch.arange(3)
    p = m.probs(obs, goal, left)
    a, stop = GCSLPolicy(m, "greedy").act(slots, obs, goal, left, torch.ones(3, dtype=torch.bool))
    assert torch.equal(a, p.argmax(1)) and not stop.any()
    # sampling: 3 x 4000 rows at once; frequencies match pi
    n = 4000
    big = GCSLPolicy(m, "sample", torch.Generator().manual_seed(0))
    a, _ = big.act(
        torch.arange(n), obs[:1].expand(n, -1, -1, -1), goal[:1].expand(n, -1, -1, -1),
        torch.full((n,), 4), torch.ones(n, dtype=torch.bool),
    )  # fmt: skip
    freq = torch.bincount(a, minlength=4).float() / n
    assert torch.allclose(freq, p[0], atol=0.03)
    with pytest.raises(ValueError, match="gcsl_act"):
        GCSLPolicy(m, "argmax")
    with pytest.raises(ValueError, match="obs must have shape"):
        m(torch.zeros((3, 1, 5, 5), dtype=torch.uint8), goal, left)


def test_config_rejects_unknown_gcsl_act():
    with pytest.raises(ConfigError, match="gcsl_act"):
        make_config("debug", algo="gcsl", gcsl_act="softmax")


# ------------------------------------------------------------------ learning through train()
def test_gcsl_learns_the_tiny_grid(tiny_grid_config, tmp_path):
    cfg = tiny_grid_config(algo="gcsl", torch_threads=1)
    result = train(cfg, tmp_path / "run")
    assert result.eval.goal_achievement >= 0.9
    assert result.eval.early_stop_rate == 0.0  # GCSL acts until T
    with open(tmp_path / "run" / "progress.csv") as fh:
        rows = list(csv.DictReader(fh))
    trained = [r for r in rows if r["loss"] != ""]
    assert trained and all(r["inverse_nll"] == "" for r in rows)  # GCSL logs only its loss
    assert float(trained[-1]["loss"]) < float(trained[0]["loss"])


def test_cli_trains_and_evaluates_gcsl(tmp_path, capsys):
    from glamor_mini.run import main

    out = tmp_path / "cli"
    assert main(["debug", "--algo", "gcsl", "--gcsl_act", "sample", "--out", str(out)]) == 0
    assert (out / "eval.json").is_file() and '"goal_achievement"' in capsys.readouterr().out
    ev = json.loads((out / "eval.json").read_text())
    assert ev["algo"] == "GCSL" and ev["policy"]["act"] == "sample"
    assert "planner" not in ev  # GCSL does not plan: no planner settings to mislead a reader
    with pytest.raises(SystemExit):  # argparse error naming the accepted values
        main(["debug", "--algo", "gcsl", "--gcsl_act", "softmax"])
    assert "gcsl_act='softmax' is not accepted" in capsys.readouterr().err
