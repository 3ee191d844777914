"""Table 1 as one command: GLAMOR vs DISCERN vs GCSL over envs x seeds, on Ray (paper §4.5,
Table 1, Fig. 2, Figs. 9-12).

    python -m glamor_mini.run table1 --suite atari --scale paper              # the paper's grid
    python -m glamor_mini.run table1 --suite grid --scale cpu --seeds 0 1 2   # a laptop
    python -m glamor_mini.run table1 --suite atari --aggregate-only            # tables + figures

Every (env, algorithm, seed) is one training job and every (env, seed) one floor job (random and
stop-at-t=0 policies on the same evaluation goals), each in its own directory under --out:

    OUT/SUITE/ENV/ALGO/seedS/     a run directory (rundir.py): resumable, skipped when finished
    OUT/SUITE/ENV/floor/seedS/    floor.json
    OUT/SUITE/table1.{md,csv}     mean ± std over seeds per env x algorithm, floors, the paper's
    OUT/SUITE/fig2.png            bar chart per env (Fig. 2)
    OUT/SUITE/curves.png          learning curves, mean ± std over seeds (Figs. 9-10)
    OUT/SUITE/goals_ENV.png       goal frames above final frames, one seed per env (Figs. 11-12)

Scales: 'paper' = the Fig. 5 / App. A.3 hyperparameters and 500k agent steps (a GPU per ~4 runs);
'cpu' = the CPU-sized networks and budgets this project measured on a 2-core machine;
'tiny' = the debug presets (tests; numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.agents import AGENTS
from glamor_mini.config import Config, ConfigError, add_set_argument, parse_set
from glamor_mini.envs import SUITES, Suite
from glamor_mini.experiments.common import write_csv
from glamor_mini.experiments.executor import (
    Job,
    add_executor_arguments,
    default_cpus_per_run,
    execute,
)
from glamor_mini.experiments.table1_figures import (
    algo_name,
    curve_table,
    plot_bars,
    plot_curves_grid,
    slug,
)
from glamor_mini.resolve import make_config
from glamor_mini.resources import cpu_share

SCALES = ("paper", "cpu", "tiny")


# Everything below is read from the registries (envs.SUITES, agents.AGENTS) when asked, so a
# suite or an algorithm registered later (a new module) is in Table 1 too.
def table1_suites() -> dict[str, Suite]:
    """table1's suite name (the folder it writes under: 'grid' for the grid world) -> Suite,
    for every registered suite with table1 scales."""
    out = {(s.aliases[0] if s.aliases else s.name): s for s in SUITES.values() if s.table1_scales}
    return dict(sorted(out.items()))


def suite_key(name: str) -> str:
    """What users type (--suite grid or gridworld) -> table1's suite name; ConfigError if none."""
    suites = table1_suites()
    for key, s in suites.items():
        if name == key or name == s.name or name in s.aliases:
            return key
    raise ConfigError(f"--suite {name!r} is not accepted; choose one of {tuple(suites)}")


def algos() -> tuple[str, ...]:
    """Every registered algorithm, in registration order (Table 1's columns)."""
    return tuple(AGENTS)


def paper_envs(suite: str) -> tuple[str, ...]:
    """Default environments: the paper's 14 games and 7 control tasks; one grid, one MiniGrid."""
    return table1_suites()[suite_key(suite)].paper_envs


def paper_number(suite: str, env: str, algo: str) -> float:
    """The paper's Table 1 goal achievement (nan where the paper has none)."""
    return table1_suites()[suite_key(suite)].paper_table1.get(env, {}).get(algo, math.nan)


def build_jobs(
    suite: str,
    envs: list[str],
    algos: list[str],
    seeds: list[int],
    scale: str,
    overrides: dict[str, Any] | None = None,
    gpus_per_run: float = 0.0,
    cpus_per_run: float = 1.0,
) -> list[Job]:
    """The training jobs (env x algo x seed) and floor jobs (env x seed) of one table; each
    training job asks for cpus_per_run CPUs (its env workers fit in them: envs/vec.py)."""
    suite = suite_key(suite)
    spec = table1_suites()[suite]
    if scale not in SCALES:
        raise ConfigError(f"--scale {scale!r} is not accepted; choose one of {SCALES}")
    bad = [a for a in algos if a not in AGENTS]
    if bad:
        raise ConfigError(f"--algos {bad} not accepted; choose from {tuple(AGENTS)}")
    unknown = [e for e in envs if spec.env_names and e not in spec.env_names]
    if unknown:
        raise ConfigError(
            f"--envs {' '.join(unknown)}: not {spec.title or suite} environment(s); accepted: "
            f"{', '.join(spec.env_names)}"
        )
    preset, base = spec.table1_scales[scale]
    jobs = []
    for env in envs:
        for seed in seeds:
            named = {spec.env_field: env} if spec.env_field else {}
            common = {**base, **named, "seed": seed, **(overrides or {})}
            labels = {"suite": suite, "env": env, "seed": f"seed {seed}"}
            floor_cfg = make_config(preset, **common)
            jobs.append(
                Job(f"{suite}/{slug(env)}/floor/seed{seed}", floor_cfg, "floor", 1.0, 0.0, labels)
            )
            for algo in algos:
                cfg = make_config(preset, **{**common, "algo": algo})
                jobs.append(
                    Job(
                        f"{suite}/{slug(env)}/{algo}/seed{seed}",
                        cfg,
                        "train",
                        num_cpus=cpus_per_run,
                        num_gpus=gpus_per_run,
                        labels={**labels, "algo": algo_name(algo)},
                    )
                )
    return jobs


# ---------------------------------------------------------------------------------- aggregation
def _mean_std(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return math.nan, math.nan
    a = np.asarray(xs, dtype=float)
    return float(a.mean()), float(a.std())  # population std (ddof = 0) over seeds


def budget_problem(run_dir: Path, algo: str) -> str | None:
    """`Agent.budget_problem` of the run's config.json (None without a readable one)."""
    try:
        cfg = Config.from_dict(json.loads((run_dir / "config.json").read_text()))
    except (OSError, ValueError, TypeError):  # ConfigError is a ValueError
        return None
    return AGENTS[algo].budget_problem(cfg)


def aggregate_rows(
    root: str | Path, suite: str, envs: list[str], algos: list[str], seeds: list[int]
) -> list[dict[str, Any]]:
    """One row per env x algorithm: mean and std over seeds of the final goal achievement,
    the seeds found and missing (never silently dropped), the floors, the paper's number, and
    `cannot_train`: why the algorithm cannot train at its runs' budgets ('' if it can)."""
    root = Path(root)
    rows = []
    for env in envs:
        floors: dict[str, list[float]] = {"random": [], "stop": []}
        for s in seeds:
            p = root / suite / slug(env) / "floor" / f"seed{s}" / "floor.json"
            if p.is_file():
                d = json.loads(p.read_text())
                for k in floors:
                    floors[k].append(float(d[k]))
        for algo in algos:
            vals, missing, problems = [], [], []
            for s in seeds:
                run = root / suite / slug(env) / algo / f"seed{s}"
                if (why := budget_problem(run, algo)) is not None and why not in problems:
                    problems.append(why)
                p = run / "eval.json"
                if p.is_file():
                    vals.append(float(json.loads(p.read_text())["goal_achievement"]))
                else:
                    missing.append(s)
            mean, std = _mean_std(vals)
            rows.append(
                {
                    "env": env,
                    "algo": algo_name(algo),
                    "mean": mean,
                    "std": std,
                    "n_seeds": len(vals),
                    "missing_seeds": " ".join(map(str, missing)),
                    "random_floor": _mean_std(floors["random"])[0],
                    "stop_floor": _mean_std(floors["stop"])[0],
                    "paper": paper_number(suite, env, algo),
                    "cannot_train": "; ".join(problems),
                }
            )
    return rows


def _fmt(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def markdown_table(rows: list[dict[str, Any]], algos: list[str]) -> str:
    """Table 1: one line per env, a column per algorithm (mean ± std (n) / paper), floors.
    A cell whose algorithm cannot train at its budget (row["cannot_train"]) shows a marker [k]
    instead of its number, with the reason as footnote k, and stays out of the mean row."""
    names = [algo_name(a) for a in algos]
    head = "| env | " + " | ".join(f"{n} (paper)" for n in names) + " | random | stop |"
    lines = [head, "|---" * (len(names) + 3) + "|"]
    notes: list[str] = []
    envs = list(dict.fromkeys(r["env"] for r in rows))
    for env in envs:
        cells = []
        for n in names:
            r = next(r for r in rows if r["env"] == env and r["algo"] == n)
            miss = f", missing {r['missing_seeds']}" if r["missing_seeds"] else ""
            if r.get("cannot_train"):
                notes.append(f"{n} on {env}: {r['cannot_train']}")
                value = f"cannot train [{len(notes)}]"
            elif r["n_seeds"] == 1:  # one seed has no spread to show
                value = _fmt(r["mean"])
            else:
                value = f"{_fmt(r['mean'])} ± {_fmt(r['std'])}"
            cells.append(f"{value} (n={r['n_seeds']}{miss}) ({_fmt(r['paper'])})")
        any_row = next(r for r in rows if r["env"] == env)
        lines.append(
            f"| {env} | " + " | ".join(cells) + f" | {_fmt(any_row['random_floor'])} | "
            f"{_fmt(any_row['stop_floor'])} |"
        )
    means = []
    for n in names:
        trained = [r for r in rows if r["algo"] == n and not r.get("cannot_train")]
        done = [r for r in trained if not math.isnan(r["mean"])]
        xs = [r["mean"] for r in done]
        # the paper's mean over the same envs: an env not run yet is in neither
        ps = [r["paper"] for r in done if not math.isnan(r["paper"])]
        means.append(
            f"{_fmt(float(np.mean(xs)) if xs else math.nan)} "
            f"({_fmt(float(np.mean(ps)) if ps else math.nan)})"
        )
    lines.append("| **mean** | " + " | ".join(means) + " | | |")
    for k, note in enumerate(notes, 1):  # one paragraph each
        why = "measures the budget, not the algorithm, and is left out of the mean"
        lines += ["", f"[{k}] {note}. Its goal achievement (table1.csv) {why}."]
    return "\n".join(lines) + "\n"


def aggregate(
    root: str | Path, suite: str, envs: list[str], algos: list[str], seeds: list[int]
) -> dict[str, Path]:
    """Write table1.md / .csv, fig2.png, curves.png and goals_ENV.png under root/suite."""
    root = Path(root)
    out = root / suite
    out.mkdir(parents=True, exist_ok=True)
    rows = aggregate_rows(root, suite, envs, algos, seeds)
    paths = {"csv": write_csv(rows, out / "table1.csv")}
    md = out / "table1.md"
    md.write_text(markdown_table(rows, algos))
    paths["md"] = md
    paths["fig2"] = plot_bars(rows, algos, out / "fig2.png", f"goal achievement ({suite})")
    curves = curve_table(root, suite, envs, algos, seeds)
    if curves:
        floors = {r["env"]: r["random_floor"] for r in rows}
        paths["curves"] = plot_curves_grid(curves, out / "curves.png", floors)
        write_csv(curves, out / "curves.csv")
    for env in envs:  # Figs. 11-12: the first finished GLAMOR seed's goal/final-frame grid
        for s in seeds:
            src = root / suite / slug(env) / algos[0] / f"seed{s}" / "eval.png"
            if src.is_file():
                dst = out / f"goals_{slug(env)}.png"
                shutil.copyfile(src, dst)
                paths[f"goals_{slug(env)}"] = dst
                break
    return paths


# ---------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m glamor_mini.run table1",
        description="Table 1 (GLAMOR vs DISCERN vs GCSL), Fig. 2 and Figs. 9-12 as one "
        "resumable command on Ray. Rerun the same command to complete missing runs.",
        allow_abbrev=False,
    )
    suites = ", ".join(f"{k} ({s.name})" if k != s.name else k for k, s in table1_suites().items())
    p.add_argument("--suite", default="atari", help=f"one of {suites} (default atari)")
    p.add_argument("--envs", nargs="+", default=None, help="default: the paper's list")
    p.add_argument("--algos", nargs="+", default=list(algos()), help=f"from {algos()}")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--scale", default="cpu", help=f"one of {SCALES} (default cpu)")
    p.add_argument("--out", default="runs/table1", help="root of the run directories")
    add_executor_arguments(p)
    p.add_argument(
        "--gpus_per_run",
        type=float,
        default=None,
        help="GPU share per training run "
        "(default: 0.25 at --scale paper when a GPU is visible, else 0)",
    )
    p.add_argument(
        "--cpus_per_run",
        type=float,
        default=None,
        help="CPUs per training run, its env workers included (default: with GPUs and no "
        "--address, the cores shared among the runs the GPUs hold at once, else 1)",
    )
    add_set_argument(p, "override Config fields for every run")
    p.add_argument("--aggregate-only", action="store_true", help="only write tables/figures")
    p.add_argument("--dry-run", action="store_true", help="list the jobs and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    try:
        args.suite = suite_key(args.suite)
        envs = args.envs or list(paper_envs(args.suite))
        overrides = parse_set(args.set)
        gpus, cpus = args.gpus_per_run, args.cpus_per_run
        if gpus is None or (cpus is None and gpus > 0 and args.address is None):
            import torch

            n_gpus = torch.cuda.device_count()
            if gpus is None:
                gpus = 0.25 if args.scale == "paper" and n_gpus else 0.0
            if cpus is None and args.address is None:
                cpus = default_cpus_per_run(gpus, n_gpus, cpu_share())
        jobs = build_jobs(
            args.suite, envs, args.algos, args.seeds, args.scale, overrides, gpus, cpus or 1.0
        )
    except (ConfigError, ValueError) as err:
        print(f"error: {err} (see --help)", file=sys.stderr)
        return 2
    if args.dry_run:
        for j in jobs:
            print(j.kind, j.name)
        return 0
    if not args.aggregate_only:
        try:
            reports = execute(
                jobs, args.out, backend=args.executor, address=args.address, changed="report"
            )
        except KeyboardInterrupt:
            return 130
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        failed = [r for r in reports if r.status == "failed"]
        for r in failed:
            print(f"failed: {r.run_dir}: {r.error}", file=sys.stderr)
    else:
        failed = []
    paths = aggregate(args.out, args.suite, envs, args.algos, args.seeds)
    print((Path(args.out) / args.suite / "table1.md").read_text())
    print("written: " + ", ".join(str(v) for v in paths.values()))
    return 1 if failed else 0


__all__ = [
    "algos",
    "paper_envs",
    "paper_number",
    "suite_key",
    "table1_suites",
    "aggregate",
    "aggregate_rows",
    "build_jobs",
    "main",
    "markdown_table",
]
