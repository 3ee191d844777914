"""GLAMOR vs GCSL on the grid world (paper §4.3, Fig. 2, at grid-world scale).

Both algorithms run through the same Algorithm 1 loop (glamor_mini.train.train) with the same
preset, budget, replay ratio, epsilon schedule and seeds; only `algo` differs (and GCSL's acting
mode, Config.gcsl_act). Goal achievement on every free cell (judged at T, or when GLAMOR stops
itself) is read from each run's progress.csv and drawn as mean +- std over seeds vs agent steps.

    python -m glamor_mini.run gcsl-vs-glamor --seeds 0 1 2 --out runs/gcsl_vs_glamor
    python -m glamor_mini.run gcsl-vs-glamor --gcsl_acts greedy sample   # both GCSLs
    python -m glamor_mini.run gcsl-vs-glamor --seeds 0 --set total_steps=20000
    python -m glamor_mini.run sweep gcsl-vs-glamor --scale small       # as a registered experiment

One run directory per (agent, seed): OUT/glamor-seed<S>, OUT/gcsl_<act>-seed<S>. Runs whose
eval.json exists are skipped, interrupted ones resume. Writes FIGURE.png (curves), FIGURE.csv (one
row per agent, seed and evaluation) and prints the final numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.cli import ArgumentParser
from glamor_mini.config import Config, ConfigError, add_set_argument, parse_set
from glamor_mini.experiments.common import (
    FIGURES,
    RUNS_ROOT,
    RunSpec,
    check_scale,
    curve_rows,
    final_rows,
    group_mean,
    plot_curves,
    run_sweep,
    write_csv,
)
from glamor_mini.experiments.executor import add_executor_arguments
from glamor_mini.resolve import make_config

ALGOS = ("glamor", "gcsl")


def specs(
    seeds: list[int],
    preset: str = "gridworld",
    gcsl_acts: tuple[str, ...] = ("greedy",),
    **overrides: Any,
) -> list[RunSpec]:
    """One RunSpec per (agent, seed), agents = GLAMOR and GCSL with each acting mode; every run
    gets the same preset, budget and overrides. Run names: glamor-seedS, gcsl_<act>-seedS."""
    agents = [("glamor", {"algo": "glamor"})] + [
        (f"gcsl_{act}", {"algo": "gcsl", "gcsl_act": act}) for act in gcsl_acts
    ]
    out = []
    for name, algo in agents:
        for seed in seeds:
            cfg: Config = make_config(
                preset,
                **{"torch_threads": 1, "progress": False, **overrides, **algo, "seed": seed},
            )
            label = f"GCSL ({cfg.gcsl_act})" if cfg.algo == "gcsl" else "GLAMOR"
            out.append(RunSpec(f"{name}-seed{seed}", cfg, label))
    return out


def compare(
    seeds: list[int],
    out: str | Path = "runs/gcsl_vs_glamor",
    figure: str | Path = "docs/figures/gcsl_vs_glamor",
    preset: str = "gridworld",
    gcsl_acts: tuple[str, ...] = ("greedy",),
    progress: bool = True,
    executor: str = "serial",
    address: str | None = None,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Train what is missing, write FIGURE.csv/.png; return the final rows (one per run)."""
    from glamor_mini.floor import random_floor

    sweep = specs(seeds, preset, tuple(gcsl_acts), **overrides)
    run_sweep(sweep, out, progress=progress, executor=executor, address=address)
    figure = Path(figure)
    csv_path = write_csv(curve_rows(sweep, out), figure.with_suffix(".csv"))
    floor = float(np.mean(random_floor(preset, seeds)))
    cfg = sweep[0].cfg
    title = f"GLAMOR vs GCSL, {cfg.suite} {cfg.layout}, T={cfg.horizon} ({len(seeds)} seeds)"
    plot_curves(csv_path, figure.with_suffix(".png"), title=title, floor=floor)
    finals = final_rows(sweep, out)
    for r in group_mean(finals, ("setting",), ("goal_achievement", "optimal_path_rate")):
        print(
            f"{r['setting']:<16} goal achievement {r['goal_achievement_mean']:.3f} "
            f"(std {r['goal_achievement_std']:.3f}), optimal path "
            f"{r['optimal_path_rate_mean']:.3f} (std {r['optimal_path_rate_std']:.3f}), "
            f"n={r['n']}"
        )
    print(f"random policy: {floor:.3f}")
    print(f"wrote {csv_path} and {figure.with_suffix('.png')}")
    return finals


def run(
    root: str | Path = RUNS_ROOT,
    figures: str | Path = FIGURES,
    scale: str = "full",
    seeds: list[int] | None = None,
    progress: bool = True,
    executor: str = "serial",
    address: str | None = None,
) -> list[dict[str, Any]]:
    """The registered experiment (`run sweep gcsl-vs-glamor`): `compare` with GCSL's greedy
    acting, the gridworld preset at `scale` (baselines.SCALES: 'full' the preset's 40k steps,
    'small' a 3k-step CI budget), runs under root/gcsl_vs_glamor-SCALE, figure
    figures/gcsl_vs_glamor(_small).png."""
    from glamor_mini.experiments.baselines import SCALES

    suffix = "" if check_scale(scale) == "full" else f"_{scale}"
    return compare(
        list(seeds) if seeds else [0, 1, 2],
        Path(root) / f"gcsl_vs_glamor-{scale}",
        Path(figures) / f"gcsl_vs_glamor{suffix}",
        progress=progress,
        executor=executor,
        address=address,
        **SCALES[scale],
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m glamor_mini.run gcsl-vs-glamor [--seeds ...] [--out DIR] ...``."""
    p = ArgumentParser(
        prog="python -m glamor_mini.run gcsl-vs-glamor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--out", default="runs/gcsl_vs_glamor", help="root of the run directories")
    p.add_argument("--preset", default="gridworld")
    p.add_argument(
        "--gcsl_acts",
        nargs="+",
        default=["greedy"],
        choices=["greedy", "sample"],
        help="GCSL acting modes to run (Config.gcsl_act), one curve each",
    )
    p.add_argument(
        "--figure",
        default="docs/figures/gcsl_vs_glamor",
        help="path of the figure without suffix (.png and .csv are written)",
    )
    add_set_argument(p, "Config overrides applied to every run (e.g. total_steps=20000)")
    add_executor_arguments(p)
    args = p.parse_args(argv)
    try:
        compare(
            args.seeds,
            args.out,
            args.figure,
            args.preset,
            args.gcsl_acts,
            executor=args.executor,
            address=args.address,
            **parse_set(args.set),
        )
    except (ConfigError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
