"""Look inside a trained grid-world run: re-evaluate it with other planner settings, and print the
closed-loop path the agent takes toward chosen goal cells. Used for README 'Other layouts'.

    python bench/grid_probe.py RUN_DIR --gamma 0.5 0.8 0.95 1 --n 50 200   # a table
    python bench/grid_probe.py RUN_DIR --paths 7,1 2,6                     # where it walks

RUN_DIR is a GLAMOR run of the grid world (e.g. `bench/layout_maps.py LAYOUT --out RUN_DIR`).
Prints numbers; asserts nothing. Not part of `make bench` (a diagnosis, not a benchmark).
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from glamor_mini.evaluate import evaluate
from glamor_mini.experiments.common import load_run
from glamor_mini.planner import PlannerSettings
from glamor_mini.policies import ClosedLoopPolicy
from glamor_mini.rollout import run_episodes


def parse_cell(text: str) -> tuple[int, int]:
    try:
        x, y = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a cell as X,Y (e.g. 7,1)") from None
    return x, y


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--gamma", type=float, nargs="*", default=[], help="planner gammas to try")
    p.add_argument("--n", type=int, nargs="*", default=[], help="candidate counts N to try")
    p.add_argument("--paths", type=parse_cell, nargs="*", default=[], help="goal cells X,Y")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    run = load_run(args.run_dir, device="cpu")
    if run.cfg.suite != "gridworld":
        raise SystemExit(f"{args.run_dir} is a {run.cfg.suite!r} run; this probe reads grid runs")
    base = PlannerSettings.from_config(run.cfg)
    for gamma in args.gamma or ([base.gamma] if args.n else []):
        for n in args.n or [base.n_candidates]:
            s = dataclasses.replace(base, gamma=gamma, n_candidates=n)
            res = evaluate(run.task, run.model, s, seed=args.seed)
            print(
                f"gamma {gamma:g}  N {n:4d}:  goals {res.goal_achievement:.3f}  "
                f"optimal {res.optimal_path_rate:.3f}",
                flush=True,
            )
    if args.paths:
        goals = run.task.eval_goals(args.seed)
        rows = []
        for cell in args.paths:
            hit = np.flatnonzero((goals.labels == np.array(cell)).all(1))
            if len(hit) == 0:
                raise SystemExit(f"{cell} is not a goal cell of this layout (a wall?)")
            rows.append(int(hit[0]))
        pol = ClosedLoopPolicy(run.model, base, torch.Generator().manual_seed(args.seed))
        ep = run_episodes(run.task, pol, goals.take(np.array(rows)), seed=args.seed)
        for i, cell in enumerate(args.paths):
            path = ep.trajectories[i, : ep.steps[i] + 1].astype(int)
            cells = " ".join(f"({x},{y})" for x, y in path)
            end = "reached" if tuple(path[-1]) == cell else "missed"
            print(f"goal {cell}: {end} after {ep.steps[i]} steps: {cells}")


if __name__ == "__main__":
    main()
