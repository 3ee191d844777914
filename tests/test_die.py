"""The loaded die (Appendix A.1): parameters, the Gymnasium env's statistics, the GLAMOR task, the
exact learning operators of GCSL and GLAMOR (with and without the action prior), and learned
GLAMOR runs whose outcome the exact analysis predicts."""

from __future__ import annotations

import numpy as np
import pytest

from glamor_mini.appendix import (
    bayes_choices,
    behaviour,
    exact_operators,
    fixed_points,
    gcsl_step,
    iterate_operator,
    planner_choices,
)
from glamor_mini.envs import make_task
from glamor_mini.envs.die import FAIR, LOADED, DieTask, LoadedDieEnv, loaded_probs, outcome_probs
from glamor_mini.planner import PlannerSettings
from glamor_mini.resolve import make_config
from glamor_mini.train import train


def test_outcome_probs_of_the_paper_die_and_parameterised_dice():
    np.testing.assert_allclose(outcome_probs(6, "1"), [[1 / 6] * 6, [1, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(loaded_probs(6, "0.3"), [0.3] + [0.14] * 5)
    np.testing.assert_allclose(loaded_probs(4, "0.5,0.25"), [0.5, 0.25, 0.125, 0.125])
    np.testing.assert_allclose(loaded_probs(3, [0.2, 0.3, 0.5]), [0.2, 0.3, 0.5])
    for bad in ("x", "0.7,0.7", "-0.1", "0.2,0.2,0.2"):
        with pytest.raises(ValueError, match="die_loaded"):
            loaded_probs(3, bad)
    with pytest.raises(ValueError, match="die_faces"):
        loaded_probs(1, "1")


def _roll(env, action, n, seed):
    faces = []
    env.reset(seed=seed)
    for _ in range(n):
        env.reset()
        _, _, term, trunc, info = env.step(action)
        assert term and not trunc
        faces.append(info["face"])
    return np.bincount(faces, minlength=env.n_faces + 1)[1:] / n


@pytest.mark.parametrize("loaded", ["1", "0.3", "0.5,0.25"])
def test_env_statistics_match_parameters(loaded):
    env = LoadedDieEnv(6, loaded)
    n = 6000
    for action in (FAIR, LOADED):
        freq = _roll(env, action, n, seed=action)
        expected = env.p[action]
        # 4.5 standard errors of a binomial proportion
        tol = 4.5 * np.sqrt(expected * (1 - expected) / n) + 1e-9
        assert np.all(np.abs(freq - expected) <= tol), (action, freq, expected)


def test_env_interface_rewards_and_errors():
    env = LoadedDieEnv(6, "1")
    obs, info = env.reset(seed=0, options={"goal": 1})
    assert obs.shape == (1, 1, 7) and obs.dtype == np.uint8
    assert obs[0, 0].tolist() == [255, 0, 0, 0, 0, 0, 0] and info == {"face": 0, "goal": 1}
    assert env.observation_space.contains(obs)
    obs, reward, term, _, info = env.step(LOADED)
    assert info["face"] == 1 and reward == 1.0 and term and obs[0, 0, 1] == 255
    with pytest.raises(RuntimeError, match="reset"):
        env.step(FAIR)
    env.reset(options={"goal": 2})
    assert env.step(LOADED)[1] == 0.0
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step(2)
    with pytest.raises(ValueError, match="goal"):
        env.reset(options={"goal": 7})
    # seeded envs agree side by side
    a, b = LoadedDieEnv(6), LoadedDieEnv(6)
    a.reset(seed=5), b.reset(seed=5)
    for _ in range(20):
        a.reset(), b.reset()
        assert a.step(FAIR)[4] == b.step(FAIR)[4]


def test_task_goals_and_config_checks():
    task = make_task(make_config("die"))
    assert isinstance(task, DieTask)
    assert (task.horizon, task.n_actions, task.frame_shape) == (1, 2, (1, 1, 7))
    goals = task.train_goals(0)
    assert len(goals) == 6 and goals.labels[:, 0].tolist() == [1, 2, 3, 4, 5, 6]
    assert (goals.frames.argmax(-1)[:, 0, 0] == np.arange(1, 7)).all()
    assert task.start_frame().argmax() == 0  # "before the roll" differs from every goal
    np.testing.assert_allclose(task.optimal_success(), [1] + [1 / 6] * 5)
    with pytest.raises(ValueError, match="horizon"):
        make_task(make_config("die", horizon=2))
    env = task.make_env()
    frame, labels = env.reset(seed=0)
    assert labels.tolist() == [0.0]
    frame, labels, ended = env.step(LOADED)
    assert labels.tolist() == [1.0] and ended


# ------------------------------------------------------------------ three agents, exactly


def test_no_prior_glamor_is_the_greedy_gcsl_operator_and_keeps_the_paper_die():
    """From uniform on the paper's die, argmax p(a | g) with its own data settles at
    pi(loaded | 1) = 6/11 (eps = 0) or 0.6 (eps = 0.1), keeps the loaded die for goal 1 and
    reaches the optimum 11/36; sampling GCSL does not."""
    P = outcome_probs(6, "1")
    for eps, fixed in ((0.0, 6 / 11), (0.1, 0.6)):
        ops = exact_operators(P, 60, eps)
        greedy, no_prior = ops["GCSL (greedy)"], ops["GLAMOR, no prior"]
        np.testing.assert_allclose(no_prior.tables, greedy.tables)  # the same operator
        assert no_prior.loaded_for_goal_1[-1] == pytest.approx(fixed, abs=1e-9)
        for name in ("GCSL (greedy)", "GLAMOR, no prior", "GLAMOR"):
            assert ops[name].choice.tolist() == [LOADED] + [FAIR] * 5, name
            assert ops[name].success == pytest.approx(11 / 36)
        assert ops["GCSL (sample)"].choice.tolist() == [FAIR] * 6
        assert ops["GCSL (sample)"].success < 11 / 36 - 0.07
    # by hand at eps = 0.1: p(loaded) = (0.95 + 5 * 0.05) / 6 = 0.2, p(s = 1) = 0.2 + 0.8 / 6
    assert 0.2 / (0.2 + 0.8 / 6) == pytest.approx(0.6)
    # sampling GCSL with eps = 0.1: 0.75 x^2 + 0.35 x - 0.3 = 0
    x = (-0.35 + np.sqrt(0.35**2 + 4 * 0.75 * 0.3)) / 1.5
    assert iterate_operator("GCSL (sample)", P, 400, 0.1).loaded_for_goal_1[-1] == pytest.approx(x)


def test_fair_everywhere_is_also_a_fixed_point_of_the_no_prior_operator():
    """Why a learned no-prior agent can still lose the paper's die: once its estimate dips below
    1/2, the data of 'fair everywhere' (+ eps) gives pi(loaded | 1) = 0.05 / (0.05 + 0.95 / 6)
    = 0.24 at eps = 0.1, so it stays there; with the prior the ratio recovers from any data."""
    P = outcome_probs(6, "1")
    fair = np.eye(2)[[FAIR] * 6]
    data = behaviour(fair, "greedy", 0.1)
    nxt = gcsl_step(data, P)
    assert nxt[0, LOADED] == pytest.approx(0.05 / (0.05 + 0.95 / 6))
    assert nxt[0, LOADED] < 0.5  # argmax stays fair: absorbing
    with_prior, without = bayes_choices(data, P)
    assert with_prior.tolist() == [LOADED] + [FAIR] * 5 and without.tolist() == [FAIR] * 6


def test_on_a_die_loaded_0_5_only_the_prior_keeps_the_loaded_die():
    """Loaded die: face 1 with probability 0.5, else 0.1 each: the best die for goal 1 (0.5 > 1/6),
    but once it is rolled for goal 1 only, the fair die (rolled 5x as often) lands on 1 more often
    in the data: no-prior GLAMOR and greedy GCSL settle on the fair die everywhere
    (pi(loaded | 1) -> 0 at eps = 0, 0.136 at eps = 0.1); GLAMOR keeps the optimum (0.5 + 5/6) / 6.
    """
    P = outcome_probs(6, "0.5")
    for eps in (0.0, 0.1):
        ops = exact_operators(P, 60, eps)
        for name in ("GCSL (greedy)", "GLAMOR, no prior"):
            assert ops[name].choice.tolist() == [FAIR] * 6, (eps, name)
            assert ops[name].success == pytest.approx(1 / 6)
        assert ops["GLAMOR"].choice.tolist() == [LOADED] + [FAIR] * 5
        assert ops["GLAMOR"].success == pytest.approx((0.5 + 5 / 6) / 6)
    # eps = 0.1, fair everywhere: p(loaded) = 0.05, pi(loaded | 1) = 0.025 / (0.025 + 0.95 / 6)
    no_prior = iterate_operator("GLAMOR, no prior", P, 60, 0.1)
    assert no_prior.loaded_for_goal_1[-1] == pytest.approx(0.025 / (0.025 + 0.95 / 6))
    # GLAMOR's own inverse model also prefers the fair die for goal 1 ... the prior fixes it:
    # data 0.95 loaded for goal 1 only: p(loaded) = 0.2, p(loaded | 1) = 0.1 / (0.1 + 0.8 / 6)
    glamor = iterate_operator("GLAMOR", P, 60, 0.1)
    assert glamor.loaded_for_goal_1[-1] == pytest.approx(0.1 / (0.1 + 0.8 / 6))
    assert glamor.loaded_for_goal_1[-1] < 0.5


@pytest.mark.parametrize("loaded", ["1", "0.3", "0.5"])
def test_with_eps_glamor_has_one_fixed_point_the_optimum_and_no_prior_has_two(loaded):
    P = outcome_probs(6, loaded)
    fps = fixed_points("GLAMOR", P, 0.1)
    assert [c.tolist() for c, _ in fps] == [[LOADED] + [FAIR] * 5]
    no_prior = {"".join(map(str, c)): p for c, p in fixed_points("GLAMOR, no prior", P, 0.1)}
    if loaded == "1":
        assert no_prior == pytest.approx({"000000": 0.05 / (0.05 + 0.95 / 6), "100000": 0.6})
    else:  # neither is the optimum
        assert set(no_prior) == {"000000", "111111"}


def test_preset_uses_the_papers_final_epsilon():
    assert make_config("die").eps_final == pytest.approx(0.1)


# ------------------------------------------------------------------ learned, as predicted


def _train_die(tmp_path, name, **overrides):
    cfg = make_config("die", total_steps=6000, eval_episodes=30, torch_threads=1, **overrides)
    result = train(cfg, tmp_path / name)
    choice = planner_choices(result.model, make_task(cfg), PlannerSettings.from_config(cfg))
    return result, choice


def test_learned_glamor_on_the_0_5_die_matches_the_exact_operators(tmp_path):
    """The exact analysis predicts: with the prior, the loaded die for goal 1 only (the operator's
    only fixed point); without it, one of its two fixed points, neither of them optimal (fair
    everywhere, p(loaded | 1) = 0.136, or loaded everywhere)."""
    P = outcome_probs(6, "0.5")
    _, choice = _train_die(tmp_path, "prior", die_loaded="0.5", seed=0)
    assert choice.tolist() == [LOADED, FAIR, FAIR, FAIR, FAIR, FAIR]
    _, choice = _train_die(
        tmp_path,
        "no_prior",
        die_loaded="0.5",
        seed=0,
        planner_mode="no_prior",
        collect_prior=False,
    )
    allowed = [c.tolist() for c, _ in fixed_points("GLAMOR, no prior", P, 0.1)]
    assert choice.tolist() in allowed and choice.tolist() != [LOADED] + [FAIR] * 5
