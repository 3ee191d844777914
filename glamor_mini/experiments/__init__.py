"""The paper's experiments as functions (§4.7, Appendix A.4 on the grid world).

Each experiment trains the runs it needs into its own directories (a sweep: rerunning fills in
missing runs and never repeats finished ones), evaluates them, returns a tidy table (a list of
dicts) and writes it as CSV next to a PNG drawn from that CSV.

    python -m glamor_mini.run sweep planning-compute --scale full     # Fig. 3a
    python -m glamor_mini.run sweep collection --seeds 0 1 2          # Fig. 6

| experiment        | paper      | module                            |
|-------------------|------------|-----------------------------------|
| planning-compute  | Fig. 3a    | experiments/planning_compute.py   |
| termination       | Fig. 3b    | experiments/termination.py        |
| guided-vs-sparse  | Fig. 4     | experiments/guided_vs_sparse.py   |
| collection        | Fig. 6     | experiments/ablations.py          |
| random-data       | Fig. 7     | experiments/ablations.py          |
| test-planning     | Fig. 8     | experiments/ablations.py          |
| baselines         | Table 1    | experiments/baselines.py          |
| gcsl-vs-glamor    | §4.3, Fig. 2 | experiments/gcsl_vs_glamor.py   |
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from glamor_mini.cli import ArgumentParser

EXPERIMENTS: dict[str, tuple[str, str | None]] = {
    "planning-compute": ("glamor_mini.experiments.planning_compute", None),
    "termination": ("glamor_mini.experiments.termination", None),
    "guided-vs-sparse": ("glamor_mini.experiments.guided_vs_sparse", None),
    "collection": ("glamor_mini.experiments.ablations", "collection"),
    "random-data": ("glamor_mini.experiments.ablations", "random-data"),
    "test-planning": ("glamor_mini.experiments.ablations", "test-planning"),
    "baselines": ("glamor_mini.experiments.baselines", None),
    "gcsl-vs-glamor": ("glamor_mini.experiments.gcsl_vs_glamor", None),
}
"""Experiment name -> (module whose `run` draws it, first argument of `run` or None)."""


def get_experiment(name: str) -> Callable[..., list[dict[str, Any]]]:
    """The function that runs experiment `name` (keyword arguments: root, figures, scale, seeds,
    progress)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; accepted: {', '.join(EXPERIMENTS)}")
    module, arg = EXPERIMENTS[name]
    fn = importlib.import_module(module).run
    if arg is None:
        return fn
    return lambda **kw: fn(arg, **kw)


def sweep_main(argv: list[str] | None = None) -> int:
    """``python -m glamor_mini.run sweep EXPERIMENT [--scale S] [--seeds ...] [--root DIR]
    [--figures DIR]``."""
    from glamor_mini.experiments.common import FIGURES, RUNS_ROOT, SCALES
    from glamor_mini.experiments.executor import add_executor_arguments

    p = ArgumentParser(
        prog="python -m glamor_mini.run sweep",
        description="Run one of the paper's experiments: train its missing runs (one directory "
        "each; finished runs are reused), evaluate, write the CSV table and the PNG figure.",
        allow_abbrev=False,
    )
    p.add_argument("experiment", help=f"one of: {', '.join(EXPERIMENTS)}")
    p.add_argument("--scale", default="full", help=f"one of {SCALES} (default full)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1 2)")
    p.add_argument("--root", default=str(RUNS_ROOT), help=f"runs root (default {RUNS_ROOT})")
    p.add_argument("--figures", default=str(FIGURES), help=f"CSV/PNG folder (default {FIGURES})")
    add_executor_arguments(p)
    args = p.parse_args(argv)
    if args.experiment not in EXPERIMENTS:
        p.error(f"unknown experiment {args.experiment!r}; accepted: {', '.join(EXPERIMENTS)}")
    if args.scale not in SCALES:
        p.error(f"--scale {args.scale!r} is not accepted; choose one of {SCALES}")
    fn = get_experiment(args.experiment)
    rows = fn(
        root=args.root,
        figures=args.figures,
        scale=args.scale,
        seeds=args.seeds,
        executor=args.executor,
        address=args.address,
    )
    print(f"{args.experiment}: {len(rows)} rows written to {args.figures}")
    return 0


__all__ = ["EXPERIMENTS", "get_experiment", "sweep_main"]
