"""Running a grid of jobs (Table 1's ~120 runs, the grid-world sweeps) on Ray.

A job is one directory: a training run (train(), resumable from its ckpt.pt) or a floor
evaluation (random and stop-at-t=0 policies on the run's evaluation goals). A job's directory IS
its state, so the executor needs no database: finished jobs (eval.json / floor.json present) are
skipped, interrupted ones resume from their checkpoint, and rerunning the same command after a
crash or Ctrl-C completes only what is missing.

Backends
  'ray'     (default) one Ray task per job, asking for the job's resources (`num_cpus`,
            `num_gpus` fractions); the job's process gets GLAMOR_CPUS = its CPUs, so that its
            env workers fit in what it asked for (resources.cpu_share, envs/vec.py). Without
            `address` an embedded local Ray is started, sized to the machine (no set-up on a
            laptop); address='auto' or 'HOST:PORT' joins a running
            cluster (every node needs this package installed and the output folder on a shared
            filesystem). A task that raises is reported with its run dir and error; the others
            finish. Ray retries a task whose worker died (OOM, preemption): it resumes.
  'serial'  the same jobs one after another in this process (debugging; machines without Ray).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BACKENDS = ("ray", "serial")


def add_executor_arguments(parser, default: str = "ray") -> None:
    """--executor and --address of the command lines that run grids of jobs; the parsed values
    are passed to `execute` (there is no global default to set)."""

    def backend(text: str) -> str:
        if text not in BACKENDS:
            import argparse

            raise argparse.ArgumentTypeError(
                f"{text!r} is not accepted; choose one of {', '.join(BACKENDS)}"
            )
        return text

    parser.add_argument(
        "--executor",
        type=backend,
        default=default,
        help=f"'ray' (runs in parallel on an embedded local Ray, or the cluster at --address) or "
        f"'serial' (one after another in this process); default {default}",
    )
    parser.add_argument("--address", default=None, help="join a Ray cluster: auto or HOST:PORT")


@dataclass(frozen=True)
class Job:
    """One unit of work: `kind` 'train' (train(cfg) into root/name) or 'floor'."""

    name: str
    cfg: Any
    kind: str = "train"
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    labels: dict = field(default_factory=dict, hash=False, compare=False)
    """What the job is (suite, env, algo, seed): shown in progress lines."""


@dataclass
class JobReport:
    job: Job
    run_dir: Path
    status: str  # 'finished' (before this call), 'done', 'failed', 'interrupted'
    result: dict | None = None
    error: str | None = None


def is_done(job: Job, run_dir: Path) -> bool:
    """A floor job is done when floor.json exists; a training job when eval.json exists and was
    written at >= the job's total_steps (so a larger --set total_steps=... trains on)."""
    if job.kind != "train":
        return (run_dir / "floor.json").is_file()
    from glamor_mini.rundir import run_finished

    return run_finished(run_dir, job.cfg.total_steps)


def check_same_config(run_dir: Path, cfg) -> None:
    """Jobs reuse a finished run by its directory name; refuse one trained with other settings
    (e.g. after a preset changed) instead of reporting its numbers as this job's."""
    from glamor_mini.agents import fields_not_used_by
    from glamor_mini.config import Config
    from glamor_mini.rundir import RunDir, RunDirError

    try:
        RunDir(run_dir).check_same_experiment(
            cfg.to_dict(),
            {},
            None,
            defaults=Config().to_dict(),
            ignore=fields_not_used_by(cfg.algo),
        )
    except RunDirError as err:
        raise ValueError(
            f"{err}. Finished runs are reused by name: delete {run_dir} to retrain it, or "
            "choose another root"
        ) from None


# ---------------------------------------------------------------------------------- the job
def ray_job_config(job: Job) -> dict:
    """The config a Ray task runs: a job that asked Ray for no GPU runs on the CPU even where
    CUDA is visible (device 'auto' would otherwise put it on GPU 0, outside Ray's accounting)."""
    cfg = job.cfg.to_dict()
    if job.num_gpus <= 0 and cfg.get("device") == "auto":
        cfg["device"] = "cpu"
    return cfg


def default_cpus_per_run(gpus_per_run: float, n_gpus: int, cores: int) -> int:
    """CPUs per training run that share a machine's cores among the runs its GPUs hold at
    once (n_gpus / gpus_per_run of them); 1 without GPUs (then every core holds a run)."""
    if gpus_per_run <= 0 or n_gpus <= 0:
        return 1
    runs = max(1, math.floor(n_gpus / gpus_per_run + 1e-9))
    return max(1, cores // runs)


def run_job(kind: str, cfg_dict: dict, run_dir: str, num_cpus: float | None = None) -> dict:
    """Execute one job (in a Ray worker or in this process); returns its summary. num_cpus:
    the CPUs the job was granted, exported as GLAMOR_CPUS for the job's env workers (None: this
    process's share is left as it is)."""
    from glamor_mini.config import Config
    from glamor_mini.resources import CPUS_ENV

    if num_cpus is not None:
        os.environ[CPUS_ENV] = str(max(1, math.floor(num_cpus)))
    cfg = Config.from_dict(cfg_dict)
    if kind == "train":
        from glamor_mini.train import train

        res = train(cfg, Path(run_dir))
        summary = res.eval.summary() if res.eval is not None else {}
        return {**summary, "agent_steps": res.agent_steps, "wall_seconds": res.wall_seconds}
    if kind == "floor":
        return _floor_job(cfg, Path(run_dir))
    raise ValueError(f"job kind {kind!r}: expected 'train' or 'floor'")


def _floor_job(cfg, run_dir: Path) -> dict:
    """Random and stop-at-t=0 floors on the evaluation goals of cfg's env and seed."""
    from glamor_mini.envs import make_task
    from glamor_mini.floor import FLOOR_POLICIES, floor_result
    from glamor_mini.utils import atomic_write_text

    task = make_task(cfg)
    goals = task.eval_goals(cfg.seed)
    blind = task.without_pixels()
    out = {}
    for name in FLOOR_POLICIES:  # a line each: on Atari ~30 s (a ROM reload per episode)
        start = time.perf_counter()
        res = floor_result(blind, goals, name, cfg.eval_episodes, cfg.seed)
        out[name] = res.goal_achievement
        print(
            f"{task.name} seed {cfg.seed}: {name} floor {res.goal_achievement:.3f} "
            f"({res.episodes} episodes, {time.perf_counter() - start:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "floor.json", json.dumps({**out, "seed": cfg.seed}) + "\n")
    return out


# ---------------------------------------------------------------------------------- executing
def execute(
    jobs: Sequence[Job],
    root: str | Path,
    backend: str = "serial",
    address: str | None = None,
    progress: bool = True,
    status_every: float | None = None,
    max_retries: int = 2,
    stream=None,
    changed: str = "raise",
) -> list[JobReport]:
    """Run every unfinished job of `jobs` into root/job.name; report each job's outcome.
    `backend`: 'serial' (default: one after another in this process) or 'ray' (`address`: a
    cluster to join, None for an embedded local Ray); the command lines pass their --executor.
    A job whose directory holds a run with other settings raises ValueError (`changed`
    'raise') or is reported as failed, naming the changed fields, while the others run
    ('report': table1)."""
    if changed not in ("raise", "report"):
        raise ValueError(f"changed={changed!r}: expected 'raise' or 'report'")
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not accepted; choose one of {BACKENDS}")
    names = [j.name for j in jobs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"job names must be unique; repeated: {dup}")
    root = Path(root)
    stream = stream if stream is not None else sys.stdout
    say = (lambda text: print(text, file=stream, flush=True)) if progress else (lambda _: None)
    reports, todo = [], []
    for job in jobs:
        d = root / job.name
        try:
            check_same_config(d, job.cfg)
        except ValueError as err:
            if changed == "raise":
                raise
            reports.append(JobReport(job, d, "failed", error=str(err)))
            say(f"SKIPPED {_describe(job)} ({d}): {err}")
            continue
        if is_done(job, d):
            reports.append(JobReport(job, d, "finished", _read_summary(job, d)))
        else:
            todo.append((job, d))
    n_bad = sum(r.status == "failed" for r in reports)
    state = f"{len(reports) - n_bad} finished, {len(todo)} to run"
    state += f", {n_bad} with other settings" if n_bad else ""
    say(f"{len(jobs)} jobs under {root}: {state} ({backend})")
    if not todo:
        return reports
    root.mkdir(parents=True, exist_ok=True)
    if backend == "serial":
        return reports + _run_serial(todo, say)
    return reports + _run_ray(todo, address, say, status_every, max_retries, stream)


def _read_summary(job: Job, d: Path) -> dict | None:
    try:
        return json.loads((d / ("eval.json" if job.kind == "train" else "floor.json")).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _describe(job: Job) -> str:
    return " ".join(f"{v}" for v in job.labels.values()) or job.name


def _run_serial(todo, say) -> list[JobReport]:
    out = []
    for i, (job, d) in enumerate(todo):
        say(f"[{i + 1}/{len(todo)}] {_describe(job)} -> {d}")
        try:
            res = run_job(job.kind, job.cfg.to_dict(), str(d))
            out.append(JobReport(job, d, "done", res))
        except KeyboardInterrupt:
            say("interrupted; rerun the same command to complete the missing runs")
            raise
        except Exception as err:  # noqa: BLE001 - reported, the others go on
            out.append(JobReport(job, d, "failed", error=_one_line(err)))
            say(f"FAILED {_describe(job)} ({d}): {_one_line(err)}")
    return out


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[-1] if text else ''}"


def start_ray(address: str | None = None) -> None:
    """Join `address`, or start an embedded local Ray sized to this machine (its CPU share:
    resources.cpu_share, and its visible GPUs)."""
    import ray

    from glamor_mini.resources import cpu_share

    if ray.is_initialized():
        return
    kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False)
    if address:
        ray.init(address=address, **kw)
        return
    try:
        import torch

        gpus = torch.cuda.device_count()
    except Exception:  # noqa: BLE001
        gpus = 0
    # workers import this package from the same interpreter; keep its env (PYTHONPATH, ...)
    env = {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "MUJOCO_GL")}
    try:
        ray.init(
            num_cpus=cpu_share(),
            num_gpus=gpus,
            runtime_env={"env_vars": env} if env else None,
            **kw,
        )
    except Exception as err:  # noqa: BLE001
        raise RuntimeError(
            f"could not start a local Ray ({_one_line(err)}); on a heavily loaded machine Ray's "
            "agents may start too slowly: retry, or pass --executor serial"
        ) from None


def _run_ray(todo, address, say, status_every, max_retries, stream) -> list[JobReport]:
    import ray

    start_ray(address)
    remote = ray.remote(run_job)
    refs = {}
    for job, d in todo:
        ref = remote.options(
            num_cpus=job.num_cpus,
            num_gpus=job.num_gpus,
            max_retries=max_retries,
            retry_exceptions=False,
            name=job.name,
        ).remote(job.kind, ray_job_config(job), str(d), job.num_cpus)
        refs[ref] = (job, d)
    tty = hasattr(stream, "isatty") and stream.isatty()
    every = status_every if status_every is not None else (15.0 if tty else 60.0)
    out: list[JobReport] = []
    pending = list(refs)
    last_status = time.time()
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in ready:
                job, d = refs[ref]
                try:
                    res = ray.get(ref)
                    out.append(JobReport(job, d, "done", res))
                    score = res.get("goal_achievement", res.get("random"))
                    say(f"done {_describe(job)}: {score} ({len(out)}/{len(refs)})")
                except ray.exceptions.RayTaskError as err:
                    cause = err.cause if getattr(err, "cause", None) is not None else err
                    out.append(JobReport(job, d, "failed", error=_one_line(cause)))
                    say(f"FAILED {_describe(job)} ({d}): {_one_line(cause)}")
                except ray.exceptions.RayError as err:
                    out.append(JobReport(job, d, "failed", error=_one_line(err)))
                    say(f"FAILED {_describe(job)} ({d}): {_one_line(err)}")
            if pending and time.time() - last_status >= every:
                last_status = time.time()
                for ref in pending:
                    job, d = refs[ref]
                    say("  " + run_status(job, d))
    except KeyboardInterrupt:
        say("interrupting: running jobs write a checkpoint ...")
        for ref in pending:
            ray.cancel(ref)
        time.sleep(5)
        say("interrupted; rerun the same command to complete the missing runs")
        raise
    return out


def run_status(job: Job, d: Path) -> str:
    """One line: what the job is, its last logged step and evaluation (from progress.csv)."""
    text = _describe(job)
    path = d / "progress.csv"
    if job.kind != "train" or not path.is_file():
        return f"{text}: waiting"
    try:
        import csv

        with path.open() as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        rows = []
    if not rows:
        return f"{text}: starting"
    last = rows[-1]
    evals = [r["eval_goal_achievement"] for r in rows if r.get("eval_goal_achievement")]
    ev = f", last eval {float(evals[-1]):.3f}" if evals else ""
    return f"{text}: step {last['agent_steps']}/{job.cfg.total_steps}{ev}"


__all__ = [
    "BACKENDS",
    "Job",
    "add_executor_arguments",
    "default_cpus_per_run",
    "JobReport",
    "execute",
    "run_job",
    "run_status",
    "start_ray",
]
