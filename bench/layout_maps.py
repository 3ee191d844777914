"""Why a grid layout is hard: train the `gridworld` preset on it, then print two maps side by side,
log10 of the steps collection spent on each cell and the final evaluation's success per goal cell
(9 = reached, 0 = missed), and the evaluation curve. Used for README 'Other layouts'.

    python bench/layout_maps.py four-rooms                      # the preset (keypoint encoder)
    python bench/layout_maps.py tests/data/maze_box.txt --set encoder=mlp
    python bench/layout_maps.py four-rooms --out runs/fr --set total_steps=160000 eps_steps=100000

Prints numbers; asserts nothing. Not part of `make bench` (it is a diagnosis, not a benchmark).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import glamor_mini.rollout as rollout
import gridworld
from glamor_mini.config import add_set_argument, parse_set
from glamor_mini.experiments.common import read_csv
from glamor_mini.resolve import make_config
from glamor_mini.train import train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("layout", help="a built-in layout name or a layout file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="", help="keep the run here (default: a temporary folder)")
    add_set_argument(p, "overrides")
    args = p.parse_args()
    over = {"eval_every": 10_000, **parse_set(args.set)}
    cfg = make_config("gridworld", seed=args.seed, layout=args.layout, progress=False, **over)
    lay = gridworld.get_layout(args.layout)
    visits = np.zeros(lay.walls.shape, dtype=np.int64)
    step = rollout.Collector.step

    def counting_step(self: rollout.Collector) -> int:  # count where each slot stands
        n = step(self)
        visits[:] += self.stacks.latest()[:, 0].astype(bool).sum(0)  # channel 0: the agent
        return n

    rollout.Collector.step = counting_step  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(args.out or tmp)
            res = train(cfg, out)
            curve = [
                (r["agent_steps"], r["eval_goal_achievement"])
                for r in read_csv(out / "progress.csv")
                if r["eval_goal_achievement"] is not None
            ]
    finally:
        rollout.Collector.step = step  # type: ignore[method-assign]
    ev = res.eval
    print(f"{lay.name} seed {args.seed} encoder {cfg.encoder}: goals {ev.goal_achievement:.3f}")
    print("evaluations: " + ", ".join(f"{s}: {float(g):.3f}" for s, g in curve))
    success = np.full(lay.walls.shape, np.nan)
    for g in ev.per_goal:
        x, y = (int(v) for v in g["labels"])
        success[y, x] = g["achieved"]
    print("log10(collected steps on the cell)    success (9 = reached, 0 = missed)")
    for y in range(lay.walls.shape[0]):
        left = " ".join(
            "  #" if lay.walls[y, x] else f"{np.log10(visits[y, x] + 1):3.1f}"
            for x in range(lay.walls.shape[1])
        )
        right = " ".join(
            " #"
            if lay.walls[y, x]
            else " ."
            if np.isnan(success[y, x])
            else f"{success[y, x] * 9:2.0f}"
            for x in range(lay.walls.shape[1])
        )
        print(left, "   ", right)


if __name__ == "__main__":
    main()
