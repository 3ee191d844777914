"""bench/final_states.py replays a finished run's evaluation: the goal achievement it prints is
the run's own (eval.json), and it names the labels it can count when asked for another."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from glamor_mini.resolve import make_config
from glamor_mini.train import train

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "final_states.py"


def test_final_states_replays_the_runs_evaluation(tmp_path):
    out = tmp_path / "run"
    train(make_config("debug", total_steps=800, log_every=400), out)
    logged = json.loads((out / "eval.json").read_text())["goal_achievement"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True, check=True
    )
    assert f"goal achievement {logged:.3f}" in done.stdout
    assert "x " in done.stdout and "distinct final states over x, y" in done.stdout
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), "--labels", "ball_x"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "no label ['ball_x']; this task scores ['x', 'y']" in bad.stderr
