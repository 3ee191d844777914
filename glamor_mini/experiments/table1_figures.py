"""Table 1's figures (table1.py writes them): Fig. 2 as bars per env and algorithm, and the
learning curves of Figs. 9-10 from every run's progress.csv."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.agents import AGENTS
from glamor_mini.experiments.common import save_figure


def algo_name(algo: str) -> str:
    return AGENTS[algo].name


def slug(env: str) -> str:
    return env.replace("/", "-")


def plot_bars(rows: list[dict[str, Any]], algos: list[str], png: Path, title: str) -> Path:
    """Fig. 2: goal achievement per env, one bar per algorithm (mean ± std), paper as ticks.
    A cell that cannot train at its budget gets no bar: 'cannot train' is written in its place."""
    import matplotlib.pyplot as plt

    envs = list(dict.fromkeys(r["env"] for r in rows))
    names = [algo_name(a) for a in algos]
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(envs) + 2), 3.6))
    x = np.arange(len(envs))
    for i, n in enumerate(names):
        rs = [next(r for r in rows if r["env"] == e and r["algo"] == n) for e in envs]
        bad = np.array([bool(r.get("cannot_train")) for r in rs])
        m = np.where(bad, np.nan, np.array([r["mean"] for r in rs], dtype=float))
        s = np.where(bad, np.nan, np.array([r["std"] for r in rs], dtype=float))
        pos = x - 0.4 + width * (i + 0.5)
        bars = ax.bar(pos, np.nan_to_num(m), width, yerr=np.nan_to_num(s), capsize=2, label=n)
        mark = dict(rotation=90, ha="center", va="bottom", fontsize=7)
        for p in pos[bad]:  # no bar: the words, in the algorithm's colour
            ax.text(p, 0.02, "cannot train", color=bars.patches[0].get_facecolor(), **mark)
        paper = np.array([r["paper"] for r in rs])
        ok = ~np.isnan(paper)
        if ok.any():
            ax.scatter(pos[ok], paper[ok], marker="_", s=120, color="black", zorder=3)
    floor = [next(r for r in rows if r["env"] == e)["random_floor"] for e in envs]
    ax.scatter(x, floor, marker="x", color="grey", zorder=3, label="random floor")
    ax.scatter([], [], marker="_", color="black", label="paper (500k steps)")
    ax.set_xticks(x, [e.split("/")[0] for e in envs], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("goal achievement")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return save_figure(fig, png)


def curve_table(
    root: Path, suite: str, envs: list[str], algos: list[str], seeds: list[int]
) -> list[dict[str, Any]]:
    """Tidy evaluation rows from every run's progress.csv (env, algo, seed, step, achievement,
    finished: whether the run has written its eval.json; a run still training is drawn apart)."""
    rows = []
    for env in envs:
        for algo in algos:
            for s in seeds:
                run = root / suite / slug(env) / algo / f"seed{s}"
                p = run / "progress.csv"
                if not p.is_file():
                    continue
                finished = (run / "eval.json").is_file()
                with p.open() as fh:
                    for r in csv.DictReader(fh):
                        if r.get("eval_goal_achievement"):
                            rows.append(
                                {
                                    "env": env,
                                    "algo": algo_name(algo),
                                    "seed": s,
                                    "agent_steps": int(float(r["agent_steps"])),
                                    "goal_achievement": float(r["eval_goal_achievement"]),
                                    "finished": finished,
                                }
                            )
    return rows


def plot_curves_grid(rows: list[dict[str, Any]], png: Path, floors: dict[str, float]) -> Path:
    """Figs. 9-10: one panel per env, mean ± std over the finished seeds per algorithm; a run
    still training is a dotted line of its own ("GCSL seed 1, running"), so a partial seed never
    shifts the mean of the early points."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    envs = list(dict.fromkeys(r["env"] for r in rows))
    cols = min(4, max(1, len(envs)))
    nrows = math.ceil(len(envs) / cols) if envs else 1
    fig, axes = plt.subplots(
        nrows, cols, figsize=(3.2 * cols + 0.6, 2.6 * nrows + 0.4), squeeze=False
    )
    colors = {a: f"C{k}" for k, a in enumerate(dict.fromkeys(r["algo"] for r in rows))}
    for ax, env in zip(axes.flat, envs, strict=False):
        for algo in dict.fromkeys(r["algo"] for r in rows if r["env"] == env):
            color = colors[algo]
            mine = [r for r in rows if r["env"] == env and r["algo"] == algo]
            pts: dict[int, list[float]] = {}
            for r in mine:
                if r.get("finished", True):
                    pts.setdefault(r["agent_steps"], []).append(r["goal_achievement"])
            if pts:
                xs = np.array(sorted(pts))
                m = np.array([np.mean(pts[x]) for x in xs])
                s = np.array([np.std(pts[x]) for x in xs])
                ax.plot(xs, m, marker="o", markersize=2, label=algo, color=color)
                ax.fill_between(xs, m - s, m + s, alpha=0.2, color=color)
            for seed in dict.fromkeys(r["seed"] for r in mine if not r.get("finished", True)):
                run = sorted(
                    (r["agent_steps"], r["goal_achievement"])
                    for r in mine
                    if r["seed"] == seed and not r.get("finished", True)
                )
                ax.plot(
                    *zip(*run, strict=True),
                    ls=":",
                    marker="o",
                    markersize=2,
                    color=color,
                    label=f"{algo} seed {seed}, running",
                )
        if not math.isnan(floors.get(env, math.nan)):
            ax.axhline(floors[env], ls="--", color="grey", lw=1, label="random")
        ax.set_title(env, fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    for ax in list(axes.flat)[len(envs) :]:
        ax.axis("off")
    if envs:  # one legend for all panels, in the first: every algorithm and running seed
        entries: dict[str, Any] = {}
        for ax in axes.flat[: len(envs)]:
            for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
                entries.setdefault(label, h)
        axes.flat[0].legend(list(entries.values()), list(entries), fontsize=7)
    fig.supxlabel("agent steps", fontsize=9)
    fig.supylabel("goal achievement\n(mean ± std over seeds)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, png)


__all__ = ["curve_table", "plot_bars", "plot_curves_grid"]
