"""Evaluation in chunks of envs (Task.eval_chunk): the same episodes as all rows at once, and
DM Control's kept evaluation envs (Task.reuse_eval_envs) replaying fresh envs' episodes."""

from __future__ import annotations

import numpy as np
import pytest

from glamor_mini.envs import make_task
from glamor_mini.resolve import make_config
from glamor_mini.rollout import run_episodes


class ScriptedPolicy:
    """Actions fixed by (row, step) alone, and some rows stopping at step 2: the episodes do not
    depend on which rows share a call, so chunked and all-at-once runs must agree exactly."""

    def __init__(self, n_actions: int, horizon: int):
        self.n_actions, self.horizon = n_actions, horizon
        self.batches: list[int] = []

    def act(self, slots, obs, goal, steps_left, new_episode):
        self.batches.append(len(slots))
        t = self.horizon - steps_left
        actions = (slots * 7 + t * 3 + obs.flatten(1).long().sum(1)) % self.n_actions
        return actions, (slots % 5 == 0) & (t == 2)


def _run(task, goals, chunk, record=False):
    task.eval_chunk = chunk
    policy = ScriptedPolicy(task.n_actions, task.horizon)
    return run_episodes(task, policy, goals, seed=4, record=record), policy.batches


def _same(a, b) -> None:
    names = ("start_labels", "final_labels", "steps", "stopped", "trajectories", "final_frames")
    for name in names:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_chunked_evaluation_plays_the_same_episodes_as_all_rows_at_once():
    task = make_task(make_config("debug", seed=0))
    goals = task.eval_goals(0)
    goals = goals.take(np.arange(len(goals)) % len(goals))
    whole, batches = _run(task, goals, None, record=True)
    assert max(batches) == len(goals)
    assert whole.stopped.any() and (~whole.stopped).any() and whole.steps.max() > 2
    for chunk in (1, 3, len(goals) - 1):
        part, batches = _run(task, goals, chunk, record=True)
        assert max(batches) <= chunk  # never more rows at once than the chunk
        _same(whole, part)
        np.testing.assert_array_equal(whole.frames, part.frames)


def test_dmc_kept_eval_envs_in_chunks_give_fresh_envs_episodes(tmp_path):
    pytest.importorskip("dm_control")
    task = make_task(make_config("dmc-debug", goal_dir=str(tmp_path), seed=0))
    assert task.reuse_eval_envs and task.eval_chunk
    goals = task.eval_goals(0)
    goals = goals.take(np.arange(5) % len(goals))
    task.eval_chunk = 2
    first, _ = _run(task, goals, 2)
    pool = list(task._eval_env_pool)
    assert len(pool) == 2  # two envs served all five episodes
    _run(task, goals.take(np.arange(3)), 2)  # other episodes in between
    again, _ = _run(task, goals, 2)
    assert [id(e) for e in task._eval_env_pool] == [id(e) for e in pool]
    fresh_task = make_task(make_config("dmc-debug", goal_dir=str(tmp_path), seed=0))
    fresh_task.reuse_eval_envs = False
    fresh, _ = _run(fresh_task, goals, None)
    assert fresh_task._eval_env_pool is None
    _same(first, again)
    _same(first, fresh)
    task.close()
    assert task._eval_env_pool is None
