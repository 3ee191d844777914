"""Inputs a new user may type: each is refused up front with one line that says what was wrong
and what is accepted, or reported without stopping the rest (table1)."""

from __future__ import annotations

import pytest

import gridworld
from glamor_mini.config import ConfigError
from glamor_mini.experiments.table1 import main as table1_main
from glamor_mini.resolve import make_config


@pytest.mark.parametrize("suite,accepted", [("dmc", "cartpole/balance"), ("atari", "Pong")])
def test_table1_unknown_envs_are_refused_up_front_and_by_dry_run(suite, accepted, capsys):
    argv = ["--suite", suite, "--envs", "nosuch", "--scale", "tiny", "--executor", "serial"]
    for extra in ([], ["--dry-run"]):
        assert table1_main([*argv, *extra]) == 2
        err = capsys.readouterr().err
        assert "--envs nosuch" in err and "accepted:" in err and accepted in err


def test_table1_with_a_changed_set_reports_that_run_and_finishes_the_others(tmp_path, capsys):
    base = ["--suite", "grid", "--envs", "empty-7x7", "--algos", "glamor", "--scale", "tiny"]
    base += ["--out", str(tmp_path), "--executor", "serial", "--set", "total_steps=80"]
    base += ["learning_starts=40", "eval_every=0", "checkpoint_every=0", "eval_episodes=1"]
    assert table1_main([*base, "--seeds", "0"]) == 0
    capsys.readouterr()
    code = table1_main([*base, "lr=0.002", "--seeds", "0", "1"])
    out, err = capsys.readouterr()
    assert code == 1, "the changed runs are reported as failed"
    assert "lr: 0.001 -> 0.002" in err and "glamor/seed0" in err
    assert (tmp_path / "grid" / "empty-7x7" / "glamor" / "seed1" / "eval.json").is_file()
    assert "| empty-7x7 |" in out, "the table is still written"


def _write(tmp_path, text: str) -> str:
    path = tmp_path / "layout.txt"
    path.write_text(text)
    return str(path)


def test_a_layout_file_without_start_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no start cell 'S'; a layout needs exactly one S"):
        make_config("debug", layout=_write(tmp_path, "#####\n#...#\n#...#\n#####\n"))


def test_a_single_free_cell_is_refused_not_reported_as_success(tmp_path):
    with pytest.raises(ConfigError, match="1 free cell.*at least two free cells"):
        make_config("debug", layout=_write(tmp_path, "S"))
    with pytest.raises(ConfigError, match="1 free cell"):
        make_config("debug", layout=_write(tmp_path, "###\n#S#\n###\n"))


def test_the_memory_check_counts_both_copies_of_the_goal_set(monkeypatch):
    import glamor_mini.resources as resources
    from glamor_mini.envs.gridworld import GridWorldTask

    n = 300
    text = "\n".join(["#" * n] + ["#" + "." * (n - 2) + "#"] * (n - 2) + ["#" * n])
    text = text.replace(".", "S", 1)
    lay = gridworld.parse_layout(text, name="big")
    one_copy = int((~lay.walls).sum()) * 2 * n * n
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: int(1.5 * one_copy))
    with pytest.raises(ValueError, match=r"300x300, 88,804 free cells.*held twice"):
        GridWorldTask(lay)
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: int(2.5 * one_copy))
    assert len(GridWorldTask(lay).cells) == 88_804  # both copies fit: accepted
