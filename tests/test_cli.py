"""`python -m glamor_mini.run`: presets, field options, and one clear error per bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from glamor_mini.config import Config, ConfigError, field_docs
from glamor_mini.resolve import make_config
from glamor_mini.run import main


def run_cli(args, capsys):
    try:
        code = main(args)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_debug_preset_end_to_end(tmp_path, capsys):
    code, out, _ = run_cli(["debug", "--out", str(tmp_path / "r"), "--seed", "2"], capsys)
    assert code == 0
    summary = json.loads(out[out.index("{\n") : out.rindex("}") + 1])
    assert "step 400/1200" in out, "one plain progress line per log interval"
    assert summary["agent_steps"] == 1200 and 0.0 <= summary["goal_achievement"] <= 1.0
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["seed"] == 2 and cfg["horizon"] == 6


def test_help_lists_every_field_with_its_doc():
    proc = subprocess.run(
        [sys.executable, "-m", "glamor_mini.run", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    docs = field_docs()
    for name in Config.__dataclass_fields__:
        assert f"--{name}" in proc.stdout
        assert docs[name], f"field {name} has no docstring"
    assert "Gradient-norm clip" in proc.stdout.replace("\n", " ").replace("  ", " ")


@pytest.mark.parametrize(
    "args,needle",
    [
        (["nosuchpreset"], "unknown preset 'nosuchpreset'"),
        (["debug", "--horizn", "5"], "unknown option --horizn (did you mean --horizon"),
        (["debug", "--horizon", "abc"], "expected an integer"),
        (["debug", "--horizon", "-1"], "horizon=-1 must be >= 1"),
        (["debug", "--n_candidates", "0"], "n_candidates=0 must be >= 1"),
        (["debug", "--termination", "sometimes"], "termination='sometimes' is not accepted"),
        (["debug", "--collect_prior", "maybe"], "expected true or false"),
        (["debug", "--gamma", "1.5"], "gamma=1.5 must be in (0, 1]"),
        (["debug", "--torch_threads", "-1"], "torch_threads=-1 must be >= 0"),
        (["debug", "--lr", "inf"], "lr=inf must be a finite number"),
        (["debug", "--clip_p_actions", "nan"], "clip_p_actions=nan must be a finite number"),
        (["debug", "--buffer_size", "1e12", "--total_steps", "1e12"], "needs 156.4 TiB"),
    ],
)
def test_bad_input_gives_one_clear_error_and_writes_nothing(args, needle, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(args + ["--out", str(out)], capsys)
    assert code == 2
    assert needle in err
    assert not out.exists()


def test_malformed_layout_file(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("#####\n#..x#\n#####\n")
    out = tmp_path / "run"
    code, _, err = run_cli(["debug", "--layout", str(bad), "--out", str(out)], capsys)
    assert code == 2 and "line 2, column 4" in err and "unknown character" in err
    assert not out.exists()


def test_corrupt_checkpoint_via_cli(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(["debug", "--out", str(out)], capsys)[0] == 0
    (out / "ckpt.pt").write_bytes(b"\x00garbage")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, _, err = run_cli(["debug", "--out", str(out)], capsys)
    assert code == 2 and "cannot load" in err and "corrupt" in err
    assert before == {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


def test_config_validation_and_types():
    with pytest.raises(ConfigError, match="expected int"):
        make_config("debug", horizon=2.5)
    with pytest.raises(ConfigError, match="unknown config field"):
        make_config("debug", horizn=3)
    with pytest.raises(ConfigError, match="unknown preset"):
        make_config("nope")
    assert make_config("gridworld").gamma == 0.5


def test_parser_error_comes_first_and_points_to_help(capsys):
    code, _, err = run_cli(["debug", "--horizon", "abc"], capsys)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 2
    assert lines[0].startswith("error: ") and "expected an integer" in lines[0]
    assert "--help" in lines[1]


def _help(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "glamor_mini.run", *args, "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "COLUMNS": "250"},
    )
    return proc.stdout


def _help_default(text: str, name: str) -> str:
    line = next(x for x in text.splitlines() if x.lstrip().startswith(f"--{name} "))
    return line[line.rindex("(default: ") + 10 : -1]


def test_help_after_a_preset_shows_the_values_that_preset_uses():
    grid = _help("gridworld")
    assert _help_default(grid, "total_steps") == "40000"
    assert _help_default(grid, "horizon") == "10"
    assert _help_default(grid, "encoder") == "'mlp'"
    assert "the values the gridworld preset uses" in grid
    base = _help()
    assert _help_default(base, "total_steps") == "500000"
    assert _help_default(base, "horizon") == "50"


def test_help_lists_the_sub_commands():
    from glamor_mini.experiments import EXPERIMENTS

    text = _help()
    assert "sweep EXPERIMENT" in text
    for name in EXPERIMENTS:
        assert name in text


def test_warns_when_no_gradient_update_happens(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(["debug", "--total_steps", "100", "--out", str(out)], capsys)
    assert code == 0
    assert "warning: total_steps=100 with learning_starts=200" in err and "no gradient" in err


def test_binary_layout_file_is_one_line_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "maze.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    out = tmp_path / "run"
    code, _, err = run_cli(["debug", "--layout", str(bad), "--out", str(out)], capsys)
    first, *rest = err.strip().splitlines()
    assert code == 2 and f"layout file '{bad}' is not a text file" in first
    assert rest in ([], ["(run `python -m glamor_mini.run --help` for the accepted options)"])
    assert not out.exists()
