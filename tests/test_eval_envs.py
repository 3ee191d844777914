"""Evaluation envs kept between evaluations (Task.reuse_eval_envs, Atari): the same episodes as
fresh envs (Atari), the same env objects handed out again, seeded resets that replay a fresh
env's episode, and a stage line per goal-set phase."""

from __future__ import annotations

import numpy as np
import pytest

from glamor_mini.envs import make_task
from glamor_mini.evaluate import evaluate
from glamor_mini.policies import UniformRandomPolicy
from glamor_mini.resolve import make_config

pytest.importorskip("ale_py")


def _episodes(task, goals, seed):
    res = evaluate(
        task, None, None, goals, 2, seed=seed, policy=UniformRandomPolicy(task.n_actions, seed=7)
    )
    return res.achieved, res.final_frames


def test_reused_atari_eval_envs_give_the_same_episodes(tmp_path):
    task = make_task(make_config("atari-debug", goal_dir=str(tmp_path), seed=0))
    assert task.reuse_eval_envs
    goals = task.eval_goals(0)
    first = _episodes(task, goals, seed=3)
    pool = list(task._eval_env_pool)
    # envs that have already played other episodes (another seed) must not change the next ones
    _episodes(task, goals, seed=11)
    again = _episodes(task, goals, seed=3)
    assert [id(e) for e in task._eval_env_pool] == [id(e) for e in pool]  # no new envs built
    fresh_task = make_task(make_config("atari-debug", goal_dir=str(tmp_path), seed=0))
    fresh_task.reuse_eval_envs = False
    fresh = _episodes(fresh_task, goals, seed=3)
    assert fresh_task._eval_env_pool is None
    for a, b in ((first, again), (first, fresh)):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    task.close()
    assert task._eval_env_pool is None


def test_goal_set_building_prints_its_stages(tmp_path, capsys):
    task = make_task(make_config("atari-debug", goal_dir=str(tmp_path), seed=1))
    task.eval_goals(1)
    err = capsys.readouterr().err
    for stage in ("feasible ranges: 16 rollouts ...", "4 evaluation goals: 8 rollouts ..."):
        assert f"atari-Pong-h8 seed 1: {stage}" in err
    assert err.count("done in") == 2
    task.eval_goals(1)  # cached: silent
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("game", ["Pong", "Qbert"])
def test_a_seeded_atari_reset_replays_a_fresh_envs_episode(game):
    """Whatever an env played before, a seeded reset gives a fresh env's episode: frames and
    RAM labels, sticky actions included. On Qbert a restored ALE snapshot fails this (frames
    differ from the first step, labels from step ~35), so a seeded reset reloads the ROM."""
    from glamor_mini.envs.atari import AtariSuiteEnv

    acts = np.random.default_rng(0).integers(6, size=60).tolist()

    def episode(env, seed, actions):
        frame, labels = env.reset(seed=seed)
        frames, label_rows = [frame], [labels]
        for a in actions:
            frame, labels, _ = env.step(a % env.n_actions)
            frames.append(frame)
            label_rows.append(labels)
        return np.stack(frames), np.stack(label_rows)

    fresh = episode(AtariSuiteEnv(game), 5, acts)
    env = AtariSuiteEnv(game)
    first = episode(env, 5, acts)
    episode(env, 9, acts[::-1])  # another seed and other actions in between
    again = episode(env, 5, acts)
    for other in (first, again):
        np.testing.assert_array_equal(fresh[0], other[0])
        np.testing.assert_array_equal(fresh[1], other[1])
