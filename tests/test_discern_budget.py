"""DISCERN at the budget it is given (baselines/discern_target.py): the target period sized to
the run, the warning of a run whose reward cannot reach t = 0, the agent copying at the resolved
period, and Table 1 marking such a cell instead of printing its number."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import gridworld
from glamor_mini.agents import AGENTS, build_agent
from glamor_mini.baselines.discern_target import target_schedule
from glamor_mini.envs.gridworld import GridWorldTask
from glamor_mini.experiments.table1 import aggregate, aggregate_rows, table1_suites
from glamor_mini.presets import preset_config
from glamor_mini.replay import ReplayBuffer
from glamor_mini.resolve import make_config

TINY = "#####\n#...#\n#.S.#\n#...#\n#####\n"  # 3x3 free cells, start in the centre


def table1_config(suite: str, scale: str, **overrides) -> object:
    """Table 1's DISCERN config of `suite` at `scale`, unresolved (no env package needed)."""
    preset, base = table1_suites()[suite].table1_scales[scale]
    cfg = preset_config(preset, **{**base, "algo": "discern", **overrides})
    return cfg.replace(horizon=10) if cfg.horizon == 0 else cfg  # the grid's derived T


# ------------------------------------------------------------------ the sized period
@pytest.mark.parametrize(
    "suite,scale,overrides,updates,needed,period",
    [
        ("atari", "cpu", {}, 3500, 17, 51),  # 4 * 56k / 64; ceil(50 / 3)
        ("dmc", "cpu", {}, 1687, 34, 12),  # floor(2 * 27k / 32); ceil(100 / 3)
        ("grid", "cpu", {}, 2800, 4, 100),  # 16 * 35k / 200 = 2800 // 16 = 175 -> the cap
        ("atari", "paper", {}, 9000, 17, 100),  # 9000 // 68 = 132 -> the cap
        ("dmc", "paper", {}, 9000, 34, 66),  # 9000 // 136
        # the short budgets of docs/results.md: Pong 12k, cartpole 3k (period floored at 1)
        ("atari", "cpu", dict(total_steps=12_000, learning_starts=2_000), 625, 17, 9),
        ("dmc", "cpu", dict(total_steps=3_000, learning_starts=1_000), 125, 34, 1),
    ],
)
def test_sized_target_period_for_known_budgets(suite, scale, overrides, updates, needed, period):
    cfg = table1_config(suite, scale, **overrides)
    sched = target_schedule(cfg)
    assert (sched.updates, sched.needed, sched.period) == (updates, needed, period)
    assert sched.auto and sched.copies == updates // period
    assert sched.copies >= 4 * needed or period == 1  # k = 4 copies per hop, unless floored
    assert sched.copies >= needed and sched.problem is None and cfg.warnings() == []


def test_an_explicit_period_is_honoured_and_zero_is_sized():
    cfg = table1_config("atari", "cpu")
    assert target_schedule(cfg.replace(discern_target_period=7)).period == 7
    assert not target_schedule(cfg.replace(discern_target_period=7)).auto
    assert target_schedule(cfg.replace(discern_target_period=100)).copies == 35
    with pytest.raises(ValueError, match="discern_target_period=-1 must be >= 1, or 0"):
        cfg.replace(discern_target_period=-1).validate()


def test_warning_for_a_budget_whose_reward_cannot_reach_t0():
    # cartpole at 3k steps with the fixed period 100: 125 updates, 1 copy; T = 100 needs 34
    old = table1_config("dmc", "cpu", total_steps=3000, learning_starts=1000)
    (line,) = old.replace(discern_target_period=100).warnings()
    assert "copies the target network 1 time in 125 updates" in line
    assert "ceil(100/3) = 34 copies" in line and "discern_target_period <= 3" in line
    assert old.warnings() == []  # sized: period 1, 125 copies
    # too few updates for any period: warns even when sized
    (line,) = old.replace(total_steps=1_400).warnings()  # 25 updates
    assert "(sized: 0)" in line and "raise total_steps or replay_ratio to >= 34 updates" in line
    # sized budgets, and runs of other algorithms, do not warn
    full = table1_config("dmc", "cpu")  # U = 1687, C = 34: 49 makes 34 copies, 50 makes 33
    assert full.replace(discern_target_period=49).warnings() == []
    assert "33 times in 1687 updates" in full.replace(discern_target_period=50).warnings()[0]
    assert old.replace(discern_target_period=100, algo="glamor").warnings() == []
    # Pong at 12k steps with period 100: 6 copies of the 17 needed
    pong = table1_config("atari", "cpu", total_steps=12_000, learning_starts=2_000)
    assert "6 times in 625 updates" in pong.replace(discern_target_period=100).warnings()[0]


# ------------------------------------------------------------------ the agent
def tiny_agent(**overrides):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    task = GridWorldTask(gridworld.parse_layout(TINY), horizon=4)
    cfg = make_config("debug", algo="discern", horizon=4, **overrides)
    return build_agent(cfg, task, task.train_goals(), torch.device("cpu")), task


def random_replay(task: GridWorldTask, n: int) -> ReplayBuffer:
    rb = ReplayBuffer(n * (task.horizon + 1), task.frame_shape, 1, task.horizon, seed=0)
    gen = torch.Generator().manual_seed(0)
    for i in range(n):
        env = task.make_env()
        frames = [env.reset()[0]]
        actions = torch.randint(task.n_actions, (task.horizon,), generator=gen).numpy()
        for a in actions:
            frames.append(env.step(int(a))[0])
        rb.add_trajectory(np.stack(frames), actions, goal=i % len(task.cells))
    return rb


def test_the_agent_copies_its_target_at_the_resolved_period():
    # debug preset, T = 4: U = floor(4 * 1000 / 32) = 125, C = ceil(4 / 3) = 2 -> 125 // 8 = 15
    agent, task = tiny_agent()
    assert agent.target_period == 15 and agent.extra_state()["target_period"] == 15
    assert agent.acting["discern"]["target_period_sized"] is True
    assert agent.acting["discern"]["target_copies_needed"] == 2
    copies = []
    load = agent.target.load_state_dict

    def counting_load(state, *args, **kwargs):
        copies.append(agent.updates)
        same = all(torch.equal(state[k], v) for k, v in agent.qnet.state_dict().items())
        assert same, "the target gets the online network's weights"
        return load(state, *args, **kwargs)

    agent.target.load_state_dict = counting_load
    rb = random_replay(task, 20)
    for _ in range(46):
        agent.update(agent.sample(rb, 16))
    assert copies == [15, 30, 45]
    for a, b in zip(agent.qnet.parameters(), agent.target.parameters(), strict=True):
        assert not torch.equal(a, b)  # one update since the last copy


def test_an_explicit_period_reaches_the_agent():
    agent, _ = tiny_agent(discern_target_period=3)
    assert agent.target_period == 3 and agent.acting["discern"]["target_period_sized"] is False


def test_budget_problem_hook_is_none_by_default_and_discerns_own():
    cfg = make_config("debug", algo="discern", total_steps=400, discern_target_period=100)
    # debug: T = 6 -> C = 2; U = floor(4 * 200 / 32) = 25 -> 0 copies at period 100
    assert AGENTS["discern"].budget_problem(cfg) == "cannot train (2 target copies needed, 0 made)"
    assert AGENTS["discern"].budget_problem(cfg.replace(discern_target_period=0)) is None
    assert len(cfg.warnings()) == 1 and cfg.replace(discern_target_period=0).warnings() == []
    assert AGENTS["glamor"].budget_problem(cfg) is None
    assert AGENTS["gcsl"].budget_problem(cfg) is None


def test_trainer_makes_the_expected_number_of_updates(tmp_path):
    from glamor_mini.train import train

    cfg = make_config("debug", algo="discern", total_steps=600)
    train(cfg, tmp_path / "run")
    state = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=True)
    assert state["agent"]["extra"]["updates"] == cfg.expected_updates() == 50
    # T = 6, C = 2: 50 // 8 = 6
    assert state["agent"]["extra"]["target_period"] == 6
    ev = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert ev["policy"]["act"] == "greedy argmax Q"


# ------------------------------------------------------------------ Table 1
def _write_run(root: Path, algo: str, seed: int, value: float, **overrides) -> None:
    d = root / "grid" / "empty-7x7" / algo / f"seed{seed}"
    d.mkdir(parents=True)
    cfg = make_config("debug", algo=algo, seed=seed, **overrides)
    (d / "config.json").write_text(json.dumps(cfg.to_dict()))
    (d / "eval.json").write_text(json.dumps({"goal_achievement": value}))


def test_table1_marks_a_cell_that_cannot_train(tmp_path):
    starved = dict(total_steps=400, discern_target_period=100)  # 0 of 2 copies (see above)
    for s, v in enumerate([0.31, 0.37]):
        _write_run(tmp_path, "discern", s, v, **starved)
        _write_run(tmp_path, "glamor", s, v + 0.4, **starved)  # GLAMOR has no such problem
    algos = ["glamor", "discern"]
    rows = aggregate_rows(tmp_path, "grid", ["empty-7x7"], algos, [0, 1])
    g, d = rows
    assert g["cannot_train"] == "" and d["cannot_train"].startswith("cannot train (2 target")
    assert d["mean"] == pytest.approx(0.34)  # the data are kept (CSV), only not shown as a result
    paths = aggregate(tmp_path, "grid", ["empty-7x7"], algos, [0, 1])
    md = paths["md"].read_text()
    assert "cannot train [1] (n=2)" in md and "0.34" not in md
    assert "[1] DISCERN on empty-7x7: cannot train (2 target copies needed, 0 made)" in md
    assert "0.74 ± 0.03 (n=2)" in md
    assert "| **mean** | 0.74 (–) | – (–) | | |" in md  # the marked cell stays out of the mean
    with paths["csv"].open() as fh:
        by_algo = {r["algo"]: r for r in csv.DictReader(fh)}
    assert by_algo["DISCERN"]["cannot_train"] == d["cannot_train"]
    assert by_algo["GLAMOR"]["cannot_train"] == ""
    assert Path(paths["fig2"]).stat().st_size > 0

    # the same runs at a budget DISCERN can train at: a number, no marker
    fine = tmp_path / "fine"
    for s, v in enumerate([0.31, 0.37]):
        _write_run(fine, "discern", s, v, total_steps=400)  # sized: period 3, 8 copies
    (row,) = aggregate_rows(fine, "grid", ["empty-7x7"], ["discern"], [0, 1])
    assert row["cannot_train"] == ""
    md = aggregate(fine, "grid", ["empty-7x7"], ["discern"], [0, 1])["md"].read_text()
    assert "0.34 ± 0.03 (n=2)" in md and "cannot train" not in md
