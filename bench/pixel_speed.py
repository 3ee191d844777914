"""Benchmark: agent steps per second of `--scale cpu` Atari and DM Control runs, end to end, with
the wall time split into start-up, collection, planning, updates, evaluation and checkpoints.

Three variants of the same run (Table 1's `--scale cpu` settings for GLAMOR, seed 0, with a
shorter budget: --steps agent steps, updates from --learning_starts on, two evaluations (half
way and at the end), a checkpoint every --checkpoint_every steps), run at the same time, one
process and one torch thread each, so that other load on the machine slows all three alike (the
first to finish frees CPU for the others, so the ratios err low):

  before    the IMPALA encoder on NCHW tensors (ImpalaEncoder(channels_last=False)), new
            evaluation envs at every evaluation, all episodes at once (Task.reuse_eval_envs =
            False, Task.eval_chunk = None), the goal encoded at every evaluation step
            (ClosedLoopPolicy.encode_goal_once = False)
  now       the defaults: channels-last convolutions, evaluation envs kept (DM Control: 30 at a
            time), each episode's goal encoded once
  now+amp   the defaults with Config.amp (bf16 encoders), where models.amp_supported

Each variant trains with the same replay ratio and batch size (the same learning per agent
step); bench/amp_learning.py shows that they learn alike from the same batches. The goal sets are
built (and saved under runs/goals) before the timing. The ratio of agent steps per second is the
figure to read; with a short budget evaluation weighs more than in a 60k-step run, so the script
also projects each variant's wall time at Table 1's budget from its measured split (start-up,
per-step collection, per-update costs, the first evaluation and the second one for every later
evaluation).

Usage:  python bench/pixel_speed.py [--suites atari dmc] [--steps 3000] [--quick]
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
from common import base_parser, print_table, setup, verdict

from glamor_mini import policies
from glamor_mini.encoders import ImpalaEncoder
from glamor_mini.envs import make_task
from glamor_mini.envs.base import Task
from glamor_mini.experiments.table1 import build_jobs
from glamor_mini.models import amp_supported
from glamor_mini.rollout import Collector
from glamor_mini.train import Trainer

TARGET = 1.5
ENVS = {"atari": "Pong", "dmc": "cartpole/balance"}


class Timers:
    """Wall seconds per phase, by wrapping the methods that do each."""

    def __init__(self) -> None:
        self.acc: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.last: dict[str, float] = {}
        self._saved: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, key: str) -> None:
        fn = getattr(owner, name)
        acc, calls, last = self.acc, self.calls, self.last

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                took = time.perf_counter() - t0
                acc[key] += took
                calls[key] += 1
                last[key] = took

        self._saved.append((owner, name, fn))
        setattr(owner, name, timed)

    def __enter__(self) -> Timers:
        self.wrap(Trainer, "__init__", "start-up")
        self.wrap(Collector, "step", "collect")
        self.wrap(policies, "plan", "plan")
        self.wrap(Trainer, "update", "update")
        self.wrap(Trainer, "run_eval", "eval")
        self.wrap(Trainer, "checkpoint", "checkpoint")
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, fn in reversed(self._saved):
            setattr(owner, name, fn)


class Before:
    """The encoder layout and evaluation envs as they were (see the module docstring)."""

    def __enter__(self) -> None:
        self.defaults = ImpalaEncoder.__init__.__defaults__
        ImpalaEncoder.__init__.__defaults__ = (*self.defaults[:-1], False)
        self.patched = [cls for cls in _task_classes() if "reuse_eval_envs" in cls.__dict__]
        self.chunked = {c: c.eval_chunk for c in _task_classes() if "eval_chunk" in c.__dict__}
        for cls in self.patched:
            cls.reuse_eval_envs = False
        for cls in self.chunked:
            cls.eval_chunk = None
        policies.ClosedLoopPolicy.encode_goal_once = False

    def __exit__(self, *exc) -> None:
        ImpalaEncoder.__init__.__defaults__ = self.defaults
        for cls in self.patched:
            cls.reuse_eval_envs = True
        for cls, chunk in self.chunked.items():
            cls.eval_chunk = chunk
        policies.ClosedLoopPolicy.encode_goal_once = True


def _task_classes() -> list[type]:
    out, todo = [], [Task]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo += cls.__subclasses__()
    return out


def run_variant(cfg, variant: str) -> dict:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp, Timers() as timers:
        t0 = time.perf_counter()
        if variant == "before":
            with Before():
                trainer = Trainer(cfg, Path(tmp))
                trainer.run()
        else:
            trainer = Trainer(cfg.replace(amp=variant == "now+amp"), Path(tmp))
            trainer.run()
        wall = time.perf_counter() - t0
    split = dict(timers.acc)
    return {
        "wall": wall,
        "steps": trainer.agent_steps,
        "updates": trainer.updates,
        "split": split,
        "calls": dict(timers.calls),
        "last": dict(timers.last),
        "ga": trainer.last_eval.goal_achievement if trainer.last_eval else float("nan"),
    }


def project(r: dict, full) -> float:
    """Wall seconds of a run at `full`'s budget from a short run's measured costs."""
    s, c = r["split"], r["calls"]
    collect = s.get("collect", 0.0) / max(r["steps"], 1)
    update = s.get("update", 0.0) / max(r["updates"], 1)
    # the first evaluation builds its envs; the last one is what every later one costs
    first_ev = s.get("eval", 0.0) - r["last"].get("eval", 0.0) * (c.get("eval", 1) - 1)
    ev = r["last"].get("eval", 0.0)
    ck = s.get("checkpoint", 0.0) / max(c.get("checkpoint", 1), 1)
    updates = full.replay_ratio * (full.total_steps - full.learning_starts) / full.batch_size
    evals = 1  # the final one (at total_steps when it falls on an eval_every step)
    if full.eval_every:
        evals = -(-full.total_steps // full.eval_every)
    ckpts = full.total_steps // full.checkpoint_every if full.checkpoint_every else 1
    return (
        s.get("start-up", 0.0)
        + collect * full.total_steps
        + update * updates
        + first_ev
        + ev * (evals - 1)
        + ck * ckpts
    )


def main() -> None:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--suites", nargs="+", default=list(ENVS), choices=list(ENVS))
    p.add_argument("--steps", type=int, default=3000, help="agent steps per run")
    p.add_argument("--learning_starts", type=int, default=1000)
    p.add_argument("--checkpoint_every", type=int, default=1000)
    args = p.parse_args()
    if args.quick:
        args.steps, args.learning_starts, args.checkpoint_every = 600, 200, 300
    device = setup(args)
    variants = ["before", "now"] + (["now+amp"] if amp_supported(device) else [])
    ok = True
    for suite in args.suites:
        env = ENVS[suite]
        full = next(
            j.cfg for j in build_jobs(suite, [env], ["glamor"], [0], "cpu") if j.kind == "train"
        )
        cfg = full.replace(
            total_steps=args.steps,
            learning_starts=args.learning_starts,
            eps_steps=args.steps,
            eval_every=args.steps // 2,  # two evaluations: the second shows reused envs
            checkpoint_every=args.checkpoint_every,
            progress=False,
            device=str(device),
        )
        make_task(cfg).eval_goals(cfg.seed)  # build and save the goal sets outside the timing
        make_task(cfg).train_goals(cfg.seed)
        print(
            f"\n== {suite} {env}: {args.steps} agent steps, updates from step "
            f"{args.learning_starts} (batch {cfg.batch_size}, replay ratio {cfg.replay_ratio})"
        )
        # all variants at once, one process each: whatever else loads the machine slows them
        # alike (run one after the other, a load that comes and goes skews the ratio)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(len(variants)) as pool:
            out = pool.starmap(run_variant, [(cfg, v) for v in variants])
        res = dict(zip(variants, out, strict=True))
        keys = ["start-up", "collect", "plan", "update", "eval", "checkpoint"]
        rows = []
        base = res["before"]
        base_full = project(base, full)
        for v, r in res.items():
            s = r["split"]
            rate = r["steps"] / r["wall"]
            rows.append(
                [v, f"{r['wall']:.0f}"]
                + [f"{s.get(k, 0.0):.1f}" for k in keys]
                + [
                    r["updates"],
                    f"{rate:.1f}",
                    f"{rate / (base['steps'] / base['wall']):.2f}x",
                    f"{project(r, full) / 60:.0f}",
                    f"{base_full / project(r, full):.2f}x",
                ]
            )
        print(
            "seconds per phase ('plan': every plan() call, part of 'collect' (open loop) and "
            f"of 'eval' (closed loop, one plan per step)); 'at {full.total_steps // 1000}k': "
            "projected minutes at Table 1's budget"
        )
        print_table(
            ["variant", "wall"] + keys + ["updates", "steps/s", "speed", "at full", "speed"],
            rows,
        )
        best = max(base_full / project(r, full) for r in res.values())
        ok &= best >= TARGET
        print(
            verdict(
                f"{suite}: projected speed-up at Table 1's budget >= {TARGET}x",
                best >= TARGET,
                f"{best:.2f}x",
            )
        )
    print("all suites: " + ("MET" if ok else "NOT MET"))


if __name__ == "__main__":
    main()
