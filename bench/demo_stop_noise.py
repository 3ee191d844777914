"""Why the demo's optimal-path rate can fall with training: SGD noise on the stop decision.

At a goal cell beside a wall, the plan [bump into the wall, END] ends on g after one action and has
the same Eq. 8 ratio as the empty plan [END], so [END] wins by only log(1/gamma) nats (0.69 at
gamma = 0.5). This script continues a finished grid-world run from its checkpoint (model,
optimizer and replay) at several learning rates and prints, every `--every` updates, the inverse
model's log p(END | s, g = s) at wall cells next to its value counted in the replay data, so the
size of the wandering can be compared with the margin.

    python -m glamor_mini.run gridworld --seed 1 --out runs/demo-seed1   # constant lr
    python bench/demo_stop_noise.py runs/demo-seed1 --lr 1e-3 3e-4 1e-4

The run directory is copied; nothing in it changes. Prints numbers; asserts nothing. A diagnostic
that needs a run directory, so `make bench` does not run it.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

import gridworld
from glamor_mini.config import Config
from glamor_mini.models import sequence_tokens
from glamor_mini.train import Trainer


def wall_cells(layout: gridworld.Layout) -> list[tuple[int, int]]:
    """Free cells with at least one wall among their four neighbours (corners first)."""
    cells = []
    for x, y in layout.free_cells():
        walls = sum(not layout.is_free(x + dx, y + dy) for dx, dy in gridworld.MOVES[:4])
        if walls:
            cells.append((walls, (x, y)))
    return [c for _, c in sorted(cells, key=lambda t: -t[0])]


def data_log_p_end(tr: Trainer, cell: tuple[int, int]) -> float:
    """log P(K = 0 | s, g = s) under the replay's relabelling (k ~ U{0..T} clipped to the end)."""
    rp, T = tr.replay, tr.cfg.horizon
    n = min(rp.total, rp.capacity)
    frames = rp.frames[:n, 0].reshape(n, -1).numpy()
    where = np.argmax(frames, axis=1)
    to_end = rp.to_end[:n].numpy().astype(int)
    target = cell[1] * tr.task.layout.width + cell[0]
    p_end = p_same = 0.0
    for t in np.flatnonzero(where == target):
        e = to_end[t]
        for k in range(e + 1):
            w = (T - e + 1) / (T + 1) if k == e else 1 / (T + 1)
            if where[t + k] == target:
                p_same += w
                p_end += w if k == 0 else 0.0
    return math.log(p_end / p_same)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("run_dir", help="a finished gridworld run (ckpt.pt with its replay)")
    p.add_argument("--lr", type=float, nargs="+", default=[1e-3, 3e-4, 1e-4])
    p.add_argument("--updates", type=int, default=200)
    p.add_argument("--every", type=int, default=25)
    p.add_argument("--cells", type=int, default=5, help="how many wall cells to follow")
    args = p.parse_args()
    src = Path(args.run_dir)
    import json

    cfg = Config.from_dict(json.loads((src / "config.json").read_text()))
    torch.set_num_threads(1)
    for lr in args.lr:
        tmp = Path(tempfile.mkdtemp(prefix="stop-noise-"))
        try:
            for name in ("ckpt.pt", "config.json"):
                shutil.copy(src / name, tmp / name)
            tr = Trainer(cfg.replace(progress=False), tmp)
            for group in tr.optimizer.param_groups:
                group["lr"] = lr
            cells = wall_cells(tr.task.layout)[: args.cells]
            obs = torch.stack(
                [torch.from_numpy(gridworld.goal_observation(tr.task.layout, c)) for c in cells]
            )
            truth = [data_log_p_end(tr, c) for c in cells]
            zeros = torch.zeros(len(cells), cfg.horizon, dtype=torch.long)
            prev, _, _ = sequence_tokens(zeros, zeros[:, 0], tr.model.n_actions)
            print(f"\nlr {lr:g}: log p_inverse(END | s, g = s) at {cells}")
            print("data   " + " ".join(f"{v:6.2f}" for v in truth))
            traces = []
            for u in range(args.updates + 1):
                if u % args.every == 0:
                    tr.model.eval()
                    with torch.no_grad():
                        lp_inv, _ = tr.model.log_probs(obs, obs, prev)
                    tr.model.train()
                    now = lp_inv[:, 0, tr.model.end_token].numpy()
                    traces.append(now)
                    print(f"{u:6d} " + " ".join(f"{v:6.2f}" for v in now))
                tr.update()
            spread = np.ptp(np.stack(traces).astype(np.float64), axis=0)
            print(f"range over the updates (max - min), per cell: {np.round(spread, 2).tolist()}")
            print(f"margin it has to stay within: log(1/gamma) = {-math.log(cfg.gamma):.2f}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
