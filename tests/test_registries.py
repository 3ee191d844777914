"""One registry per concept: a new suite or a new algorithm is one module plus its registration.

The two modules below are written out as a contributor would add them (docs/design.md walks
through both); the test imports them and runs them through `run` and `table1 --scale tiny`.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import pytest

from glamor_mini.agents import AGENTS
from glamor_mini.envs import SUITES

TOY_SUITE = '''
"""A toy suite: a corridor of 5 cells; frames show the agent's cell; goals are the cells."""
import numpy as np

from glamor_mini.envs.base import GoalSet, Task
from glamor_mini.envs.registry import Suite, register_suite

N = 5


def frame(x):
    f = np.zeros((1, 1, N), np.uint8)
    f[0, 0, x] = 255
    return f


class CorridorEnv:
    def reset(self, seed=None):
        self.x = 0
        return frame(self.x), np.array([self.x], np.float32)

    def step(self, action):
        self.x = min(max(self.x + (1 if action == 1 else -1), 0), N - 1)
        return frame(self.x), np.array([self.x], np.float32), False


class CorridorTask(Task):
    name, n_actions, frame_shape, frame_stack, label_names = "corridor", 2, (1, 1, N), 1, ("x",)

    def __init__(self, horizon):
        self.horizon = horizon

    def make_env(self):
        return CorridorEnv()

    def train_goals(self, seed=0):
        cells = np.arange(N)
        return GoalSet(np.stack([frame(x) for x in cells]), cells[:, None].astype(np.float32))

    eval_goals = train_goals

    def achieved(self, labels, goal_labels):
        return np.all(np.asarray(labels) == np.asarray(goal_labels), axis=-1)


register_suite(
    Suite(
        "corridor",
        lambda cfg: CorridorTask(cfg.horizon),
        paper_envs=("corridor-5",),
        table1_scales={"tiny": ("debug", {"suite": "corridor"})},
    )
)
'''

TOY_ALGO = '''
"""A toy algorithm: GLAMOR whose evaluation planner ignores the action prior."""
import dataclasses

from glamor_mini.agents import GlamorAgent, register_agent


@register_agent("toy")
class ToyAgent(GlamorAgent):
    name = "TOY"

    def eval_policy(self, seed):
        policy = super().eval_policy(seed)
        policy.settings = dataclasses.replace(policy.settings, mode="no_prior")
        return policy
'''


@pytest.fixture
def toy_modules(tmp_path, monkeypatch):
    for name, text in (("toy_suite_mod", TOY_SUITE), ("toy_algo_mod", TOY_ALGO)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("toy_suite_mod")  # registration: SUITES["corridor"]
    importlib.import_module("toy_algo_mod")  # registration: AGENTS["toy"]
    yield
    SUITES.pop("corridor", None)
    AGENTS.pop("toy", None)
    for name in ("toy_suite_mod", "toy_algo_mod"):
        sys.modules.pop(name, None)


TINY = ["--total_steps", "240", "--learning_starts", "80", "--log_every", "80"]


def test_a_new_suite_and_a_new_algorithm_run_through_run(toy_modules, tmp_path, capsys):
    from glamor_mini.run import main

    out = tmp_path / "run"
    argv = ["debug", "--suite", "corridor", "--algo", "toy", "--device", "cpu", *TINY]
    assert main([*argv, "--progress", "false", "--out", str(out)]) == 0
    ev = json.loads((out / "eval.json").read_text())
    assert len(ev["per_goal"]) == 5 and 0.0 <= ev["goal_achievement"] <= 1.0
    assert json.loads((out / "config.json").read_text())["algo"] == "toy"


def test_a_new_suite_and_a_new_algorithm_are_in_table1(toy_modules, tmp_path, capsys):
    from glamor_mini.experiments.table1 import main

    sets = ["total_steps=160", "learning_starts=80", "log_every=80", "progress=false"]
    argv = ["--suite", "corridor", "--scale", "tiny", "--seeds", "0", "--algos", "toy"]
    code = main([*argv, "--executor", "serial", "--out", str(tmp_path), "--set", *sets])
    assert code == 0
    table = (tmp_path / "corridor" / "table1.md").read_text()
    assert "TOY" in table and "corridor-5" in table
    assert (tmp_path / "corridor" / "corridor-5" / "toy" / "seed0" / "eval.json").is_file()
    assert (tmp_path / "corridor" / "corridor-5" / "floor" / "seed0" / "floor.json").is_file()
