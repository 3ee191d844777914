"""Shared machinery of the experiments: sweeps of run directories, loading a trained model, tidy
tables as CSV files, and learning curves (mean +- std over seeds) drawn from those CSVs.

A *sweep* is a list of `RunSpec`s (a directory name, a Config and the setting it belongs to). Each
run trains into its own directory ``root/name``; a run is finished when its eval.json was written
at >= its total_steps, and `run_sweep` skips finished runs, resumes interrupted ones (train()
resumes from ckpt.pt, also to train a finished run on to a larger total_steps) and starts the
rest, so rerunning a sweep only fills in what is missing.

Tables are lists of dicts (one dict per row, "tidy": one observation per row); `write_csv` /
`read_csv` round-trip them, and every plotting function reads its CSV from disk.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from glamor_mini.agents import Agent, build_agent
from glamor_mini.config import Config
from glamor_mini.envs import Task, make_task
from glamor_mini.evaluate import EvalResult
from glamor_mini.resolve import make_config
from glamor_mini.rundir import CheckpointError, read_checkpoint, run_finished
from glamor_mini.utils import resolve_device

RUNS_ROOT = Path("runs/experiments")
"""Default root of the experiments' run directories (ignored by git)."""
FIGURES = Path("docs/figures")
"""Default folder of the full-scale figures (PNG) and their tables (CSV)."""
SCALES = ("full", "small")
"""'full': the budgets of the figures in docs/results.md; 'small': the notebooks' CI budgets."""


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not accepted; choose one of {SCALES}")
    return scale


def base_config(**overrides: Any) -> Config:
    """The grid-world preset with one torch thread and no progress bar, plus `overrides`."""
    defaults = {"torch_threads": 1, "progress": False}
    return make_config("gridworld", **{**defaults, **overrides})


# ---------------------------------------------------------------------- sweeps
@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: trained into ``root / name`` with `cfg`; `setting` labels its curve."""

    name: str
    cfg: Config
    setting: str = ""

    @property
    def seed(self) -> int:
        return self.cfg.seed

    def keyed(self) -> RunSpec:
        """This run with its settings in its name (``name-<settings_key(cfg)>``): a notebook whose
        knobs change trains into a new directory and reuses the old one when they change back."""
        return RunSpec(f"{self.name}-{settings_key(self.cfg)}", self.cfg, self.setting)


def settings_key(cfg: Config) -> str:
    """Eight hex digits that change with any field of `cfg` that changes what a run computes
    (display-only fields such as `progress` are left out)."""
    fields = {k: v for k, v in sorted(cfg.to_dict().items()) if k not in _DISPLAY_FIELDS}
    return hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:8]


_DISPLAY_FIELDS = frozenset({"progress"})


def keyed(specs: Iterable[RunSpec]) -> list[RunSpec]:
    """`RunSpec.keyed` for every spec of a sweep."""
    return [s.keyed() for s in specs]


def is_finished(run_dir: str | Path, total_steps: int | None = None) -> bool:
    """A run is finished when train() has written its eval.json (at >= `total_steps` agent
    steps when given: a sweep with a larger budget trains its finished runs on)."""
    return run_finished(run_dir, total_steps)


def run_sweep(
    specs: Sequence[RunSpec],
    root: str | Path,
    progress: bool = True,
    dry_run: bool = False,
    executor: str = "serial",
    address: str | None = None,
) -> list[Path]:
    """Train every unfinished run of `specs` into ``root/<name>``; return the run directories.

    Finished runs (eval.json written at >= their total_steps) are skipped, runs with a checkpoint
    resume (a larger total_steps trains a finished run on), the rest start.
    `dry_run` only reports what would be done. A table of the sweep is written to
    ``root/sweep.csv`` (name, setting, seed, status before this call). The runs go through the
    experiments' executor (executor.py): `executor` 'ray' runs them in parallel, 'serial' one
    after another in this process (the default; `run sweep --executor` passes its choice).
    """
    from glamor_mini.experiments.executor import Job, check_same_config, execute

    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"run names must be unique within a sweep; repeated: {dup}")
    root = Path(root)
    dirs, rows = [], []
    for spec in specs:
        d = root / spec.name
        check_same_config(d, spec.cfg)
        status = (
            "finished"
            if is_finished(d, spec.cfg.total_steps)
            else "resumed"
            if (d / "ckpt.pt").is_file()
            else "started"
        )
        rows.append(
            {"name": spec.name, "setting": spec.setting, "seed": spec.seed, "status": status}
        )
        dirs.append(d)
    todo = [(s, d) for s, d, r in zip(specs, dirs, rows, strict=True) if r["status"] != "finished"]
    print(f"sweep {root}: {len(specs) - len(todo)} finished, {len(todo)} to run")
    if not dry_run:
        root.mkdir(parents=True, exist_ok=True)
        write_csv(rows, root / "sweep.csv")
        jobs = [Job(s.name, s.cfg, labels={"run": s.name}) for s, _ in todo]
        reports = execute(jobs, root, backend=executor, address=address, progress=progress)
        failed = [r for r in reports if r.status == "failed"]
        if failed:
            raise RuntimeError(
                f"{len(failed)} run(s) of the sweep failed: "
                + "; ".join(f"{r.run_dir}: {r.error}" for r in failed)
            )
    return dirs


# ---------------------------------------------------------------------- trained runs
@dataclass
class LoadedRun:
    """A trained run of any algorithm: its config, a fresh task, the agent with the checkpoint's
    weights (eval mode) and `model`, the agent's main network (GLAMOR: the GlamorModel)."""

    cfg: Config
    task: Task
    model: torch.nn.Module
    run_dir: Path
    agent: Agent

    def evaluate(self, episodes_per_goal: int | None = None, seed: int | None = None) -> EvalResult:
        """Evaluate the agent again as train() does (§4.4) on the run's evaluation goals;
        defaults: the run's eval_episodes and seed."""
        seed = self.cfg.seed if seed is None else seed
        episodes = self.cfg.eval_episodes if episodes_per_goal is None else episodes_per_goal
        return self.agent.evaluate(self.task.eval_goals(seed), episodes, seed)


def load_run(run_dir: str | Path, device: str | torch.device = "auto") -> LoadedRun:
    """Rebuild the task and the agent of a run directory (any registered algorithm) from its
    ckpt.pt through the Agent interface (`build_agent`, `Agent.load_state_dict`), networks in
    eval mode, on `device` ('auto': CUDA when present, so a sweep on a GPU box evaluates there)."""
    run_dir = Path(run_dir)
    path = run_dir / "ckpt.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}; train the run first (e.g. `python -m glamor_mini.run "
            f"gridworld --out {run_dir}`) or pass the directory of a finished run"
        )
    try:
        state = read_checkpoint(path)  # weights_only=True: a checkpoint never runs code
        cfg = Config.from_dict(state["config"])
    except CheckpointError as err:  # already one clear line (crafted, corrupt, ...)
        raise ValueError(f"{path} is not a readable glamor-mini checkpoint: {err}") from None
    except Exception as err:  # corrupt, truncated, foreign: one line, not a 40-line traceback
        why = (str(err).strip().splitlines() or [""])[0][:200]
        raise ValueError(
            f"{path} is not a readable glamor-mini checkpoint ({type(err).__name__}: {why}); "
            "retrain the run or restore the file"
        ) from None
    task = make_task(cfg)
    agent = build_agent(cfg, task, task.train_goals(cfg.seed), resolve_device(str(device)))
    try:
        agent.load_state_dict(state["agent"])
    except (KeyError, ValueError, RuntimeError) as err:
        why = (str(err).strip().splitlines() or [""])[0][:300]
        raise ValueError(
            f"{path} does not fit a {cfg.algo!r} agent built from its own config "
            f"({type(err).__name__}: {why}); retrain the run or restore the file"
        ) from None
    agent.train_mode(False)
    return LoadedRun(cfg, task, agent.model, run_dir, agent)


# ---------------------------------------------------------------------- tables
def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write rows (dicts sharing keys; the first row fixes the column order) to a CSV file."""
    path = Path(path)
    if not rows:
        raise ValueError(f"no rows to write to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    for r in rows[1:]:
        columns += [k for k in r if k not in columns]
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)
    return path


def _parse(value: str) -> Any:
    if value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    if value in ("True", "False"):
        return value == "True"
    return value


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read a CSV written by `write_csv` (numbers parsed, empty cells -> None)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no table at {path}; run the experiment first")
    with path.open(newline="") as fh:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def group_mean(
    rows: Iterable[dict[str, Any]], by: Sequence[str], values: Sequence[str]
) -> list[dict[str, Any]]:
    """Mean, std (population, ddof=0) and count of `values` per group of the `by` columns."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in by)].append(r)
    out = []
    for key, rs in groups.items():
        row = dict(zip(by, key, strict=True))
        for v in values:
            xs = np.array([r[v] for r in rs if r[v] is not None], dtype=float)
            row[f"{v}_mean"] = float(xs.mean()) if len(xs) else math.nan
            row[f"{v}_std"] = float(xs.std()) if len(xs) else math.nan
        row["n"] = len(rs)
        out.append(row)
    return out


# ---------------------------------------------------------------------- learning curves
def curve_rows(specs: Sequence[RunSpec], root: str | Path) -> list[dict[str, Any]]:
    """Tidy rows (setting, seed, run, agent_steps, goal_achievement, optimal_path_rate) from the
    evaluation rows of each finished run's progress.csv (a step evaluated twice, e.g. by a run
    resumed from its final checkpoint, counts once: the last row wins)."""
    rows = []
    for spec in specs:
        d = Path(root) / spec.name
        if not is_finished(d):
            raise FileNotFoundError(f"run {d} is not finished (no eval.json); run the sweep first")
        evals = {
            r["agent_steps"]: r
            for r in read_csv(d / "progress.csv")
            if r.get("eval_goal_achievement") is not None
        }
        for _, r in sorted(evals.items()):
            rows.append(
                {
                    "setting": spec.setting,
                    "seed": spec.seed,
                    "run": spec.name,
                    "agent_steps": r["agent_steps"],
                    "goal_achievement": r["eval_goal_achievement"],
                    "optimal_path_rate": r.get("eval_optimal_path_rate"),
                }
            )
    return rows


def final_rows(specs: Sequence[RunSpec], root: str | Path) -> list[dict[str, Any]]:
    """One row per run with its final evaluation (eval.json)."""
    rows = []
    for spec in specs:
        ev = json.loads((Path(root) / spec.name / "eval.json").read_text())
        rows.append(
            {
                "setting": spec.setting,
                "seed": spec.seed,
                "run": spec.name,
                "agent_steps": ev["agent_steps"],
                "goal_achievement": ev["goal_achievement"],
                "optimal_path_rate": ev.get("optimal_path_rate"),
                "wall_seconds": ev.get("wall_seconds"),
            }
        )
    return rows


ALGO_COLORS = {"GLAMOR": "tab:blue", "GCSL": "tab:orange", "DISCERN": "tab:green"}
"""One colour per algorithm in every figure and notebook."""


def plot_curves(
    csv_path: str | Path,
    png_path: str | Path,
    title: str = "",
    metric: str = "goal_achievement",
    floor: float | None = None,
) -> Path:
    """Mean +- std over seeds of `metric` vs agent steps, one line per setting, read from the CSV
    that `curve_rows` produced. `floor` draws a dashed reference line (e.g. a random policy)."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg by themselves

    rows = read_csv(csv_path)
    stats = group_mean(rows, ("setting", "agent_steps"), (metric,))
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    for setting in settings:
        pts = sorted((r for r in stats if r["setting"] == setting), key=lambda r: r["agent_steps"])
        x = np.array([p["agent_steps"] for p in pts])
        m = np.array([p[f"{metric}_mean"] for p in pts])
        s = np.array([p[f"{metric}_std"] for p in pts])
        n = max(p["n"] for p in pts)
        color = ALGO_COLORS.get(setting)
        (line,) = ax.plot(x, m, marker="o", markersize=3, color=color, label=f"{setting} (n={n})")
        ax.fill_between(x, m - s, m + s, alpha=0.2, color=line.get_color())
    if floor is not None:
        ax.axhline(floor, color="grey", ls="--", lw=1, label="random policy")
    ax.set_xlabel("agent steps")
    ax.set_ylabel(metric.replace("_", " ") + " (mean ± std)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, png_path)


def save_figure(fig, png_path: str | Path, dpi: int = 110) -> Path:
    """Write a pyplot figure atomically (a half-written PNG never replaces a good one), close it."""
    import matplotlib.pyplot as plt

    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = png_path.with_name(f".{png_path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=dpi)
        tmp.replace(png_path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return png_path


# ---------------------------------------------------------------------- planners on one model
def planner_for(cfg: Config, **changes: Any):
    """The run's evaluation planner (`PlannerSettings.from_config`) with some settings changed."""
    import dataclasses

    from glamor_mini.planner import PlannerSettings

    return dataclasses.replace(PlannerSettings.from_config(cfg), **changes)


def per_goal_rows(
    run: LoadedRun,
    variants: dict[str, dict[str, Any]],
    episodes_per_goal: int,
    seed: int = 0,
    column: str = "variant",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate one trained model with several planners (each a dict of PlannerSettings changes)
    on every evaluation goal; one row per (variant, goal): goal cell, shortest distance from the
    start, and the rates of reaching it (`achieved`), by a shortest path (`optimal`), mean steps.
    """
    from glamor_mini.evaluate import evaluate

    goals = run.task.eval_goals(seed)
    rows = []
    for label, changes in tqdm(variants.items(), desc="planners", disable=not progress):
        res = evaluate(
            run.task, run.model, planner_for(run.cfg, **changes), goals, episodes_per_goal, seed
        )
        for g in res.per_goal:
            x, y = (int(v) for v in g["labels"][:2])
            rows.append(
                {
                    column: label,
                    "goal": g["goal"],
                    "x": x,
                    "y": y,
                    "shortest": g.get("shortest"),
                    "achieved": g["achieved"],
                    "optimal": g.get("optimal"),
                    "mean_steps": g["mean_steps"],
                    "episodes": episodes_per_goal,
                }
            )
    return rows
