"""The `make demo` target measured: the gridworld preset's goal achievement, optimal-path rate and
wall time against the issue's targets (>= 0.95, >= 0.8, <= 180 s on a 2-core CPU).

    python bench/demo.py [--seed 0] [--quick]

Prints the measured numbers and their ratio to each target; asserts nothing (machines are noisy).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from glamor_mini.config import make_config
from glamor_mini.train import train

TARGETS = {"goal_achievement": 0.95, "optimal_path_rate": 0.8, "wall_seconds": 180.0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a 10k-step smoke run")
    args = p.parse_args()
    overrides = {"seed": args.seed, "progress": False}
    if args.quick:
        overrides.update(total_steps=10_000, eval_every=0)
    cfg = make_config("gridworld", **overrides)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        res = train(cfg, out)
        wall = time.perf_counter() - t0
    got = {
        "goal_achievement": res.eval.goal_achievement,
        "optimal_path_rate": res.eval.optimal_path_rate,
        "wall_seconds": wall,
    }
    print(f"gridworld preset, seed {args.seed}, {res.agent_steps} agent steps")
    print(f"{'metric':<20}{'measured':>10}{'target':>10}  verdict")
    for k, target in TARGETS.items():
        ok = got[k] <= target if k == "wall_seconds" else got[k] >= target
        ratio = target / got[k] if k == "wall_seconds" else got[k] / target
        print(f"{k:<20}{got[k]:>10.3f}{target:>10.3f}  {'MET' if ok else 'NOT MET'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
