"""docs/runbook.md's commands run: every `python -m glamor_mini.run ...` line of its fenced bash
blocks is parsed at its own scale (--dry-run: flags, suites, envs, algorithms, seeds are all
accepted), then run end to end at --scale tiny, serially, with one seed, into a temporary folder.
The tiny runs use one environment per suite (the tiny path is the same for every env of a suite)
and keep each command's other options; commands sharing an --out share a temporary folder, so a
later command reuses the runs of an earlier one, as the runbook says. The tiny runs took 45-102 s
on a shared 2-core CPU over three runs (Pong and cartpole/balance, three algorithms, a floor
each)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

RUNBOOK = Path(__file__).resolve().parents[1] / "docs" / "runbook.md"
PREFIX = ["python", "-m", "glamor_mini.run"]
TINY_ENV = {"atari": "Pong", "dmc": "cartpole/balance"}  # suites with several envs: run one


def runbook_commands(text: str | None = None) -> list[list[str]]:
    """argv (after `python -m glamor_mini.run`) of every command in the ```bash blocks, with
    backslash continuations joined and comments dropped."""
    text = RUNBOOK.read_text() if text is None else text
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:3] == PREFIX:
                out.append(words[3:])
    return out


def options(argv: list[str]) -> dict[str, list[str]]:
    """--flag -> the values after it (a flag with none -> [])."""
    out: dict[str, list[str]] = {}
    key = None
    for word in argv[1:]:
        if word.startswith("--"):
            key = word
            out.setdefault(key, [])
        elif key is not None:
            out[key].append(word)
    return out


def tiny(argv: list[str], out_dirs: dict[str, Path], tmp: Path) -> list[str]:
    """The command at --scale tiny, one seed, serial, one env per suite, into a temp folder."""
    opts = options(argv)
    out = opts.get("--out", ["runs/table1"])[0]
    out_dirs.setdefault(out, tmp / f"out{len(out_dirs)}")
    suite = opts.get("--suite", ["atari"])[0]
    opts["--out"] = [str(out_dirs[out])]
    opts.pop("--address", None)
    opts.pop("--cpus_per_run", None)
    opts.pop("--gpus_per_run", None)
    if "--aggregate-only" not in opts:
        opts["--scale"] = ["tiny"]
        opts["--seeds"] = ["0"]
        opts["--executor"] = ["serial"]
    if suite in TINY_ENV:
        opts["--envs"] = [TINY_ENV[suite]]
    opts.setdefault("--set", []).extend(["torch_threads=1", f"goal_dir={tmp / 'goals'}"])
    return [argv[0]] + [w for k, vals in opts.items() for w in (k, *vals)]


def test_the_runbook_has_the_paper_scale_commands():
    commands = runbook_commands()
    paper = [c for c in commands if options(c).get("--scale") == ["paper"]]
    suites = {options(c)["--suite"][0] for c in paper}
    assert suites == {"atari", "dmc"}, "all of Table 1: both suites at paper scale"
    assert any(options(c).get("--envs") == ["Pong"] for c in paper), "one game"
    assert all(c[0] == "table1" for c in commands), commands


def test_parsing_the_commands_of_a_text():
    text = (
        "```bash\npython -m glamor_mini.run table1 --suite dmc --scale paper \\\n"
        "    --seeds 0 1   # a comment\npython bench/gpu.py OUT\n```\n"
        "python -m glamor_mini.run outside --a-block\n"
    )
    assert runbook_commands(text) == [
        ["table1", "--suite", "dmc", "--scale", "paper", "--seeds", "0", "1"]
    ]
    argv = tiny(runbook_commands(text)[0], {}, Path("/t"))
    assert argv == [
        "table1", "--suite", "dmc", "--scale", "tiny", "--seeds", "0", "--out", "/t/out0",
        "--executor", "serial", "--envs", "cartpole/balance", "--set", "torch_threads=1",
        "goal_dir=/t/goals",
    ]  # fmt: skip


def test_every_command_is_accepted_at_its_own_scale(capsys):
    """--dry-run builds every job of every command (env names, algorithms, scale, --set)."""
    from glamor_mini.run import main

    for argv in runbook_commands():
        if "--aggregate-only" in argv:
            continue
        assert main([*argv, "--dry-run"]) == 0, argv
        assert "train " in capsys.readouterr().out, argv


def test_every_command_runs_at_tiny_scale(tmp_path, capsys):
    from glamor_mini.run import main

    out_dirs: dict[str, Path] = {}
    for argv in runbook_commands():
        argv = tiny(argv, out_dirs, tmp_path)
        assert main(argv) == 0, (argv, capsys.readouterr().err[-2000:])
    table = out_dirs["runs/table1"] / "atari" / "table1.md"
    assert "Pong" in table.read_text()
