"""One rollout engine (rollout.py): goal-set generation (envs/goals.py) and the termination
experiment step environments only through it, with the same numbers as before (the goal sets'
hashes and the reachable fractions below were recorded with the code that stepped envs itself)."""

from __future__ import annotations

import hashlib
import inspect

import numpy as np
import pytest

import glamor_mini.envs.goals as goals
import glamor_mini.experiments.termination as termination
from glamor_mini.envs import make_task
from glamor_mini.resolve import make_config


def _hash(gs) -> str:
    m = hashlib.sha256()
    for a in (gs.frames, gs.labels, gs.ranges):
        m.update(np.ascontiguousarray(a).tobytes())
    return m.hexdigest()[:16]


def test_goals_and_termination_do_not_step_envs_themselves():
    for module in (goals, termination):
        src = inspect.getsource(module)
        assert ".step(" not in src and ".reset(" not in src, module.__name__
        assert "rollout(" in src


@pytest.mark.parametrize(
    "preset,extra,eval0,train1",
    [
        ("atari-debug", "ale_py", "415dac7b5029301d", "d9326d6d6c8e2815"),
        ("dmc-debug", "dm_control", "08151f6f52cceb71", "b1b2df498d1eb932"),
    ],
)
def test_goal_sets_are_the_same_as_before(preset, extra, eval0, train1):
    pytest.importorskip(extra)
    task = make_task(make_config(preset, goal_dir=""))  # built here, not loaded from a file
    assert _hash(task.eval_goals(0)) == eval0
    assert _hash(task.train_goals(1)) == train1


@pytest.mark.parametrize(
    "layout,horizon,stay,at_t,at_3",
    [
        ("empty-7x7", 10, False, 1.0, 0.32653061224489793),
        ("four-rooms", 9, False, 0.6826923076923077, 0.15384615384615385),
        ("mountain", 7, True, 0.11594202898550725, 0.057971014492753624),
    ],
)
def test_exactly_at_t_reachable_is_the_same_as_before(layout, horizon, stay, at_t, at_3):
    cfg = make_config("debug", layout=layout, horizon=horizon, allow_stay=stay)
    task = make_task(cfg)
    assert termination.exactly_at_t_reachable(task) == at_t
    assert termination.exactly_at_t_reachable(task, 3) == at_3
