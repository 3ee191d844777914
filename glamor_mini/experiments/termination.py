"""Paper §4.7.2, Fig. 3b: termination strategies, with one and the same trained model.

  * early (GLAMOR's default): the empty plan [END] competes with the candidates; when it wins the
    agent ends its episode, and the goal is judged at that moment.
  * plan_end: END is masked until the last position, so every plan ends exactly at t = T; the
    agent acts until T and is judged at T.
  * naive_end: the agent keeps taking shortest-path plans (END never wins) and is judged at T.

The paper used cartpole. On the grid world we train the model with the optional fifth 'stay'
action (Config.allow_stay): without it the grid is bipartite, so a goal at distance d can only be
occupied at t = T when T - d is even, and half of the goals would be impossible at exactly T for
any planner. With 'stay' every goal can be reached at exactly T, and the comparison measures the
planners, not the parity of the grid.

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

NAME = "termination"
TERMINATIONS = ("early", "plan_end", "naive_end")
SCALES: dict[str, dict[str, Any]] = {
    # the gridworld preset with 'stay', stopped at 20k agent steps (CPU budget; see the README)
    "full": dict(train=dict(allow_stay=True, total_steps=20_000), episodes=20),
    # the same run stopped at 10k agent steps: the notebook's CI budget
    "small": dict(train=dict(allow_stay=True, total_steps=10_000, eval_every=0), episodes=4),
}


def model_spec(scale: str = "full", seed: int = 0) -> RunSpec:
    cfg = base_config(seed=seed, **SCALES[check_scale(scale)]["train"])
    return RunSpec(f"grid7-stay-{scale}-seed{seed}", cfg, "gridworld 7x7 + stay")


def exactly_at_t_reachable(task, horizon: int | None = None) -> float:
    """Fraction of the goal cells that *some* action sequence occupies at exactly t = T from the
    start (parity argument: without 'stay' T - d must be even; with 'stay' d <= T suffices)."""
    T = task.horizon if horizon is None else horizon
    goals = task.eval_goals(0)
    start = np.repeat(np.array([task.layout.start], dtype=np.float32), len(goals), axis=0)
    d = task.optimal_steps(start, goals.labels)
    ok = (d >= 0) & (d <= T)
    if not getattr(task, "allow_stay", False):
        ok &= (T - d) % 2 == 0
    return float(ok.mean())


def evaluate_terminations(
    run_dir: str | Path, episodes_per_goal: int = 20, seed: int = 0, progress: bool = True
) -> list[dict[str, Any]]:
    """One row per (termination, goal cell); `achieved` is judged when the episode ends (at the
    agent's own END for 'early', at exactly t = T for the two others)."""
    run = load_run(run_dir)
    variants = {t: {"termination": t} for t in TERMINATIONS}
    return per_goal_rows(run, variants, episodes_per_goal, seed, "termination", progress)


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stats = {
        s["termination"]: s for s in group_mean(rows, ("termination",), ("achieved", "mean_steps"))
    }
    return [
        {
            "termination": t,
            "goal_achievement": stats[t]["achieved_mean"],
            "mean_steps": stats[t]["mean_steps_mean"],
        }
        for t in TERMINATIONS
        if t in stats
    ]


def plot(csv_path: str | Path, png_path: str | Path, layout: str = "empty-7x7") -> Path:
    """Bars of goal achievement per termination strategy, and the per-goal heatmaps."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves

    import gridworld

    lay = gridworld.get_layout(layout)
    rows = read_csv(csv_path)
    summ = summarize(rows)
    fig, axes = plt.subplots(1, 1 + len(summ), figsize=(3.2 * (1 + len(summ)), 3.4))
    names = [s["termination"] for s in summ]
    vals = [s["goal_achievement"] for s in summ]
    axes[0].bar(names, vals, color=["tab:green", "tab:blue", "tab:orange"][: len(names)])
    for i, v in enumerate(vals):
        axes[0].text(i, v + 0.02, f"{v:.2f}", ha="center")
    axes[0].set_ylim(0, 1.1)
    axes[0].set_ylabel("goal achievement")
    axes[0].set_title("same model, 3 planners")
    for ax, s in zip(axes[1:], summ, strict=True):
        grid = np.full(lay.shape, np.nan)
        for r in rows:
            if r["termination"] == s["termination"]:
                grid[r["y"], r["x"]] = r["achieved"]
        gridworld.plot_value_map(lay, grid, ax=ax, vmin=0, vmax=1, title=s["termination"])
        ax.plot(*lay.start, marker="*", color="white", markersize=10)
    fig.suptitle("Termination (paper Fig. 3b) on the 7x7 grid with a 'stay' action")
    fig.tight_layout()
    return save_figure(fig, png_path)


def run(
    root: str | Path = RUNS_ROOT,
    figures: str | Path = FIGURES,
    scale: str = "full",
    seeds: tuple[int, ...] | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train (or reuse) the 'stay' model, evaluate the 3 strategies, write termination.csv/.png."""
    seed = (seeds or (0,))[0]
    (run_dir,) = run_sweep([model_spec(scale, seed)], Path(root) / "models", progress)
    rows = evaluate_terminations(run_dir, SCALES[scale]["episodes"], seed, progress)
    csv_path = write_csv(rows, Path(figures) / "termination.csv")
    plot(csv_path, csv_path.with_suffix(".png"))
    return rows
