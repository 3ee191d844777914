"""Benchmark: env steps per second of the MiniGrid pixel adapter (glamor_mini.envs.minigrid).

Reference points measured in the same run, on one core, with the same random actions
(left / right / forward):
  * MiniGrid's own full-view RGB observations: ``RGBImgObsWrapper`` (tile 8) + ``ImgObsWrapper``,
    the usual way to get image observations (the issue quotes about 1,100 steps/s here);
  * the same, rendered at the adapter's resolution by MiniGrid and area-averaged (what the
    adapter draws; it must be the same image);
  * plain MiniGrid with its symbolic 7x7 egocentric observation (no image at all).

Usage:  python bench/minigrid_steps.py [--steps 5000] [--quick] [--env MiniGrid-Empty-9x9-v0]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from glamor_mini.envs.minigrid import MiniGridTask, make_minigrid_env


def steps_per_second(reset, step, n: int, horizon: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    actions = rng.integers(3, size=n)
    reset()
    t0 = time.perf_counter()
    for i, a in enumerate(actions):
        if step(int(a)) or (i + 1) % horizon == 0:
            reset()
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--env", default="MiniGrid-Empty-9x9-v0")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--horizon", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="500 steps: a smoke run")
    args = p.parse_args()
    n = 500 if args.quick else args.steps
    from minigrid.wrappers import ImgObsWrapper, RGBImgObsWrapper

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"env {args.env} | {n} steps per row | load {load:.1f} on {os.cpu_count()} CPUs")
    task = MiniGridTask(args.env, horizon=args.horizon)
    env = task.make_env()
    rows = {}
    rows["adapter (ours)"] = steps_per_second(
        lambda: env.reset(seed=0), lambda a: env.step(a)[2], n, args.horizon
    )

    def wrapped(tile: int):
        base = make_minigrid_env(args.env)
        del base.gen_obs  # back to MiniGrid's own observation
        w = ImgObsWrapper(RGBImgObsWrapper(base, tile_size=tile))

        def step(a: int) -> bool:
            _, _, term, trunc, _ = w.step(a)
            return term or trunc

        return (lambda: w.reset(seed=0)), step

    rows["RGBImgObsWrapper tile 8 (reference)"] = steps_per_second(*wrapped(8), n, args.horizon)
    from glamor_mini.envs.minigrid import SUPERSAMPLE, _downsample

    base = make_minigrid_env(args.env)
    tile = task.layout.cell_px * SUPERSAMPLE

    def step_ds(a: int) -> bool:
        _, _, term, trunc, _ = base.step(a)
        _downsample(base.get_frame(highlight=False, tile_size=tile), SUPERSAMPLE)
        return term or trunc

    rows[f"MiniGrid full render tile {tile} + downsample"] = steps_per_second(
        lambda: base.reset(seed=0), step_ds, n, args.horizon
    )
    sym = make_minigrid_env(args.env)
    del sym.gen_obs  # MiniGrid's own symbolic egocentric observation

    def step_sym(a: int) -> bool:
        _, _, term, trunc, _ = sym.step(a)
        return term or trunc

    rows["MiniGrid symbolic obs (no image)"] = steps_per_second(
        lambda: sym.reset(seed=0), step_sym, n, args.horizon
    )
    ref = rows["RGBImgObsWrapper tile 8 (reference)"]
    print(f"{'':40s} {'steps/s':>10s} {'x reference':>12s}")
    for name, sps in rows.items():
        print(f"{name:40s} {sps:10.0f} {sps / ref:12.2f}")
    print(f"adapter frame: {task.frame_shape} uint8 ({task.layout.cell_px} px per cell)")


if __name__ == "__main__":
    main()
