"""Evaluation envs kept between evaluations (Task.reuse_eval_envs, Atari): the same episodes as
fresh envs (Atari), the same env objects handed out again, snapshot resets, and a
stage line per goal-set phase."""

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


def test_seeded_atari_reset_restores_the_state_of_reloading_the_rom():
    from glamor_mini.envs.atari import AtariSuiteEnv

    def episode(env, seed):
        frames = [env.reset(seed=seed)[0]]
        frames += [env.step(a)[0] for a in [1, 2, 3, 0, 4, 5] * 20]  # sticky actions: ALE's RNG
        return np.stack(frames)

    env = AtariSuiteEnv("Pong")
    first = episode(env, 5)
    for s in range(20, 20 + AtariSuiteEnv.MAX_SNAPSHOTS + 2):  # more seeds than it keeps
        env.reset(seed=s)
    assert len(env._after_seeding) == AtariSuiteEnv.MAX_SNAPSHOTS
    again = episode(env, 5)  # reloads (evicted): same as the first time
    restored = episode(env, 5)  # from the snapshot
    fresh = episode(AtariSuiteEnv("Pong"), 5)
    for other in (again, restored, fresh):
        np.testing.assert_array_equal(first, other)
