"""Paper §4.7.3, Fig. 4: guided vs sparse planning.

The same trained model and the same budget N; only the way candidate plans are *proposed*
changes. 'guided' samples each token from softmax(z_i) (the inverse model and prior steer the
search, Eq. 8 step by step); 'sparse' samples tokens uniformly at random and uses the model only
to score the finished candidates (the reward is looked at only at the end). On a layout where
random action sequences rarely reach far goals the gap should grow with the goal's distance. A
sparse candidate with at most L = T - t actions draws END with probability 1/5 at each position
after the first (never first, forced after L actions), so it holds 5 * (1 - 0.8**L) actions on
average: 4.46 from the start of the 7x7 room (T = 10), and it rarely ends on a corner 6 moves
away. At full scale the model is
trained on the 13x13 room (T = 16, goals up to 12 moves away), where random sequences rarely reach
far goals; at small scale (the notebook's CI budget) we reuse the 7x7 planning-compute model.

    rows = run(scale="full")      # trains (or reuses) the model, writes the CSV and the PNG
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.experiments import planning_compute
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

NAME = "guided-vs-sparse"
MODES = ("guided", "sparse")
EPISODES = {"full": 20, "small": 4}
"""Episodes per goal and mode."""


LARGE = dict(
    layout="empty-13x13", horizon=16, total_steps=80_000, eps_steps=50_000, eval_every=20_000
)
"""Full scale: the 13x13 room (about 4 minutes of training on a laptop CPU)."""


def model_spec(scale: str = "full", seed: int = 0) -> RunSpec:
    """Full scale: a 13x13-room model; small scale: the 7x7 planning-compute model."""
    if check_scale(scale) == "full":
        return RunSpec(f"grid13-full-seed{seed}", base_config(seed=seed, **LARGE), "13x13")
    return planning_compute.model_spec(scale, seed)


def evaluate_modes(
    run_dir: str | Path,
    n_candidates: int | None = None,
    episodes_per_goal: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """One row per (mode, goal cell), same model and budget N (default: the run's)."""
    run = load_run(run_dir)
    n = n_candidates or run.cfg.n_candidates
    variants = {m: {"mode": m, "n_candidates": n} for m in MODES}
    rows = per_goal_rows(run, variants, episodes_per_goal, seed, "mode", progress)
    for r in rows:
        r["n_candidates"] = n
    return rows


def by_distance(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rates per (mode, shortest distance from the start), averaged over goal cells: goal
    achievement (`achieved_mean`) and reaching it by a shortest path (`optimal_mean`)."""
    stats = group_mean(rows, ("mode", "shortest"), ("achieved", "optimal"))
    return sorted(stats, key=lambda r: (r["mode"], r["shortest"]))


COLORS = {"guided": "tab:blue", "sparse": "tab:purple"}
"""Guided is GLAMOR's planner (GLAMOR's colour); sparse is the ablation."""


def plot(csv_path: str | Path, png_path: str | Path, title: str | None = None) -> Path:
    """Left: rates vs goal distance per mode (solid: reached, dashed: by a shortest path);
    right: the gap guided - sparse per distance, for both rates. `title` names the model and
    budget (e.g. `planning_compute.model_label(cfg)` and the episodes per goal); the CSV itself
    does not record them."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves

    rows = read_csv(csv_path)
    stats = by_distance(rows)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    curves: dict[tuple[str, str], dict[int, float]] = {}
    for mode in MODES:
        color = COLORS[mode]
        pts = [s for s in stats if s["mode"] == mode]
        d = [p["shortest"] for p in pts]
        for key, ls, mk, what in (
            ("achieved", "-", "o", "reached"),
            ("optimal", "--", "s", "shortest"),
        ):
            m = [p[f"{key}_mean"] for p in pts]
            total = np.mean([r[key] for r in rows if r["mode"] == mode])
            label = f"{mode}, {what} (all: {total:.2f})"
            # hollow squares on dashes: where both rates coincide, both stay visible
            ax.plot(
                d,
                m,
                ls,
                color=color,
                marker=mk,
                mfc="none" if mk == "s" else color,
                ms=6,
                label=label,
            )
            curves[mode, key] = dict(zip(d, m, strict=True))
    ax.set_xlabel("shortest distance from the start to the goal (moves)")
    ax.set_ylabel("rate over goals at that distance")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title(f"rates by goal distance, N = {rows[0]['n_candidates']}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ds = sorted(set(curves["guided", "achieved"]) & set(curves["sparse", "achieved"]))
    x = np.arange(len(ds))
    pairs = (("achieved", "reached", "0.35"), ("optimal", "by a shortest path", "0.7"))
    for k, (key, what, shade) in enumerate(pairs):
        gap = [curves["guided", key][d] - curves["sparse", key][d] for d in ds]
        ax2.bar(x + (k - 0.5) * 0.4, gap, 0.4, color=shade, label=what)
    ax2.set_xticks(x, [str(d) for d in ds])
    ax2.set_xlabel("shortest distance from the start to the goal (moves)")
    ax2.set_ylabel("guided - sparse (rate)")
    ax2.set_title("gap vs goal distance")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    head = "Guided vs sparse planning (paper Fig. 4), same model and N"
    fig.suptitle(f"{head}: {title}" if title else head, fontsize=10)
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
    """Train (or reuse) the model, evaluate both modes, write guided_vs_sparse.csv + .png."""
    seed = (seeds or (0,))[0]
    spec = model_spec(scale, seed)
    (run_dir,) = run_sweep(
        [spec], Path(root) / "models", progress, executor=executor, address=address
    )
    episodes = EPISODES[check_scale(scale)]
    rows = evaluate_modes(run_dir, None, episodes, seed, progress)
    csv_path = write_csv(rows, Path(figures) / "guided_vs_sparse.csv")
    title = f"{planning_compute.model_label(spec.cfg)}, {episodes} episodes per goal"
    plot(csv_path, csv_path.with_suffix(".png"), title=title)
    return rows
