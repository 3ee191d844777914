"""Paper §4.7.1, Fig. 3a: planning compute on the 7x7 grid world.

One trained model, the agent starting in the centre of the empty 7x7 room, every free cell a goal.
The closed-loop planner is run with N in BUDGETS = {1, 2, 5, 10, 20, 50, 100} candidate plans
(Eq. 8 random shooting; the paper's text does not list the budgets of its Fig. 3a, and its
default is 50, Fig. 5); for each N and goal we measure the rate of reaching the goal and the rate
of reaching it by a shortest path, over several episodes per goal, and draw one pair of heatmaps
per N.

    rows = run(scale="full")      # trains (or reuses) the model, writes the CSV and the PNG
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.experiments.common import (
    FIGURES,
    RUNS_ROOT,
    RunSpec,
    base_config,
    check_scale,
    group_mean,
    load_run,
    per_goal_rows,
    read_csv,
    run_sweep,
    save_figure,
    write_csv,
)

NAME = "planning-compute"
BUDGETS = (1, 2, 5, 10, 20, 50, 100)
"""The planning budgets N evaluated here: from one sample (A.4.2's "planner off") to twice the
paper's default of 50 candidates (Fig. 5). The paper's text does not list Fig. 3a's budgets."""
SCALES: dict[str, dict[str, Any]] = {
    # the `gridworld` preset as is (40k agent steps); 20 episodes per goal and budget
    "full": dict(train={}, episodes=20),
    # the same run stopped at 20k agent steps (about a minute on a laptop CPU): the notebooks'
    # CI budget (at 10k steps the model is too weak to show guided > sparse)
    "small": dict(train=dict(total_steps=20_000, eval_every=0), episodes=4),
}


def model_spec(scale: str = "full", seed: int = 0) -> RunSpec:
    """The grid-world model that every budget is evaluated with."""
    cfg = base_config(seed=seed, **SCALES[check_scale(scale)]["train"])
    return RunSpec(f"grid7-{scale}-seed{seed}", cfg, "gridworld 7x7")


def model_label(cfg) -> str:
    """A figure title's description of a grid-world model: layout, T, budget, LSTM size, seed."""
    return (
        f"{cfg.layout}, T = {cfg.horizon}, {cfg.total_steps / 1000:g}k steps, "
        f"LSTM {cfg.lstm_hidden}, seed {cfg.seed}"
    )


def evaluate_budgets(
    run_dir: str | Path,
    budgets: tuple[int, ...] = BUDGETS,
    episodes_per_goal: int = 20,
    seed: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """One row per (N, goal cell): achieved / optimal rates over `episodes_per_goal` episodes."""
    run = load_run(run_dir)
    variants = {str(n): {"n_candidates": int(n)} for n in budgets}
    rows = per_goal_rows(run, variants, episodes_per_goal, seed, "n_candidates", progress)
    for r in rows:
        r["n_candidates"] = int(r["n_candidates"])
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean over goals per N: goal achievement and optimal-path rate."""
    stats = group_mean(rows, ("n_candidates",), ("achieved", "optimal"))
    return sorted(
        (
            {
                "n_candidates": s["n_candidates"],
                "goal_achievement": s["achieved_mean"],
                "optimal_path_rate": s["optimal_mean"],
                "goals": s["n"],
            }
            for s in stats
        ),
        key=lambda r: r["n_candidates"],
    )


def plot(
    csv_path: str | Path,
    png_path: str | Path,
    layout: str = "empty-7x7",
    title: str | None = None,
) -> Path:
    """Fig. 3a from the CSV: top row 'goal reached', bottom row 'reached by a shortest path', one
    shared colour bar. `title` names the model and budget (e.g. `model_label(cfg)` and the
    episodes per goal); the CSV itself does not record them."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves

    import gridworld

    lay = gridworld.get_layout(layout)
    rows = read_csv(csv_path)
    budgets = sorted({r["n_candidates"] for r in rows})
    fig, axes = plt.subplots(
        2, len(budgets), figsize=(1.9 * len(budgets) + 1.4, 4.5), layout="constrained"
    )
    axes = np.array(axes).reshape(2, len(budgets))
    for j, n in enumerate(budgets):
        for i, key in enumerate(("achieved", "optimal")):
            grid = np.full(lay.shape, np.nan)
            sel = [r for r in rows if r["n_candidates"] == n]
            for r in sel:
                grid[r["y"], r["x"]] = r[key]
            mean = float(np.mean([r[key] for r in sel]))
            gridworld.plot_value_map(
                lay, grid, ax=axes[i, j], vmin=0, vmax=1, colorbar=False, title=f"N={n}: {mean:.2f}"
            )
            image = axes[i, j].images[0]
            axes[i, j].plot(*lay.start, marker="*", color="white", markersize=8)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[0, 0].set_ylabel("goal reached")
        axes[1, 0].set_ylabel("by a shortest path")
    cbar = fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01)
    cbar.set_label("rate over episodes (per goal cell)")
    head = "Planning compute (paper Fig. 3a), mean over goals in each title"
    fig.suptitle(f"{head}\n{title}" if title else head)
    return save_figure(fig, png_path)


def run(
    root: str | Path = RUNS_ROOT,
    figures: str | Path = FIGURES,
    scale: str = "full",
    seeds: tuple[int, ...] | None = None,
    progress: bool = True,
    executor: str = "serial",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Train (or reuse) the model, evaluate every budget, write planning_compute.csv + .png."""
    seed = (seeds or (0,))[0]
    spec = model_spec(scale, seed)
    (run_dir,) = run_sweep(
        [spec], Path(root) / "models", progress, executor=executor, address=address
    )
    episodes = SCALES[scale]["episodes"]
    rows = evaluate_budgets(run_dir, BUDGETS, episodes, seed, progress)
    csv_path = write_csv(rows, Path(figures) / "planning_compute.csv")
    title = f"{model_label(spec.cfg)}, {episodes} episodes per goal and N"
    plot(csv_path, csv_path.with_suffix(".png"), title=title)
    return rows
