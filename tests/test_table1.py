"""Table 1 as one command (experiments/table1.py, executor.py): jobs, resuming, failures,
aggregation math, and a local Ray run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from glamor_mini.config import ConfigError
from glamor_mini.experiments.executor import Job, execute
from glamor_mini.experiments.table1 import (
    aggregate,
    aggregate_rows,
    build_jobs,
    main,
    markdown_table,
)
from glamor_mini.resolve import make_config

TINY = ["total_steps=160", "log_every=80", "checkpoint_every=80", "eval_episodes=1"]


def _write_eval(root: Path, env: str, algo: str, seed: int, value: float) -> None:
    d = root / "grid" / env / algo / f"seed{seed}"
    d.mkdir(parents=True)
    (d / "eval.json").write_text(json.dumps({"goal_achievement": value}))
    rows = ["agent_steps,eval_goal_achievement", f"100,{value / 2}", f"200,{value}"]
    (d / "progress.csv").write_text("\n".join(rows) + "\n")


def test_aggregation_mean_std_and_missing_seeds_on_synthetic_runs(tmp_path):
    _write_eval(tmp_path, "empty-7x7", "glamor", 0, 0.9)
    _write_eval(tmp_path, "empty-7x7", "glamor", 1, 0.7)
    _write_eval(tmp_path, "empty-7x7", "gcsl", 2, 0.4)  # seeds 0 and 1 missing
    for s, (r, st) in enumerate([(0.1, 0.0), (0.2, 0.1), (0.3, 0.2)]):
        d = tmp_path / "grid" / "empty-7x7" / "floor" / f"seed{s}"
        d.mkdir(parents=True)
        (d / "floor.json").write_text(json.dumps({"random": r, "stop": st}))
    rows = aggregate_rows(tmp_path, "grid", ["empty-7x7"], ["glamor", "gcsl"], [0, 1, 2])
    g, c = rows
    assert g["mean"] == pytest.approx(0.8) and g["std"] == pytest.approx(0.1)
    assert g["n_seeds"] == 2 and g["missing_seeds"] == "2"
    assert c["mean"] == pytest.approx(0.4) and c["std"] == 0.0 and c["missing_seeds"] == "0 1"
    assert g["random_floor"] == pytest.approx(0.2) and g["stop_floor"] == pytest.approx(0.1)
    assert math.isnan(g["paper"])  # the paper has no grid-world column
    md = markdown_table(rows, ["glamor", "gcsl"])
    assert (
        "0.80 ± 0.10 (n=2, missing 2)" in md
        and "| 0.40 (n=1, missing 0 1)" in md
        and "0.40 ± 0.00" not in md
    )
    paths = aggregate(tmp_path, "grid", ["empty-7x7"], ["glamor", "gcsl"], [0, 1, 2])
    assert {"csv", "md", "fig2", "curves"} <= set(paths)
    assert all(Path(p).stat().st_size > 0 for p in paths.values())


def test_paper_numbers_sit_beside_ours():
    rows = aggregate_rows(Path("/nonexistent"), "atari", ["Qbert"], ["glamor", "discern"], [0])
    assert [r["paper"] for r in rows] == [0.83, 0.26]
    assert all(r["n_seeds"] == 0 and r["missing_seeds"] == "0" for r in rows)


def test_the_mean_row_compares_with_the_paper_on_the_envs_that_have_results(tmp_path):
    d = tmp_path / "atari" / "Pong" / "glamor" / "seed0"
    d.mkdir(parents=True)
    (d / "eval.json").write_text(json.dumps({"goal_achievement": 0.5}))
    rows = aggregate_rows(tmp_path, "atari", ["Pong", "Qbert"], ["glamor"], [0])
    md = markdown_table(rows, ["glamor"])
    # Qbert not run yet: the paper's mean is Pong's 0.44, not (0.44 + 0.83) / 2
    assert "| **mean** | 0.50 (0.44) |" in md


def test_a_run_still_training_is_drawn_apart_from_the_finished_seeds(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from glamor_mini.experiments.table1_figures import curve_table, plot_curves_grid

    _write_eval(tmp_path, "empty-7x7", "glamor", 0, 0.9)
    running = tmp_path / "grid" / "empty-7x7" / "glamor" / "seed1"
    running.mkdir(parents=True)
    (running / "progress.csv").write_text("agent_steps,eval_goal_achievement\n100,0.05\n")
    rows = curve_table(tmp_path, "grid", ["empty-7x7"], ["glamor"], [0, 1])
    assert [(r["seed"], r["finished"]) for r in rows] == [(0, True), (0, True), (1, False)]
    import matplotlib.pyplot as plt

    captured = {}
    real_savefig = plt.Figure.savefig

    def keep(fig, *a, **k):
        captured["lines"] = [(ln.get_label(), list(ln.get_ydata())) for ln in fig.axes[0].lines]
        return real_savefig(fig, *a, **k)

    plt.Figure.savefig = keep
    try:
        plot_curves_grid(rows, tmp_path / "curves.png", {})
    finally:
        plt.Figure.savefig = real_savefig
    lines = dict(captured["lines"])
    assert lines["GLAMOR"] == [0.45, 0.9]  # the finished seed alone, not averaged with 0.05
    assert lines["GLAMOR seed 1, running"] == [0.05]


def test_jobs_cover_envs_algos_seeds_and_floors():
    jobs = build_jobs("grid", ["empty-7x7", "four-rooms"], ["glamor", "gcsl"], [0, 1], "tiny")
    assert len(jobs) == 2 * 2 * (2 + 1)
    names = {j.name for j in jobs}
    assert "grid/four-rooms/gcsl/seed1" in names and "grid/empty-7x7/floor/seed0" in names
    j = next(j for j in jobs if j.name == "grid/four-rooms/gcsl/seed1")
    assert j.cfg.algo == "gcsl" and j.cfg.layout == "four-rooms" and j.cfg.seed == 1
    paper = build_jobs("atari", ["Pong"], ["glamor"], [0], "paper", gpus_per_run=0.25)
    train_job = next(j for j in paper if j.kind == "train")
    assert train_job.cfg.total_steps == 500_000 and train_job.num_gpus == 0.25
    assert train_job.cfg.impala_channels == "16,32,32" and train_job.cfg.batch_size == 200
    with pytest.raises(ConfigError, match="--algos"):
        build_jobs("grid", ["empty-7x7"], ["dqn"], [0], "tiny")
    with pytest.raises(ConfigError, match="--scale"):
        build_jobs("grid", ["empty-7x7"], ["glamor"], [0], "huge")


def test_serial_harness_resumes_skips_finished_and_reports_failures(tmp_path, capsys):
    args = ["--suite", "grid", "--envs", "empty-7x7", "--algos", "glamor", "gcsl"]
    args += ["--seeds", "0", "--scale", "tiny", "--out", str(tmp_path), "--executor", "serial"]
    for s in TINY:
        args += ["--set", s]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3 to run" in out and "GLAMOR" in out and "| empty-7x7 |" in out
    run = tmp_path / "grid" / "empty-7x7" / "glamor" / "seed0"
    stamp = (run / "eval.json").stat().st_mtime_ns
    assert main(args) == 0, "rerun: nothing to do"
    assert "3 finished, 0 to run" in capsys.readouterr().out
    assert (run / "eval.json").stat().st_mtime_ns == stamp, "finished runs are never restarted"

    # a larger total_steps trains the finished runs on from their checkpoints (floors stay)
    steps = json.loads((run / "eval.json").read_text())["agent_steps"]
    assert main([*args, "--set", f"total_steps={2 * steps}"]) == 0
    assert "1 finished, 2 to run" in capsys.readouterr().out
    ev = json.loads((run / "eval.json").read_text())
    assert ev["agent_steps"] == 2 * steps

    # a job that raises is reported with its run dir and error; the others finish
    good = make_config("debug", total_steps=80, log_every=80, checkpoint_every=80)
    bad = good.replace(layout=str(tmp_path / "missing-layout.txt"))
    reports = execute(
        [Job("bad", bad), Job("good", good)], tmp_path / "x", backend="serial", progress=False
    )
    status = {r.job.name: r for r in reports}
    assert status["bad"].status == "failed" and "missing-layout" in status["bad"].error
    assert status["good"].status == "done" and (tmp_path / "x" / "good" / "eval.json").exists()


def test_bad_arguments_are_one_line(capsys):
    assert main(["--suite", "nope", "--executor", "serial"]) == 2
    err = capsys.readouterr().err
    assert "--suite 'nope' is not accepted" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["--set", "total_steps=300", "eps_steps=100"],  # several after one --set
        ["--set", "total_steps=300", "--set", "eps_steps=100"],  # --set repeated
    ],
)
def test_set_takes_several_pairs_or_repeats(argv):
    """Every command line shares one --set (config.add_set_argument): both spellings add up."""
    from glamor_mini.config import parse_set
    from glamor_mini.experiments.table1 import build_parser

    args = build_parser().parse_args(["--suite", "grid", *argv])
    assert parse_set(args.set) == {"total_steps": 300, "eps_steps": 100}


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    from glamor_mini.experiments.executor import start_ray

    try:
        start_ray()
    except RuntimeError as err:  # a heavily loaded machine: Ray's agents start too slowly
        pytest.skip(str(err))
    yield ray
    ray.shutdown()


def test_table1_tiny_on_local_ray_then_resume(local_ray, tmp_path, capsys):
    args = ["--suite", "grid", "--envs", "empty-7x7", "four-rooms", "--algos", "glamor", "gcsl"]
    args += ["--seeds", "0", "--scale", "tiny", "--out", str(tmp_path)]
    for s in TINY:
        args += ["--set", s]
    # a run killed mid-way: its checkpoint exists but no eval.json; the harness resumes it
    half = tmp_path / "grid" / "empty-7x7" / "gcsl" / "seed0"
    from glamor_mini.experiments.table1 import build_jobs as jobs_of

    job = next(
        j
        for j in jobs_of(
            "grid",
            ["empty-7x7"],
            ["gcsl"],
            [0],
            "tiny",
            {"total_steps": 160, "log_every": 80, "checkpoint_every": 80, "eval_episodes": 1},
        )
        if j.kind == "train"
    )
    from glamor_mini.train import train

    train(job.cfg.replace(total_steps=80), half)
    (half / "eval.json").unlink()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "6 to run (ray)" in out
    ev = json.loads((half / "eval.json").read_text())
    assert ev["agent_steps"] == 160
    rows = (half / "progress.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [80, 160], "resumed, not restarted"
    assert main(args) == 0 and "6 finished, 0 to run" in capsys.readouterr().out


def test_a_ray_job_without_a_gpu_runs_on_the_cpu():
    """Ray counts GPUs only for jobs that ask for them: a job with num_gpus=0 and device 'auto'
    must not land on GPU 0 (it is sent with device 'cpu'); an explicit device is left alone."""
    from glamor_mini.experiments.executor import ray_job_config

    cfg = make_config("debug")
    assert ray_job_config(Job("a", cfg, "train", 1.0, 0.0))["device"] == "cpu"
    assert ray_job_config(Job("b", cfg, "train", 1.0, 0.25))["device"] == "auto"
    assert ray_job_config(Job("c", cfg.replace(device="cuda:1"), "train"))["device"] == "cuda:1"


def test_paper_scale_checkpoints_leave_the_replay_out():
    """A 500k-step Atari replay is ~4.25 GB per checkpoint: Table 1 at paper scale (126 runs)
    would need ~540 GB of disk with it."""
    for preset in ("atari", "dmc"):
        assert make_config(preset).save_replay is False
