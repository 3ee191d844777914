"""Paper §4.7.2, Fig. 3b: termination strategies, with one and the same trained model.

  * early (GLAMOR's default): the empty plan [END] competes with the candidates; when it wins the
    agent ends its episode, and the goal is judged at that moment.
  * plan_end: END is masked until the last position, so every plan ends exactly at t = T; the
    agent acts until T and is judged at T.
  * naive_end: the agent keeps taking shortest-path plans (END never wins) and is judged at T.

The paper used cartpole; here the plain 7x7 grid world (4 moves, no 'stay'), T = 10. Timing is
possible there: a move into a wall leaves the agent in place, so every cell can be occupied at
exactly t = T (`exactly_at_t_reachable`, computed from the env's own transitions). But it takes
planning: a naive agent that walks the shortest path arrives at t = d and must keep moving, so it
is back on the goal at T only when T - d is even, or when it happens to bump into a wall; plan_end
asks the model for a plan of exactly T - t actions (a detour or a wall bump). Hence the paper's
ordering early > plan_end > naive_end.

The optional 'stay' action (Config.allow_stay) erases the difference: with it the shortest plan
back to a goal one stands on is [stay], so naive_end amounts to waiting on the goal. At full scale
`run` also trains a 'stay' model and writes termination_stay.csv: the second row of the figure.

    rows = run(scale="full")      # trains (or reuses) the models, writes the CSVs and the PNG
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.envs.gridworld import GridSuiteEnv
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
from glamor_mini.rollout import rollout

NAME = "termination"
TERMINATIONS = ("early", "plan_end", "naive_end")
SCALES: dict[str, dict[str, Any]] = {
    # the gridworld preset as it is (plain grid, no 'stay'); 20 episodes per goal and strategy
    "full": dict(train=dict(), episodes=20),
    # the notebook's CI budget: 12k agent steps with epsilon decayed over the first 6k
    "small": dict(
        train=dict(total_steps=12_000, eps_steps=6_000, learning_starts=2_000, eval_every=0),
        episodes=4,
    ),
}
STAY_TRAIN: dict[str, Any] = dict(allow_stay=True, total_steps=20_000)
"""The second panel's model (full scale only): the gridworld preset with 'stay', 20k steps."""


def model_spec(scale: str = "full", seed: int = 0, stay: bool = False, **overrides: Any) -> RunSpec:
    """The model of one panel: the plain grid (default) or, with stay=True, the 'stay' grid.
    `overrides` (Config fields, e.g. allow_stay=True, total_steps=6000) change the training
    settings; use `.keyed()` on the result so that other settings train into another directory."""
    train = STAY_TRAIN if stay else SCALES[check_scale(scale)]["train"]
    cfg = base_config(seed=seed, **{**train, **overrides})
    stay = stay or cfg.allow_stay
    name = f"grid7-stay-{scale}-seed{seed}" if stay else f"grid7-plain-{scale}-seed{seed}"
    return RunSpec(name, cfg, "gridworld 7x7 + stay" if stay else "gridworld 7x7")


def exactly_at_t_reachable(task, horizon: int | None = None) -> float:
    """Fraction of the goal cells that *some* action sequence of exactly T actions leads to from
    the start: the set of occupiable cells is pushed through the env's own step function T times
    (a move into a wall leaves the agent in place, so no parity argument applies)."""
    T = task.horizon if horizon is None else horizon
    succ: dict[tuple[int, int], set[tuple[int, int]]] = {}
    for cell in map(tuple, task.cells):
        env = GridSuiteEnv(task.layout, task.allow_stay, start=cell)
        ends = [rollout(env, lambda a=a: a, 1).labels for a in range(task.n_actions)]
        succ[cell] = {(int(x), int(y)) for x, y in ends}
    now = {tuple(task.layout.start)}
    for _ in range(T):
        now = set().union(*(succ[c] for c in now))
    goals = {tuple(int(v) for v in g) for g in task.eval_goals(0).labels}
    return len(goals & now) / len(goals)


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


def by_parity(rows: list[dict[str, Any]], horizon: int = 10) -> list[dict[str, Any]]:
    """Goal achievement per strategy, split by the parity of T - d (d: the goal's shortest
    distance from the start). A walker that arrives at t = d and keeps moving is back on the goal
    at T only when T - d is even (or after a wall bump), so naive_end should fail mostly on the
    odd goals; plan_end can time its arrival on both."""
    out = []
    for t in TERMINATIONS:
        for parity in ("even", "odd"):
            sel = [
                r["achieved"]
                for r in rows
                if r["termination"] == t
                and ((horizon - int(r["shortest"])) % 2 == 0) == (parity == "even")
            ]
            if sel:
                out.append(
                    {
                        "termination": t,
                        "T - d": parity,
                        "goals": len(sel),
                        "goal_achievement": float(np.mean(sel)),
                    }
                )
    return out


def plot(
    csv_path: str | Path,
    png_path: str | Path,
    layout: str = "empty-7x7",
    stay_csv: str | Path | None = None,
    title: str | None = None,
    row_titles: tuple[str, str] = ("plain grid (4 moves)", "with a 'stay' action"),
) -> Path:
    """Bars of goal achievement per termination strategy and the per-goal heatmaps; with
    `stay_csv`, a second row for the model trained with the 'stay' action. `title` names the
    model and budget (default: the figure's generic title); `row_titles` label the two rows.
    The bars are grey (one model, three planners: not the per-algorithm colours)."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves

    import gridworld

    lay = gridworld.get_layout(layout)
    panels = [(row_titles[0], read_csv(csv_path))]
    if stay_csv is not None and Path(stay_csv).is_file():
        panels.append((row_titles[1], read_csv(stay_csv)))
    ncols = 1 + len(TERMINATIONS)
    fig, axes = plt.subplots(
        len(panels), ncols, figsize=(3.2 * ncols, 3.4 * len(panels)), squeeze=False
    )
    for row_axes, (row_title, rows) in zip(axes, panels, strict=True):
        summ = summarize(rows)
        names = [s["termination"] for s in summ]
        vals = [s["goal_achievement"] for s in summ]
        ax = row_axes[0]
        ax.bar(names, vals, color=["0.25", "0.5", "0.75"][: len(names)], edgecolor="black")
        for i, v in enumerate(vals):
            ax.text(i, v + 0.02, f"{v:.2f}", ha="center")
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("goal achievement (fraction of episodes)")
        ax.set_xlabel("termination strategy")
        ax.set_title(row_title, fontsize=10)
        for ax, s in zip(row_axes[1:], summ, strict=False):
            grid = np.full(lay.shape, np.nan)
            for r in rows:
                if r["termination"] == s["termination"]:
                    grid[r["y"], r["x"]] = r["achieved"]
            gridworld.plot_value_map(
                lay, grid, ax=ax, vmin=0, vmax=1, title=f"{s['termination']}: per goal cell",
                cbar_label="goal achievement",
            )  # fmt: skip
            ax.plot(*lay.start, marker="*", color="white", markersize=10)
    fig.suptitle(
        title or "Termination (paper Fig. 3b) on the 7x7 grid, T = 10: one model, 3 planners"
    )
    fig.tight_layout()
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
    """Train (or reuse) the plain-grid model, evaluate the 3 strategies, write termination.csv
    and .png; at full scale also the 'stay' model (termination_stay.csv, the figure's 2nd row)."""
    seed = (seeds or (0,))[0]
    specs = [model_spec(scale, seed)]
    if scale == "full":
        specs.append(model_spec(scale, seed, stay=True))
    dirs = run_sweep(specs, Path(root) / "models", progress, executor=executor, address=address)
    episodes = SCALES[scale]["episodes"]
    rows = evaluate_terminations(dirs[0], episodes, seed, progress)
    csv_path = write_csv(rows, Path(figures) / "termination.csv")
    stay_csv = Path(figures) / "termination_stay.csv"
    if scale == "full":
        write_csv(evaluate_terminations(dirs[1], episodes, seed, progress), stay_csv)
    plot(csv_path, csv_path.with_suffix(".png"), stay_csv=stay_csv)
    return rows
