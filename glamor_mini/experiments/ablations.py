"""Paper Appendix A.4, Figs. 6-8: ablations on the 7x7 grid world, >= 3 seeds, mean +- std.

  * Fig. 6 (`collection`): the open-loop planner that *collects training data* uses N = 1, 5 or
    50 candidates (Config.collect_n_candidates), or N = 50 without the action prior
    (Config.collect_prior=False, prior off during collection only). Evaluation is unchanged.
  * Fig. 7 (`random-data`): both algorithms trained on uniform-random data
    (Config.collect_policy='random'): GLAMOR vs GCSL (glamor_mini/baselines/gcsl.py).
  * Fig. 8 (`test-planning`): the default runs' final models, each evaluated with N = 50 and
    N = 1 test-time candidates (PlannerSettings.n_candidates; N = 1 is "sample one plan from
    softmax(z) and act on it", the compute of a model-free policy). Like the paper's Fig. 8 this is
    a bar chart of final rates (mean +- std over seeds); it needs no extra training.

All runs live in one sweep root, so the default runs (Fig. 6's collect N = 50) are trained once
and reused by Fig. 8. Curves are goal achievement vs agent steps from each run's progress.csv,
collected into a tidy CSV and plotted from it.

    rows = run("collection", scale="full", seeds=(0, 1, 2))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from glamor_mini.evaluate import evaluate
from glamor_mini.experiments.common import (
    ALGO_COLORS,
    FIGURES,
    RUNS_ROOT,
    RunSpec,
    base_config,
    check_scale,
    curve_rows,
    final_rows,
    group_mean,
    load_run,
    planner_for,
    plot_curves,
    read_csv,
    run_sweep,
    save_figure,
    write_csv,
)

SEEDS = (0, 1, 2)
TRAIN: dict[str, dict[str, Any]] = {
    # the gridworld preset with a shorter schedule (12k agent steps, eps 1 -> 0.1 over 10k,
    # learning from 2k), evaluated every 2k: the CPU budget of 18 runs on a shared laptop CPU
    "full": dict(
        total_steps=12_000,
        eps_steps=10_000,
        learning_starts=2_000,
        eval_every=2_000,
        log_every=2_000,
        checkpoint_every=4_000,
    ),
    # the notebook's CI budget
    "small": dict(
        total_steps=6_000,
        eps_steps=5_000,
        learning_starts=1_000,
        eval_every=1_000,
        log_every=1_000,
        checkpoint_every=0,
    ),
}
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "collect_n1": dict(collect_n_candidates=1),
    "collect_n5": dict(collect_n_candidates=5),
    "collect_noprior": dict(collect_prior=False),
    "random_glamor": dict(collect_policy="random"),
    "random_gcsl": dict(algo="gcsl", collect_policy="random"),
}
"""Config changes of each run variant (on top of the grid-world preset and the scale)."""
FIGS: dict[str, dict[str, Any]] = {
    "collection": dict(
        fig="Fig. 6",
        title="Collection-time planner (Fig. 6): N samples, prior on/off",
        variants={
            "collect_n1": "collect N=1",
            "collect_n5": "collect N=5",
            "default": "collect N=50",
            "collect_noprior": "collect N=50, no prior",
        },
    ),
    "random-data": dict(
        fig="Fig. 7",
        title="Uniform-random training data (Fig. 7)",
        variants={"random_glamor": "GLAMOR", "random_gcsl": "GCSL"},
    ),
    "test-planning": dict(
        fig="Fig. 8",
        title="Test-time planning (Fig. 8): N=50 vs N=1",
        variants={"default": "trained with the default planner"},
    ),
}
"""The three figures: which variants each draws, and their legend labels."""


def specs(
    figure: str,
    scale: str = "full",
    seeds: Sequence[int] = SEEDS,
    overrides: dict[str, Any] | None = None,
) -> list[RunSpec]:
    """The runs of one figure: every variant x seed, named '<variant>-seed<s>'. `overrides`
    (Config fields, e.g. a notebook's total_steps) apply on top of the scale's budget; a variant's
    own changes (collect_policy, algo, ...) still win."""
    if figure not in FIGS:
        raise ValueError(f"figure={figure!r} is not accepted; choose one of {sorted(FIGS)}")
    train = {**TRAIN[check_scale(scale)], **(overrides or {})}
    out = []
    for variant, label in FIGS[figure]["variants"].items():
        for s in seeds:
            cfg = base_config(seed=int(s), **{**train, **VARIANTS[variant]})
            out.append(RunSpec(f"{variant}-seed{s}", cfg, label))
    return out


TEST_BUDGETS = (1, 50)
TEST_EPISODES = {"full": 10, "small": 2}


def test_time_rows(
    sp: Sequence[RunSpec],
    root: str | Path,
    episodes_per_goal: int,
    progress: bool = True,
    budgets: Sequence[int] = TEST_BUDGETS,
) -> list[dict[str, Any]]:
    """Fig. 8: one row per (run, test-time N in `budgets`): goal achievement and optimal-path rate
    of the run's final model over every goal (`episodes_per_goal` each)."""
    rows = []
    for spec in sp:
        run = load_run(Path(root) / spec.name)
        for n in budgets:
            res = evaluate(
                run.task,
                run.model,
                planner_for(run.cfg, n_candidates=n),
                run.task.eval_goals(spec.seed),
                episodes_per_goal,
                seed=spec.seed,
            )
            rows.append(
                {
                    "setting": f"test N={n}",
                    "n_candidates": n,
                    "seed": spec.seed,
                    "run": spec.name,
                    "goal_achievement": res.goal_achievement,
                    "optimal_path_rate": res.optimal_path_rate,
                }
            )
    return rows


def test_time_summary(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Fig. 8 table: test-time N -> mean / std / n over seeds of both rates."""
    stats = group_mean(rows, ("n_candidates",), ("goal_achievement", "optimal_path_rate"))
    return {s["n_candidates"]: s for s in sorted(stats, key=lambda r: r["n_candidates"])}


def plot_test_time(
    csv_path: str | Path,
    png_path: str | Path,
    title: str = "Test-time planning (Fig. 8), same GLAMOR models",
) -> Path:
    """Fig. 8 from the CSV: bars of goal achievement / optimal-path rate per test-time N (GLAMOR's
    colour, ALGO_COLORS; the shortest-path bars hatched)."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves
    import numpy as np

    rows = read_csv(csv_path)
    stats = list(test_time_summary(rows).values())
    fig, ax = plt.subplots(figsize=(5, 3.4))
    x = np.arange(len(stats))
    styles = [
        ("goal_achievement", "goal reached", dict(alpha=0.9)),
        ("optimal_path_rate", "by a shortest path", dict(alpha=0.45, hatch="//")),
    ]
    for k, (metric, label, style) in enumerate(styles):
        m = [s[f"{metric}_mean"] for s in stats]
        e = [s[f"{metric}_std"] for s in stats]
        ax.bar(
            x + (k - 0.5) * 0.38, m, 0.38, yerr=e, capsize=4, label=label,
            color=ALGO_COLORS["GLAMOR"], edgecolor="black", **style,
        )  # fmt: skip
    ax.set_xticks(x, [f"test N={s['n_candidates']} (n={s['n']})" for s in stats])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("rate over all goals (mean ± std over seeds)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, png_path)


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Final goal achievement (and optimal-path rate) per setting: mean, std, n over seeds."""
    return group_mean(rows, ("setting",), ("goal_achievement", "optimal_path_rate"))


def run(
    figure: str,
    root: str | Path = RUNS_ROOT,
    figures: str | Path = FIGURES,
    scale: str = "full",
    seeds: Sequence[int] | None = None,
    progress: bool = True,
    executor: str = "serial",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Train the missing runs of `figure`, write ablation_<figure>.csv (curves), ..._final.csv
    (one row per run) and the PNG drawn from the curves CSV; return the curve rows."""
    seeds = tuple(seeds) if seeds else SEEDS
    sp = specs(figure, scale, seeds)
    root = Path(root) / f"ablations-{scale}"
    run_sweep(sp, root, progress, executor=executor, address=address)
    stem = f"ablation_{figure.replace('-', '_')}"
    if figure == "test-planning":
        rows = test_time_rows(sp, root, TEST_EPISODES[scale], progress)
        csv_path = write_csv(rows, Path(figures) / f"{stem}.csv")
        plot_test_time(csv_path, csv_path.with_suffix(".png"))
        return rows
    rows = curve_rows(sp, root)
    csv_path = write_csv(rows, Path(figures) / f"{stem}.csv")
    write_csv(final_rows(sp, root), Path(figures) / f"{stem}_final.csv")
    floor = None
    if figure == "random-data":
        from glamor_mini.floor import random_floor

        floor = float(sum(random_floor("gridworld", list(seeds))) / len(seeds))
    plot_curves(csv_path, csv_path.with_suffix(".png"), FIGS[figure]["title"], floor=floor)
    return rows
