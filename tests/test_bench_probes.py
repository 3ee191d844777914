"""The diagnosis scripts on a finished run: bench/final_states.py replays its evaluation (the goal
achievement it prints is the run's own) and bench/encoder_probe.py reads its goal encoder; both
name the labels they can use when asked for another."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from glamor_mini.resolve import make_config
from glamor_mini.train import train

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPT = BENCH / "final_states.py"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "run"
    train(make_config("debug", total_steps=800, log_every=400), out)
    return out


def test_final_states_replays_the_runs_evaluation(finished_run):
    out = finished_run
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


def test_encoder_probe_reads_the_goal_encoder(finished_run):
    script = str(BENCH / "encoder_probe.py")
    done = subprocess.run(
        [sys.executable, script, str(finished_run), "--goals", "40"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert "units dead on 40 training goals" in lines[0]
    r2 = {ln.split()[0]: float(ln.split()[-1]) for ln in lines[1:]}
    assert set(r2) == {"x", "y"} and all(v <= 1.0 for v in r2.values())
    bad = subprocess.run(
        [sys.executable, script, str(finished_run), "--labels", "ball_x"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "no label ['ball_x']" in bad.stderr


def test_eval_speed_times_both_ways_and_gets_the_same_result(tmp_path):
    out = tmp_path / "run"  # episodes of T steps, so "every step" encodes T goals per episode
    train(make_config("debug", total_steps=400, log_every=400, termination="plan_end"), out)
    done = subprocess.run(
        [sys.executable, str(BENCH / "eval_speed.py"), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    episodes, horizon = int(lines[0].split(": ")[1].split()[0]), int(lines[0].split()[-1])
    rows = [ln for ln in lines if ln.strip().startswith("pair 1")]
    assert len(rows) == 2 and "every step" in rows[0] and "once" in rows[1]
    logged = json.loads((out / "eval.json").read_text())["goal_achievement"]
    assert all(f"goal achievement {logged:.3f}" in r for r in rows)
    encoded = [int(r.split(" s for ")[1].split()[0]) for r in rows]
    assert encoded == [episodes * horizon, episodes]  # once per step, against once per episode
    assert "median evaluation:" in done.stdout
