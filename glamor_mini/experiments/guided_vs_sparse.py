"""Paper §4.7.3, Fig. 4: guided vs sparse planning.

The same trained model and the same budget N; only the way candidate plans are *proposed*
changes. 'guided' samples each token from softmax(z_i) (the inverse model and prior steer the
search, Eq. 8 step by step); 'sparse' samples tokens uniformly at random and uses the model only
to score the finished candidates (the reward is looked at only at the end). On a layout where
random action sequences rarely reach far goals the gap should grow with the goal's distance. In
the 7x7 room with T = 10, a uniformly random candidate (END has probability 1/5 at each step, so
plans average ~4 actions) almost never ends on a corner 6 moves away. At full scale the model is
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


def plot(csv_path: str | Path, png_path: str | Path) -> Path:
    """Left: rates vs goal distance per mode (solid: reached, dashed: by a shortest path);
    right: the gap guided - sparse per distance, for both rates."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves

    rows = read_csv(csv_path)
    stats = by_distance(rows)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    curves: dict[tuple[str, str], dict[int, float]] = {}
    for mode, color in zip(MODES, ("tab:green", "tab:red"), strict=True):
        pts = [s for s in stats if s["mode"] == mode]
        d = [p["shortest"] for p in pts]
        for key, ls, what in (("achieved", "-", "reached"), ("optimal", "--", "shortest")):
            m = [p[f"{key}_mean"] for p in pts]
            total = np.mean([r[key] for r in rows if r["mode"] == mode])
            ax.plot(d, m, ls, color=color, marker="o", label=f"{mode}, {what} (all: {total:.2f})")
            curves[mode, key] = dict(zip(d, m, strict=True))
    ax.set_xlabel("shortest distance from the start to the goal")
    ax.set_ylabel("rate over goals at that distance")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title(f"Guided vs sparse planning, same model, N={rows[0]['n_candidates']}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ds = sorted(set(curves["guided", "achieved"]) & set(curves["sparse", "achieved"]))
    x = np.arange(len(ds))
    for k, (key, what) in enumerate((("achieved", "reached"), ("optimal", "by a shortest path"))):
        gap = [curves["guided", key][d] - curves["sparse", key][d] for d in ds]
        ax2.bar(x + (k - 0.5) * 0.4, gap, 0.4, label=what)
    ax2.set_xticks(x, [str(d) for d in ds])
    ax2.set_xlabel("shortest distance from the start to the goal")
    ax2.set_ylabel("guided - sparse")
    ax2.set_title("gap vs goal distance")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, png_path)


def run(
    root: str | Path = RUNS_ROOT,
    figures: str | Path = FIGURES,
    scale: str = "full",
    seeds: tuple[int, ...] | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train (or reuse) the model, evaluate both modes, write guided_vs_sparse.csv + .png."""
    seed = (seeds or (0,))[0]
    spec = model_spec(scale, seed)
    (run_dir,) = run_sweep([spec], Path(root) / "models", progress)
    rows = evaluate_modes(run_dir, None, EPISODES[check_scale(scale)], seed, progress)
    csv_path = write_csv(rows, Path(figures) / "guided_vs_sparse.csv")
    plot(csv_path, csv_path.with_suffix(".png"))
    return rows
