"""The floor table (`python -m glamor_mini.floor`): random and stop-at-t=0 policies."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from glamor_mini.envs import make_task
from glamor_mini.floor import main, random_floor
from glamor_mini.resolve import make_config


def test_stop_floor_is_the_start_state_judged_against_each_goal(tiny_layout):
    """'stop' ends every episode at t = 0, so its rate is exactly the share of evaluation goals
    that the start state already satisfies (computed here from the env, not the evaluator)."""
    for seed in (0, 1):
        task = make_task(make_config("debug", layout=tiny_layout, horizon=4, seed=seed))
        goals = task.eval_goals(seed)
        starts = np.stack(
            [task.make_env().reset(seed=int(seed * 10_007 + i))[1] for i in range(len(goals))]
        )
        expected = float(task.achieved(starts, goals.labels).mean())
        got = random_floor("debug", [seed], policy="stop", layout=tiny_layout, horizon=4)
        assert got == [pytest.approx(expected)]


def test_random_floor_is_seeded(tiny_layout):
    kw = dict(layout=tiny_layout, horizon=4)
    a = random_floor("debug", [0, 1], **kw)
    assert a == random_floor("debug", [0, 1], **kw)
    assert all(0.0 <= r <= 1.0 for r in a)


def test_cli_both_policies_to_csv(tmp_path, tiny_layout, capsys):
    out = tmp_path / "floor.csv"
    rc = main(
        ["--preset", "debug", "--seeds", "0", "--policy", "both", "--csv", str(out)]
        + ["--set", f"layout={tiny_layout}", "horizon=4"]
    )
    assert rc == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["policy"] for r in rows] == ["random", "stop"]
    assert "stop" in capsys.readouterr().out


def test_unknown_floor_policy_is_a_clear_error():
    with pytest.raises(ValueError, match="expected one of random, stop"):
        random_floor("debug", [0], policy="greedy")
    with pytest.raises(SystemExit):
        main(["--policy", "greedy"])


def test_eval_splits_achievement_at_start_from_beyond_start(tiny_layout):
    """start_achieved_rate is what stopping at once earns; achievement_beyond_start is the rest."""
    from glamor_mini.evaluate import evaluate
    from glamor_mini.policies import StopPolicy, UniformRandomPolicy

    task = make_task(make_config("debug", layout=tiny_layout, horizon=4, seed=0))
    goals = task.eval_goals(0)
    stop = evaluate(task, None, None, goals, policy=StopPolicy(task.n_actions))
    assert stop.start_achieved_rate == pytest.approx(stop.goal_achievement)
    assert stop.start_achieved_rate > 0  # the start cell is one of the 9 goals
    assert stop.achievement_beyond_start == 0.0
    rnd = evaluate(task, None, None, goals, 3, policy=UniformRandomPolicy(task.n_actions, 1))
    at_start = np.array([g["met_at_start"] for g in rnd.per_goal])
    hit = np.array([g["achieved"] for g in rnd.per_goal])
    assert rnd.start_achieved_rate == pytest.approx(at_start.mean())
    assert rnd.achievement_beyond_start == pytest.approx(hit[at_start == 0].mean())


@pytest.mark.parametrize("n", ["0", "-2"])
def test_episodes_per_goal_below_one_is_one_clear_error(n, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--preset", "debug", "--seeds", "0", "--episodes_per_goal", n])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith(f"error: --episodes_per_goal {n}: must be >= 1")
    with pytest.raises(ValueError, match="episodes_per_goal=0 must be >= 1"):
        random_floor("debug", [0], episodes_per_goal=0)


def test_csv_under_a_file_fails_before_any_evaluation(tmp_path, capsys, monkeypatch):
    import glamor_mini.floor as floor

    calls = []
    monkeypatch.setattr(floor, "floor_results", lambda *a, **k: calls.append(a) or [])
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SystemExit) as info:
        main(["--preset", "debug", "--seeds", "0", "--csv", str(tmp_path / "afile" / "t.csv")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "afile is a file, not a folder" in err
    assert calls == []  # nothing was computed


def test_over_converts_values_to_the_field_type(tmp_path, tiny_layout, capsys):
    out = tmp_path / "floor.csv"
    rc = main(
        ["--preset", "debug", "--seeds", "0", "--over", "horizon", "--values", "1", "4"]
        + ["--set", f"layout={tiny_layout}", "--csv", str(out)]
    )
    assert rc == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["value"] for r in rows] == ["1", "4"]
    # T = 1 from the centre of a 3x3 room reaches only the 4 neighbours among 9 goals; T = 4
    # reaches more: the horizon really changed (as an int).
    assert float(rows[0]["mean"]) <= 4 / 9
    with pytest.raises(SystemExit):
        main(["--preset", "debug", "--seeds", "0", "--over", "horizon", "--values", "2.5"])
    assert "expected int for horizon, got '2.5'" in capsys.readouterr().err


def test_progress_is_one_plain_line_per_evaluation_when_not_a_terminal(tiny_layout, capsys):
    rc = main(["--preset", "debug", "--seeds", "0", "1", "--set", f"layout={tiny_layout}"])
    assert rc == 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert [x.split(" debug")[0] for x in lines] == ["floor 1/2", "floor 2/2"]
    assert "\r" not in err and "seed 1" in lines[1]
    assert out.count("\n") == 1 and out.startswith("debug")  # the table row on stdout
