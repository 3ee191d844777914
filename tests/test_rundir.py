"""A run directory you can trust (rundir.py): no code from checkpoints, one experiment per
directory, preemption-safe, rows that never repeat, output a person can read in a pipe."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from glamor_mini.agents import NonFiniteLossError, build_agent
from glamor_mini.envs import make_task
from glamor_mini.experiments.common import load_run
from glamor_mini.replay import ReplayBuffer
from glamor_mini.resolve import make_config
from glamor_mini.rundir import CheckpointError, RunDirError, restore_generators
from glamor_mini.train import train

ROOT = Path(__file__).resolve().parents[1]


def steps_of(run: Path) -> list[int]:
    with (run / "progress.csv").open() as fh:
        return [int(r["agent_steps"]) for r in csv.DictReader(fh)]


def files_of(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


class _Payload:
    """Unpickling this runs `touch MARKER`, the shape of a crafted checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# ---------------------------------------------------------------------------------- security
def test_a_crafted_checkpoint_never_runs(tmp_path, capsys):
    out = tmp_path / "run"
    train(make_config("debug", total_steps=400, checkpoint_every=400), out)
    marker = tmp_path / "PWNED"
    state = torch.load(out / "ckpt.pt", weights_only=True)
    state["extra"] = _Payload(marker)
    torch.save(state, out / "ckpt.pt")
    before = files_of(out)
    with pytest.raises(CheckpointError, match="NOT loaded") as err:
        train(make_config("debug", total_steps=800, checkpoint_every=400), out)
    assert "\n" not in str(err.value), "one clear line"
    with pytest.raises(ValueError, match="NOT loaded"):
        load_run(out)
    from glamor_mini.run import main

    assert main(["debug", "--total_steps", "800", "--out", str(out)]) == 2
    assert not marker.exists(), "the payload ran"
    assert files_of(out) == before, "nothing was rewritten"
    assert capsys.readouterr().err.strip().count("\n") == 0


# ---------------------------------------------------------------------------------- provenance
def test_another_presets_run_dir_killed_before_its_first_checkpoint_is_refused(tmp_path):
    out = tmp_path / "run"

    class Kill(RuntimeError):
        pass

    def kill(trainer):
        if trainer.agent_steps >= 400:
            raise Kill

    with pytest.raises(Kill):  # progress.csv and config.json, but no ckpt.pt yet
        cfg = make_config("debug", total_steps=1200, checkpoint_every=0, log_every=200)
        train(cfg, out, on_step=kill)
    assert not (out / "ckpt.pt").exists() and steps_of(out) == [200, 400]
    with pytest.raises(RunDirError, match=r"horizon: 6 -> 10"):
        train(make_config("gridworld", total_steps=800, progress=False), out)
    # the same experiment starts afresh: the killed session's rows are dropped, not mixed in
    cfg = make_config("debug", total_steps=600, checkpoint_every=0, log_every=200)
    train(cfg, out)
    assert steps_of(out) == [200, 400, 600]


def test_a_checkpoint_from_another_seed_is_not_adopted(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train(make_config("debug", total_steps=400, seed=0), a)
    b.mkdir()
    shutil.copy(a / "ckpt.pt", b / "ckpt.pt")  # config.json deliberately missing
    with pytest.raises(RunDirError, match=r"seed: 0 -> 1 \(in ckpt.pt\)"):
        train(make_config("debug", total_steps=800, seed=1), b)


def test_deleted_config_json_resumes_from_the_checkpoints_own_config(tmp_path):
    out = tmp_path / "run"
    train(make_config("debug", total_steps=400), out)
    (out / "config.json").unlink()
    result = train(make_config("debug", total_steps=800), out)
    assert result.agent_steps == 800 and steps_of(out) == [400, 800]
    assert json.loads((out / "config.json").read_text())["total_steps"] == 800


def test_an_edited_layout_file_is_another_experiment(tmp_path):
    layout = tmp_path / "maze.txt"
    layout.write_text("#######\n#.....#\n#.#.#.#\n#..S..#\n#.#.#.#\n#.....#\n#######\n")
    out = tmp_path / "run"
    train(make_config("debug", total_steps=400, layout=str(layout)), out)
    layout.write_text("#######\n#.....#\n#.###.#\n#..S..#\n#.#.#.#\n#.....#\n#######\n")
    with pytest.raises(RunDirError, match="layout file's contents changed"):
        train(make_config("debug", total_steps=800, layout=str(layout)), out)


# ---------------------------------------------------------------------------------- reruns
def test_rerunning_a_finished_run_does_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    first = train(make_config("debug", total_steps=800, log_every=400), out)
    before = files_of(out)
    again = train(make_config("debug", total_steps=800, log_every=400), out)
    assert again.already_finished and "already finished (eval.json" in capsys.readouterr().out
    assert again.eval.goal_achievement == first.eval.goal_achievement
    assert files_of(out) == before
    # asked to re-evaluate: still one row per step, and the last row is the new evaluation
    # (eval.json's), not the old one: the final row is marked here to tell them apart
    progress = out / "progress.csv"
    rows = list(csv.DictReader(progress.open()))
    rows[-1]["eval_goal_achievement"] = "0.123456"
    with progress.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    train(make_config("debug", total_steps=800, log_every=400), out, reevaluate=True)
    assert steps_of(out) == [400, 800]
    last = list(csv.DictReader(progress.open()))[-1]
    evaluated = json.loads((out / "eval.json").read_text())["goal_achievement"]
    assert float(last["eval_goal_achievement"]) == pytest.approx(evaluated)
    assert float(last["eval_goal_achievement"]) == pytest.approx(first.eval.goal_achievement)
    assert {k: v for k, v in last.items() if not k.startswith("eval_")} == {
        k: v for k, v in rows[-1].items() if not k.startswith("eval_")
    }  # the training columns of that row stay


def test_interrupts_never_make_rows_repeat_or_go_backwards(tmp_path):
    out = tmp_path / "run"
    cfg = make_config("debug", total_steps=1600, checkpoint_every=800, log_every=200)
    for stop_at in (300, 1000, 1400):

        def stop(trainer, at=stop_at):
            if trainer.agent_steps >= at:
                raise RuntimeError("killed")

        with pytest.raises(RuntimeError):
            train(cfg, out, on_step=stop)
    train(cfg, out)
    steps = steps_of(out)
    assert steps == sorted(set(steps)) and steps[-1] == 1600


# ---------------------------------------------------------------------------------- signals
def _cli(out: Path, *extra: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "glamor_mini.run", "debug", "--out", str(out), *extra]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )


def _wait_for_rows(out: Path, n: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if (out / "progress.csv").exists() and len(steps_of(out)) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.communicate()}")
        time.sleep(0.2)
    raise AssertionError("no progress rows")


def test_sigterm_writes_a_checkpoint_and_ends_with_one_line(tmp_path):
    out = tmp_path / "run"
    args = ("--total_steps", "100000", "--log_every", "200", "--checkpoint_every", "0")
    proc = _cli(out, *args)
    _wait_for_rows(out, 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err  # 128 + SIGTERM (130 is Ctrl-C)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted at step ") and "rerun the same command to resume" in last
    step = int(last.split()[3].rstrip(";"))
    saved = torch.load(out / "ckpt.pt", weights_only=True)
    assert saved["counters"]["agent_steps"] == step >= 400


def test_sigkill_at_any_moment_then_rerun_finishes_cleanly(tmp_path):
    out = tmp_path / "run"
    args = ("--total_steps", "2400", "--log_every", "200", "--checkpoint_every", "400")
    for rows in (1, 3, 5):  # before the first checkpoint, between, after several
        proc = _cli(out, *args)
        try:
            _wait_for_rows(out, rows, proc)
        except AssertionError:
            pass  # finished already on a fast machine: fine
        proc.kill()
        proc.communicate()
    # a write that a kill interrupted leaves a temp file; the next start removes it
    out.mkdir(parents=True, exist_ok=True)  # (a very slow machine may not have made it yet)
    (out / ".ckpt.pt.99999.tmp").write_bytes(b"half a checkpoint")
    proc = _cli(out, *args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    steps = steps_of(out)
    assert steps == sorted(set(steps)) and steps[-1] == 2400
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert json.loads((out / "eval.json").read_text())["agent_steps"] == 2400


def test_piped_output_is_one_plain_line_per_log_and_evaluation(tmp_path):
    out = tmp_path / "run"
    proc = _cli(out, "--total_steps", "800", "--log_every", "200", "--eval_every", "400")
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "\r" not in stdout and "\r" not in err
    lines = [ln for ln in stdout.splitlines() if " step " in ln and "/800" in ln]
    assert len(lines) == 4, stdout
    assert sum("eval at step" in ln for ln in stdout.splitlines()) == 2


# ---------------------------------------------------------------------------------- pieces
def test_replay_is_saved_without_a_second_copy():
    r = ReplayBuffer(1000, (1, 4, 4), 1, horizon=5, seed=0)
    for _ in range(10):
        r.add_trajectory(torch.zeros(6, 1, 4, 4, dtype=torch.uint8), torch.zeros(5))
    s = r.state_dict()
    assert s["frames"].data_ptr() == r.frames.data_ptr(), "shares the ring's memory"
    assert s["frames"].untyped_storage().nbytes() == 60 * 16, "holds only the used frames"


def test_generators_saved_on_another_device_type_are_reseeded_with_a_note():
    saved_gen = torch.Generator().manual_seed(5)
    torch.rand(3, generator=saved_gen)
    g = torch.Generator()
    notes: list[str] = []
    restore_generators(
        {"planner": g},
        {"planner": {"device": "cpu", "state": saved_gen.get_state()}},
        0,
        notes.append,
    )
    assert torch.equal(g.get_state(), saved_gen.get_state()) and not notes
    fake_cuda = {"planner": {"device": "cuda", "state": torch.zeros(16, dtype=torch.uint8)}}
    restore_generators({"planner": g}, fake_cuda, reseed=42, warn=notes.append)
    assert len(notes) == 1 and "saved on cuda" in notes[0]
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(42).get_state())


def test_out_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="is under .*file, which is a file"):
        train(make_config("debug"), tmp_path / "file" / "run")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_run_dir_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(RunDirError, match="not writable"):
            train(make_config("debug"), ro / "run")
    finally:
        ro.chmod(0o755)


def test_a_non_finite_loss_stops_training_with_a_clear_error():
    cfg = make_config("debug")
    task = make_task(cfg)
    agent = build_agent(cfg, task, task.train_goals(0), torch.device("cpu"))
    w = next(agent.model.parameters())
    with pytest.raises(NonFiniteLossError, match="loss became nan"):
        agent.step_optimizer(w.sum() * float("nan"), agent.optimizer, agent.model.parameters())


def test_a_run_dir_from_an_older_version_without_a_new_field_resumes(tmp_path):
    out = tmp_path / "run"
    train(make_config("debug", total_steps=400), out)
    cfg_json = json.loads((out / "config.json").read_text())
    del cfg_json["alpha"]  # as written before that field existed
    (out / "config.json").write_text(json.dumps(cfg_json))
    assert train(make_config("debug", total_steps=800), out).agent_steps == 800
    with pytest.raises(RunDirError, match="alpha: 1.0 -> 0.5"):  # not its default: refused
        train(make_config("debug", total_steps=1200, alpha=0.5), out)


# ---------------------------------------------------------------------------------- whose files
def test_results_without_their_checkpoint_are_never_overwritten(tmp_path):
    out = tmp_path / "run"
    train(make_config("debug", total_steps=400, progress=False), out)
    (out / "ckpt.pt").unlink()
    before = files_of(out)
    with pytest.raises(RunDirError, match=r"eval.json\) but its ckpt.pt is missing") as err:
        train(make_config("debug", total_steps=400, progress=False), out)
    assert "\n" not in str(err.value) and "Restore ckpt.pt" in str(err.value)
    assert files_of(out) == before, "nothing was rewritten"
    (out / "config.json").unlink()
    before = files_of(out)
    with pytest.raises(RunDirError, match="ckpt.pt and config.json are missing"):
        train(make_config("debug", total_steps=400, seed=1, progress=False), out)
    assert files_of(out) == before, "nothing was rewritten"
    (out / "eval.json").unlink()  # progress.csv and events remain: still another run's results
    with pytest.raises(RunDirError, match=r"holds another run's results \(.*progress.csv"):
        train(make_config("debug", total_steps=400, seed=1, progress=False), out)


def test_a_non_empty_directory_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "data").mkdir()
    with pytest.raises(RunDirError) as err:
        train(make_config("debug", total_steps=400, progress=False), tmp_path)
    msg = str(err.value)
    assert "not a run directory (it holds data, notes.txt)" in msg and "ckpt.pt" in msg, msg
    assert (tmp_path / "notes.txt").read_text() == "mine" and not (tmp_path / "ckpt.pt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    train(make_config("debug", total_steps=400, progress=False), empty)  # an empty one is fine


def test_another_algorithms_option_may_change_but_the_runs_own_may_not(tmp_path):
    """A GLAMOR run written when DISCERN's target period defaulted to 100 resumes under a new
    default (the field is DISCERN's); a DISCERN run whose period changed is another experiment."""
    run = tmp_path / "glamor"
    train(make_config("debug", total_steps=400, discern_target_period=100), run)
    res = train(make_config("debug", total_steps=800, discern_target_period=0), run)
    assert res.agent_steps == 800
    run = tmp_path / "discern"
    train(make_config("debug", algo="discern", total_steps=400, discern_target_period=100), run)
    with pytest.raises(RunDirError, match=r"discern_target_period: 100 -> 0"):
        train(make_config("debug", algo="discern", total_steps=800, discern_target_period=0), run)
