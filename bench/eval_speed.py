"""How long does a trained GLAMOR run's evaluation take when each episode's goal is encoded once
(the default) against once per step? The same episodes, timed in turns in one process.

    python bench/eval_speed.py RUN_DIR [--pairs 2]

RUN_DIR is a finished GLAMOR run (any suite). Its evaluation (its goals x eval_episodes, its
seed) is played `--pairs` times each way, alternating, on fresh envs as `load_run(...).evaluate()`
does: with `ClosedLoopPolicy.encode_goal_once = False` the planner encodes the goal at every
step (a closed-loop evaluation plans at every step). Prints seconds per variant (the whole
evaluation, the time inside plan(), the time inside the goal encoder), their ratio, and each
variant's goal achievement (equal up to float rounding: the planner draws the same numbers).
Used in docs/speed.md. Not part of `make bench` (it needs a trained run).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from glamor_mini import policies
from glamor_mini.experiments.common import load_run
from glamor_mini.rollout import run_episodes


def timed_evaluation(run, once: bool) -> dict[str, float]:
    """Play the run's evaluation once; seconds in all, in plan() and in the goal encoder."""
    cfg, task, net = run.cfg, run.task, run.model
    acc: dict[str, float] = defaultdict(float)
    plan = policies.plan

    def timed_plan(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return plan(*args, **kwargs)
        finally:
            acc["plan"] += time.perf_counter() - t0

    starts: list[float] = []

    def pre_hook(module, inputs) -> None:
        acc["goal rows"] += len(inputs[0])
        starts.append(time.perf_counter())

    pre = net.goal_encoder.register_forward_pre_hook(pre_hook)
    post = net.goal_encoder.register_forward_hook(
        lambda *_: acc.__setitem__("goal", acc["goal"] + time.perf_counter() - starts.pop())
    )
    goals = task.eval_goals(cfg.seed)
    goals_rep = goals.take(np.tile(np.arange(len(goals)), cfg.eval_episodes))
    policies.plan, policies.ClosedLoopPolicy.encode_goal_once = timed_plan, once
    try:
        t0 = time.perf_counter()
        with torch.no_grad():
            ep = run_episodes(task, run.agent.eval_policy(cfg.seed), goals_rep, seed=cfg.seed)
        acc["all"] = time.perf_counter() - t0
    finally:
        policies.plan, policies.ClosedLoopPolicy.encode_goal_once = plan, True
        pre.remove()
        post.remove()
    by = {} if goals.ranges is None else {"ranges": goals.ranges}  # as evaluate() judges
    acc["goal_achievement"] = float(task.achieved(ep.final_labels, goals_rep.labels, **by).mean())
    return dict(acc)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--pairs", type=int, default=1, help="evaluations each way, alternating")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = p.parse_args()
    if args.pairs < 1:
        raise SystemExit(f"--pairs must be >= 1; got {args.pairs}")
    torch.set_num_threads(args.threads)
    run = load_run(args.run_dir, device="cpu")
    if run.cfg.algo != "glamor":
        raise SystemExit(f"{args.run_dir}: a {run.cfg.algo!r} run; this times GLAMOR's planner")
    n = len(run.task.eval_goals(run.cfg.seed)) * run.cfg.eval_episodes
    print(f"{args.run_dir}: {n} evaluation episodes, horizon {run.cfg.horizon}", flush=True)
    res: dict[str, list[dict[str, float]]] = {"every step": [], "once": []}
    for i in range(args.pairs):
        for name in res:
            r = timed_evaluation(run, once=name == "once")
            res[name].append(r)
            print(
                f"  pair {i + 1}, goal encoded {name:10s}: {r['all']:7.1f} s "
                f"(plan {r['plan']:6.1f} s, goal encoder {r['goal']:6.1f} s for "
                f"{int(r['goal rows'])} goals), "
                f"goal achievement {r['goal_achievement']:.3f}",
                flush=True,
            )
    walls = {k: float(np.median([r["all"] for r in v])) for k, v in res.items()}
    print(
        f"median evaluation: {walls['every step']:.1f} s -> {walls['once']:.1f} s "
        f"({walls['every step'] / walls['once']:.2f}x)"
    )


if __name__ == "__main__":
    sys.exit(main())
