"""glamor_mini.experiments: sweeps (fill in, never repeat), loading runs, tables, figures, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import glamor_mini.train as train_mod
from glamor_mini.envs.gridworld import GridWorldTask
from glamor_mini.experiments import (
    EXPERIMENTS,
    ablations,
    get_experiment,
    guided_vs_sparse,
    planning_compute,
    termination,
)
from glamor_mini.experiments.common import (
    RunSpec,
    curve_rows,
    group_mean,
    is_finished,
    load_run,
    plot_curves,
    read_csv,
    run_sweep,
    write_csv,
)
from glamor_mini.experiments.executor import Job, execute
from glamor_mini.resolve import make_config
from glamor_mini.run import main


def tiny(seed: int = 0, **kw):
    return make_config(
        "debug",
        seed=seed,
        total_steps=240,
        n_envs=4,
        learning_starts=80,
        eval_every=120,
        log_every=120,
        checkpoint_every=0,
        torch_threads=1,
        **kw,
    )


@pytest.fixture(scope="module")
def sweep_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    specs = [RunSpec(f"s-seed{s}", tiny(s), "tiny") for s in (0, 1)]
    run_sweep(specs, root, progress=False)
    return root, specs


def test_sweep_runs_each_spec_into_its_own_dir(sweep_root):
    root, specs = sweep_root
    for spec in specs:
        d = root / spec.name
        assert is_finished(d) and (d / "ckpt.pt").is_file()
        assert json.loads((d / "config.json").read_text())["seed"] == spec.seed
    assert [r["status"] for r in read_csv(root / "sweep.csv")] == ["started", "started"]


def test_sweep_rerun_fills_in_missing_runs_only(sweep_root, monkeypatch):
    root, specs = sweep_root
    calls = []
    real = train_mod.train

    def spy(cfg, out):
        calls.append(out.name)
        return real(cfg, out)

    monkeypatch.setattr(train_mod, "train", spy)
    run_sweep(specs, root, progress=False)
    assert calls == []  # everything finished: nothing is repeated
    (root / "s-seed1" / "eval.json").unlink()  # an unfinished run (checkpoint, no eval.json)
    extra = RunSpec("s-seed2", tiny(2), "tiny")
    run_sweep([*specs, extra], root, progress=False)
    assert calls == ["s-seed1", "s-seed2"]
    status = {r["name"]: r["status"] for r in read_csv(root / "sweep.csv")}
    assert status == {"s-seed0": "finished", "s-seed1": "resumed", "s-seed2": "started"}
    assert all(is_finished(root / n) for n in status)


def test_sweep_with_a_larger_budget_trains_finished_runs_on(tmp_path):
    spec = RunSpec("s-seed0", tiny(0), "tiny")
    run_sweep([spec], tmp_path, progress=False)
    d = tmp_path / spec.name
    assert is_finished(d, 240) and not is_finished(d, 360)
    longer = RunSpec(spec.name, tiny(0).replace(total_steps=360), "tiny")
    run_sweep([longer], tmp_path, progress=False)
    assert [r["status"] for r in read_csv(tmp_path / "sweep.csv")] == ["resumed"]
    assert json.loads((d / "eval.json").read_text())["agent_steps"] >= 360


def test_sweep_rejects_duplicate_names(tmp_path):
    spec = RunSpec("a", tiny(), "x")
    with pytest.raises(ValueError, match="unique.*'a'"):
        run_sweep([spec, spec], tmp_path, progress=False)


def test_a_finished_run_with_other_settings_is_refused_not_reused(sweep_root):
    """After a preset changes, the run under a sweep's name holds the old settings: reusing its
    eval.json would report the old model as the new one."""
    root, _ = sweep_root
    changed = RunSpec("s-seed0", tiny(0).replace(lstm_hidden=7), "tiny")
    with pytest.raises(ValueError, match=r"lstm_hidden: \d+ -> 7.*delete .*s-seed0"):
        run_sweep([changed], root, progress=False, dry_run=True)
    with pytest.raises(ValueError, match=r"lstm_hidden: \d+ -> 7"):
        execute([Job("s-seed0", changed.cfg)], root, backend="serial", progress=False)  # table1


def test_load_run_restores_the_checkpoint_weights(sweep_root):
    root, _ = sweep_root
    run = load_run(root / "s-seed0")
    state = torch.load(root / "s-seed0" / "ckpt.pt", map_location="cpu", weights_only=True)
    for k, v in run.model.state_dict().items():
        assert torch.equal(v, state["agent"]["modules"]["model"][k]), k
    assert run.cfg.seed == 0 and run.task.horizon == 6 and not run.model.training


def test_load_run_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*ckpt.pt"):
        load_run(tmp_path / "nothing")
    (tmp_path / "ckpt.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="not a readable glamor-mini checkpoint"):
        load_run(tmp_path)


def test_csv_round_trip_and_group_mean(tmp_path):
    rows = [
        {"setting": "a", "seed": 0, "x": 0.5, "note": None},
        {"setting": "a", "seed": 1, "x": 1.0, "note": "hi"},
        {"setting": "b", "seed": 0, "x": 0.25, "note": None},
    ]
    back = read_csv(write_csv(rows, tmp_path / "t.csv"))
    assert back == rows
    stats = {s["setting"]: s for s in group_mean(back, ("setting",), ("x",))}
    assert stats["a"]["x_mean"] == 0.75 and stats["a"]["x_std"] == 0.25 and stats["a"]["n"] == 2
    assert stats["b"]["x_mean"] == 0.25 and stats["b"]["x_std"] == 0.0
    with pytest.raises(FileNotFoundError, match="run the experiment first"):
        read_csv(tmp_path / "missing.csv")


def test_curves_come_from_progress_csv(sweep_root, tmp_path):
    root, specs = sweep_root
    rows = curve_rows(specs, root)
    # eval every 120 agent steps up to 240: two evaluation rows per run
    assert [(r["run"], r["agent_steps"]) for r in rows] == [
        ("s-seed0", 120),
        ("s-seed0", 240),
        ("s-seed1", 120),
        ("s-seed1", 240),
    ]
    ev = json.loads((root / "s-seed1" / "eval.json").read_text())
    assert rows[-1]["goal_achievement"] == pytest.approx(ev["goal_achievement"])
    png = plot_curves(write_csv(rows, tmp_path / "c.csv"), tmp_path / "c.png", "t")
    assert png.stat().st_size > 1000


def test_run_curves_cli_reads_run_dirs_and_draws_floors(sweep_root, tmp_path, capsys):
    from glamor_mini.experiments.curves import main as curves_main
    from glamor_mini.experiments.curves import run_curve_rows

    root, specs = sweep_root
    dirs = [root / s.name for s in specs]
    rows = run_curve_rows(dirs)
    assert [(r["run"], r["seed"], r["agent_steps"]) for r in rows] == [
        ("s-seed0", 0, 120),
        ("s-seed0", 0, 240),
        ("s-seed1", 1, 120),
        ("s-seed1", 1, 240),
    ]
    ev = json.loads((dirs[0] / "eval.json").read_text())
    assert rows[1]["goal_achievement"] == pytest.approx(ev["goal_achievement"])
    out = tmp_path / "fig" / "curve"
    argv = [*map(str, dirs), "--floor", "random=0.1", "--floor", "stop=0.3", "--out", str(out)]
    assert curves_main(argv) == 0
    assert out.with_suffix(".png").stat().st_size > 1000
    assert curves_main([str(tmp_path), "--out", str(out)]) == 2  # not a run dir
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        curves_main([str(dirs[0]), "--floor", "random", "--out", str(out)])
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_planning_compute_table_and_heatmaps(sweep_root, tmp_path):
    root, _ = sweep_root
    rows = planning_compute.evaluate_budgets(root / "s-seed0", (1, 3), 2, progress=False)
    assert len(rows) == 2 * 49 and {r["n_candidates"] for r in rows} == {1, 3}
    for r in rows:  # start in the centre (4, 4): shortest = Manhattan distance
        assert r["shortest"] == abs(r["x"] - 4) + abs(r["y"] - 4)
        assert 0.0 <= r["optimal"] <= r["achieved"] <= 1.0
    centre = [r for r in rows if r["shortest"] == 0]
    assert len(centre) == 2
    summ = planning_compute.summarize(rows)
    assert [s["n_candidates"] for s in summ] == [1, 3] and summ[0]["goals"] == 49
    assert summ[0]["goal_achievement"] == pytest.approx(
        np.mean([r["achieved"] for r in rows if r["n_candidates"] == 1])
    )
    csv_path = write_csv(rows, tmp_path / "pc.csv")
    assert planning_compute.plot(csv_path, tmp_path / "pc.png").stat().st_size > 1000
    label = planning_compute.model_label(planning_compute.model_spec("full", seed=3).cfg)
    assert label == "empty-7x7, T = 10, 40k steps, LSTM 64, seed 3"
    assert planning_compute.plot(csv_path, tmp_path / "pc2.png", title=label).is_file()


def test_guided_vs_sparse_and_termination_tables(sweep_root, tmp_path):
    root, _ = sweep_root
    rows = guided_vs_sparse.evaluate_modes(root / "s-seed0", 5, 1, progress=False)
    assert [r["mode"] for r in rows[::49]] == ["guided", "sparse"]
    assert guided_vs_sparse.by_distance(rows)[0]["shortest"] == 0
    assert guided_vs_sparse.plot(write_csv(rows, tmp_path / "g.csv"), tmp_path / "g.png").exists()
    big = planning_compute.model_label(guided_vs_sparse.model_spec("full").cfg)
    assert big == "empty-13x13, T = 16, 80k steps, LSTM 64, seed 0"
    assert guided_vs_sparse.plot(tmp_path / "g.csv", tmp_path / "g2.png", title=big).exists()
    rows = termination.evaluate_terminations(root / "s-seed0", 1, progress=False)
    summ = termination.summarize(rows)
    assert [s["termination"] for s in summ] == ["early", "plan_end", "naive_end"]
    # plan_end and naive_end never stop early: every episode lasts exactly T = 6 steps
    assert summ[1]["mean_steps"] == 6.0 and summ[2]["mean_steps"] == 6.0
    assert summ[0]["mean_steps"] <= 6.0
    assert termination.plot(write_csv(rows, tmp_path / "t.csv"), tmp_path / "t.png").exists()


def test_test_time_rows_evaluate_each_model_with_both_budgets(sweep_root, tmp_path):
    root, specs = sweep_root
    rows = ablations.test_time_rows(specs, root, 1, progress=False)
    assert [(r["run"], r["n_candidates"]) for r in rows] == [
        ("s-seed0", 1),
        ("s-seed0", 50),
        ("s-seed1", 1),
        ("s-seed1", 50),
    ]
    assert all(0.0 <= r["optimal_path_rate"] <= r["goal_achievement"] <= 1.0 for r in rows)
    summ = ablations.test_time_summary(rows)
    assert list(summ) == [1, 50] and summ[50]["n"] == 2
    assert summ[1]["goal_achievement_mean"] == pytest.approx(
        np.mean([r["goal_achievement"] for r in rows if r["n_candidates"] == 1])
    )
    png = ablations.plot_test_time(write_csv(rows, tmp_path / "t.csv"), tmp_path / "t.png")
    assert png.stat().st_size > 1000


def test_exactly_at_t_reachable_walls_break_parity():
    # Without walls in reach the grid is bipartite: at T = 3 only odd distances (4 + 12 cells);
    # with 'stay' every d <= 3 (1 + 4 + 8 + 12 cells).
    assert termination.exactly_at_t_reachable(GridWorldTask("empty-7x7", 3)) == 16 / 49
    assert termination.exactly_at_t_reachable(GridWorldTask("empty-7x7", 3, True)) == 25 / 49
    # At T = 10 the walls are in reach: a move into a wall leaves the agent in place, which fixes
    # the parity, so every cell can be occupied at exactly t = T (it is not 25 / 49).
    assert termination.exactly_at_t_reachable(GridWorldTask("empty-7x7", 10)) == 1.0
    assert termination.exactly_at_t_reachable(GridWorldTask("empty-7x7", 10, True)) == 1.0
    # the first wall bump is possible at t = 4 (3 steps to the wall): 25 cells at t = 4, 36 at 5
    assert termination.exactly_at_t_reachable(GridWorldTask("empty-7x7", 4)) == 25 / 49
    assert termination.exactly_at_t_reachable(GridWorldTask("empty-7x7", 5)) == 36 / 49


def test_ablation_specs():
    coll = ablations.specs("collection", "full", (0, 1, 2))
    assert len(coll) == 12 and len({s.name for s in coll}) == 12
    by = {s.name: s.cfg for s in coll}
    assert by["collect_n1-seed2"].collect_n_candidates == 1 and by["collect_n1-seed2"].seed == 2
    assert by["collect_noprior-seed0"].collect_prior is False
    assert by["collect_noprior-seed0"].n_candidates == 50  # evaluation unchanged
    test = {s.name: s.cfg for s in ablations.specs("test-planning", "full", (0,))}
    assert test == {"default-seed0": by["default-seed0"]}  # shared run, trained once
    rnd = {s.setting: s.cfg for s in ablations.specs("random-data", "small", (0,))}
    assert rnd["GCSL"].algo == "gcsl" and rnd["GLAMOR"].collect_policy == "random"
    with pytest.raises(ValueError, match="figure='fig9' is not accepted"):
        ablations.specs("fig9")
    with pytest.raises(ValueError, match="scale='huge' is not accepted"):
        ablations.specs("collection", "huge")


def test_sweep_cli_errors(capsys):
    assert set(EXPERIMENTS) >= {"planning-compute", "guided-vs-sparse", "termination"}
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "fig99"])
    assert exc.value.code == 2 and "unknown experiment 'fig99'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "termination", "--scale", "huge"])
    assert exc.value.code == 2 and "--scale 'huge' is not accepted" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown experiment"):
        get_experiment("nope")


def test_sweep_cli_runs_an_experiment(tmp_path, monkeypatch, capsys):
    seen = {}

    def fake_run(**kw):
        seen.update(kw)
        return [{"a": 1}]

    monkeypatch.setattr(planning_compute, "run", fake_run)
    code = main(["sweep", "planning-compute", "--scale", "small", "--root", str(tmp_path)])
    assert code == 0 and seen["scale"] == "small" and seen["root"] == str(tmp_path)
    assert "1 rows written" in capsys.readouterr().out


def test_notebook_knobs_reach_the_specs_and_the_test_time_budgets(sweep_root):
    # ablations: overrides on top of the scale; a variant's own change still wins
    rnd = ablations.specs("random-data", "small", (0,), overrides={"total_steps": 3_000})
    assert [s.cfg.total_steps for s in rnd] == [3_000, 3_000]
    assert [s.cfg.algo for s in rnd] == ["glamor", "gcsl"]
    assert ablations.specs("random-data", "small", (0,))[0].cfg.total_steps == 6_000
    root, specs = sweep_root
    rows = ablations.test_time_rows(specs[:1], root, 1, progress=False, budgets=(1, 5))
    assert [r["n_candidates"] for r in rows] == [1, 5]
    # baselines: a subset of the algorithms, with overrides, in the order of ALGOS
    from glamor_mini.experiments import baselines

    sub = baselines.specs("full", [0], algos=["gcsl", "glamor"], overrides={"total_steps": 9_000})
    assert [s.setting for s in sub] == ["GLAMOR", "GCSL"]
    assert all(s.cfg.total_steps == 9_000 and s.cfg.eval_every == 5_000 for s in sub)
    with pytest.raises(ValueError, match="not accepted"):
        baselines.specs("full", [0], algos=["dqn"])


def test_baselines_plot_draws_the_algorithms_in_the_csv(tmp_path):
    from glamor_mini.experiments import baselines

    curves = [
        {"setting": a, "seed": 0, "run": a, "agent_steps": s, "goal_achievement": v,
         "optimal_path_rate": v}
        for a in ("GLAMOR", "GCSL") for s, v in ((1000, 0.1), (2000, 0.5))
    ]  # fmt: skip
    goals = [
        {"setting": a, "seed": 0, "x": x, "y": y, "achieved": 1.0}
        for a in ("GLAMOR", "GCSL") for x in range(1, 8) for y in range(1, 8)
    ]  # fmt: skip
    png = baselines.plot(
        write_csv(curves, tmp_path / "c.csv"), write_csv(goals, tmp_path / "g.csv"),
        tmp_path / "b.png", 0.03, "two algorithms",
    )  # fmt: skip
    assert png.stat().st_size > 1000
