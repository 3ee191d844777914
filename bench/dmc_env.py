"""Benchmark: DM Control pixel frames per second, in this process vs subprocess workers.

Software rendering (EGL/llvmpipe or OSMesa on a CPU) is the collection bottleneck for the `dmc`
suite. This script steps `n` environments with uniform-random actions and reports agent frames per
second (one 1x80x104 grayscale frame per agent step) for

  * in-process: a SerialVecEnv of n envs (the Collector's default),
  * subprocess: a SubprocVecEnv with n worker processes (what DmcTask.make_vec_env picks for n > 1
    on a machine with more than one core),

for n = 1 and 2, with shadows on (dm_control's default) and off, and prints each row's speed as a
ratio to in-process n = 1 with the same shadows setting, measured in the same run. Rows are timed
in turns, so a transient slowdown of a shared machine falls on all of them alike.

Usage:  python bench/dmc_env.py [--task point_mass/easy] [--steps 200] [--repeats 3] [--quick]
"""

from __future__ import annotations

import os
import time

import numpy as np
from common import base_parser, print_table, setup

from glamor_mini.envs import make_task
from glamor_mini.envs.vec import SerialVecEnv, SubprocVecEnv
from glamor_mini.resolve import make_config


def frames_per_second(vec, n: int, steps: int, n_actions: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    vec.reset_slots(list(range(n)), [seed + i for i in range(n)])
    t0 = time.perf_counter()
    for _ in range(steps):
        vec.step(rng.integers(n_actions, size=n))
    return n * steps / (time.perf_counter() - t0)


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--task", default="cartpole/balance", help="dm_control domain/task")
    parser.add_argument("--steps", type=int, default=150, help="vector steps per timing")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 30, 1
    setup(args)
    rows = []
    for shadows in (True, False):
        cfg = make_config("dmc", task=args.task, shadows=shadows, goal_dir="")
        task = make_task(cfg)
        factory = task.env_factory()
        vecs = {
            ("in-process", 1): SerialVecEnv([task.make_env()]),
            ("in-process", 2): SerialVecEnv([task.make_env() for _ in range(2)]),
            ("subprocess", 1): SubprocVecEnv(factory, 1, workers=1),
            ("subprocess", 2): SubprocVecEnv(factory, 2, workers=2),  # one process per env
        }
        fps: dict[tuple[str, int], list[float]] = {k: [] for k in vecs}
        for r in range(args.repeats + 1):  # the first round warms up (GL contexts, caches)
            for (kind, n), vec in vecs.items():
                v = frames_per_second(vec, n, args.steps, task.n_actions, args.seed + r)
                if r > 0:
                    fps[(kind, n)].append(v)
        for vec in vecs.values():
            vec.close()
        ref = float(np.median(fps[("in-process", 1)]))
        for (kind, n), values in fps.items():
            med = float(np.median(values))
            rows.append([shadows, kind, n, f"{med:.0f}", f"{med / ref:.2f}x"])
    print(f"task {args.task}, 1x80x104 grayscale frames, MUJOCO_GL={os.environ.get('MUJOCO_GL')}")
    print_table(["shadows", "envs", "n", "frames/s", "vs in-process n=1"], rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
