"""Table 1's three columns on the grid world: GLAMOR vs GCSL vs DISCERN (paper §4.3, §4.6).

All three algorithms run through the same Algorithm 1 loop (train.train) with the gridworld preset
(7x7 room, start in the centre, T = 10), the same agent-step budget, replay ratio, batch size,
epsilon schedule and seeds; only `algo` differs. Goal achievement on every free cell is judged at
T (or when GLAMOR stops itself). The figure puts the learning curves (mean +- std over seeds) next
to one outcome map per algorithm (the share of seeds that reached each goal cell).

    python -m glamor_mini.run sweep baselines --scale full --seeds 0 1 2   # docs/figures/baselines
    rows = run(scale="small", root=tmp, figures=tmp)                       # notebook 10

One run directory per (algorithm, seed): ROOT/baselines/<algo>-<scale>-seed<S>; finished runs are
reused. Writes FIGURES/baselines.csv (one row per algorithm, seed and evaluation),
FIGURES/baselines_goals.csv (one row per algorithm, seed and goal cell) and FIGURES/baselines.png.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.agents import AGENTS
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
    read_csv,
    run_sweep,
    save_figure,
    write_csv,
)

NAME = "baselines"
ALGOS = {name: agent.name for name, agent in AGENTS.items()}  # GLAMOR, GCSL, DISCERN
SCALES: dict[str, dict[str, Any]] = {
    # the gridworld preset's budget, as in the GLAMOR vs GCSL comparison (docs/results.md)
    "full": dict(total_steps=40_000, eval_every=5_000),
    # the notebook's CI budget: 3k agent steps, evaluated twice (every algorithm is still close
    # to the random floor there; GLAMOR's robust lead needs ~20k steps, see the README)
    "small": dict(
        total_steps=3_000,
        learning_starts=500,
        eps_steps=2_000,
        replay_ratio=8.0,
        batch_size=64,
        n_candidates=20,
        eval_every=1_500,
        log_every=1_500,
        checkpoint_every=0,
        save_replay=False,
    ),
}


def specs(
    scale: str = "full",
    seeds: list[int] | None = None,
    algos: Sequence[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> list[RunSpec]:
    """One RunSpec per (algorithm, seed), identical but for `algo`. `algos` picks some of ALGOS
    (default all three); `overrides` (Config fields, e.g. a notebook's total_steps) apply on top
    of the scale's budget."""
    seeds = [0, 1, 2] if seeds is None else list(seeds)
    algos = list(ALGOS) if algos is None else list(algos)
    unknown = sorted(set(algos) - set(ALGOS))
    if unknown:
        raise ValueError(f"algos {unknown} are not accepted; choose from {list(ALGOS)}")
    over = {**SCALES[check_scale(scale)], **(overrides or {})}
    return [
        RunSpec(f"{algo}-{scale}-seed{s}", base_config(seed=s, algo=algo, **over), ALGOS[algo])
        for algo in ALGOS
        if algo in algos
        for s in seeds
    ]


def goal_rows(sweep: list[RunSpec], root: str | Path) -> list[dict[str, Any]]:
    """One row per (run, goal cell): setting, seed, x, y, achieved (rate over its episodes)."""
    rows = []
    for spec in sweep:
        ev = json.loads((Path(root) / spec.name / "eval.json").read_text())
        for g in ev["per_goal"]:
            x, y = (int(v) for v in g["labels"][:2])
            rows.append(
                {"setting": spec.setting, "seed": spec.seed, "x": x, "y": y,
                 "achieved": g["achieved"]}
            )  # fmt: skip
    return rows


# line style and marker per algorithm: curves that coincide stay visible
_STYLES = {"GLAMOR": ("-", "o"), "GCSL": ("--", "s"), "DISCERN": (":", "^")}


def plot(
    curves_csv: str | Path,
    goals_csv: str | Path,
    png: str | Path,
    floor: float,
    title: str = "",
) -> Path:
    """Learning curves (mean +- std over seeds) beside one outcome map per algorithm in the CSV
    (colours: ALGO_COLORS); `title` goes above the curves (name the model and budget)."""
    import matplotlib.pyplot as plt

    import gridworld

    curves, goals = read_csv(curves_csv), read_csv(goals_csv)
    present = {r["setting"] for r in curves}
    settings = [s for s in ALGOS.values() if s in present]
    fig, axes = plt.subplots(1, 1 + len(settings), figsize=(4.2 + 3.0 * len(settings), 3.4))
    ax = axes[0]
    stats = group_mean(curves, ("setting", "agent_steps"), ("goal_achievement",))
    for setting in settings:
        pts = sorted((r for r in stats if r["setting"] == setting), key=lambda r: r["agent_steps"])
        x = np.array([p["agent_steps"] for p in pts])
        m = np.array([p["goal_achievement_mean"] for p in pts])
        s = np.array([p["goal_achievement_std"] for p in pts])
        color, (ls, marker) = ALGO_COLORS[setting], _STYLES[setting]  # curves that coincide
        ax.plot(x, m, ls=ls, marker=marker, markersize=4, color=color,
                label=f"{setting} (n={pts[-1]['n']})")  # fmt: skip
        ax.fill_between(x, m - s, m + s, alpha=0.2, color=color)
    ax.axhline(floor, color="grey", ls="--", lw=1, label="random policy")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v / 1000:g}k")
    ax.set(xlabel="agent steps", ylabel="goal achievement (mean ± std)", ylim=(-0.02, 1.02))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    layout = gridworld.get_layout(base_config().layout)
    for ax, setting in zip(axes[1:], settings, strict=True):
        grid = np.full((layout.height, layout.width), np.nan)
        for r in group_mean(
            [g for g in goals if g["setting"] == setting], ("x", "y"), ("achieved",)
        ):
            grid[r["y"], r["x"]] = r["achieved_mean"]
        gridworld.plot_value_map(
            layout, grid, ax=ax, cmap="viridis", vmin=0.0, vmax=1.0, title=f"{setting}: reached",
            cbar_label="share of seeds that reached the cell",
        )  # fmt: skip
        ax.plot(*layout.start, marker="*", color="white", markersize=12)
    fig.tight_layout()
    return save_figure(fig, png)


def run(
    root: str | Path = RUNS_ROOT,
    figures: str | Path = FIGURES,
    scale: str = "full",
    seeds: list[int] | None = None,
    progress: bool = True,
    algos: Sequence[str] | None = None,
    overrides: dict[str, Any] | None = None,
    keyed: bool = False,
    title: str = "",
    executor: str = "serial",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Train what is missing; write baselines.csv, baselines_goals.csv and baselines.png into
    `figures`; return the final rows (one per run: setting, seed, goal_achievement, ...).
    `algos` and `overrides` go to `specs`; `keyed` puts each run's settings into its directory
    name (RunSpec.keyed: a notebook whose knobs change trains new runs, never meets an old one)."""
    from glamor_mini.floor import random_floor

    sweep = specs(scale, seeds, algos, overrides)
    if keyed:
        sweep = [s.keyed() for s in sweep]
    out = Path(root) / NAME
    run_sweep(sweep, out, progress, executor=executor, address=address)
    figures = Path(figures)
    curves = write_csv(curve_rows(sweep, out), figures / f"{NAME}.csv")
    goals = write_csv(goal_rows(sweep, out), figures / f"{NAME}_goals.csv")
    floor = float(np.mean(random_floor("gridworld", sorted({s.seed for s in sweep}))))
    plot(curves, goals, figures / f"{NAME}.png", floor, title)
    finals = final_rows(sweep, out)
    for r in finals:
        r["random_floor"] = floor
    return finals


__all__ = ["ALGOS", "SCALES", "goal_rows", "plot", "run", "specs"]
