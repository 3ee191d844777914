"""The loaded die (Appendix A.1): parameters, the Gymnasium env's statistics, the GLAMOR task, and
GLAMOR (real planner and models, trained by train()) with and without the action prior."""

from __future__ import annotations

import numpy as np
import pytest

from glamor_mini.appendix import planner_choices
from glamor_mini.config import make_config
from glamor_mini.envs import make_task
from glamor_mini.envs.die import FAIR, LOADED, DieTask, LoadedDieEnv, loaded_probs, outcome_probs
from glamor_mini.planner import PlannerSettings
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


def _train_die(tmp_path, name, **overrides):
    cfg = make_config(
        "die", total_steps=6000, eval_episodes=30, torch_threads=1, seed=0, **overrides
    )
    result = train(cfg, tmp_path / name)
    choice = planner_choices(result.model, make_task(cfg), PlannerSettings.from_config(cfg))
    return result, choice


def test_glamor_with_prior_rolls_the_loaded_die_for_goal_1_only(tmp_path):
    result, choice = _train_die(tmp_path, "prior")
    assert choice.tolist() == [LOADED, FAIR, FAIR, FAIR, FAIR, FAIR]
    assert result.eval.per_goal[0]["achieved"] == 1.0


def test_glamor_without_prior_loses_the_loaded_die(tmp_path):
    # Prior off while collecting and planning: argmax p(a | g) follows the data, which drifts
    # toward the fair die once collection (eps -> 0) follows the planner (observed on seeds 0-2).
    result, choice = _train_die(tmp_path, "no_prior", planner_mode="no_prior", collect_prior=False)
    assert choice.tolist() == [FAIR] * 6
    assert result.eval.per_goal[0]["achieved"] < 0.5
