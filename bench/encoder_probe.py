"""What does a trained run's goal encoder see? Per run: the share of its output units that never
fire on the run's training goals (dead ReLUs), the units active per goal, and how well a linear
read-out of the goal embedding predicts each scored label on held-out goals (R^2).

    python bench/encoder_probe.py RUN_DIR [RUN_DIR ...] [--labels player_y] [--goals 500]

Each RUN_DIR is a finished run of a suite with labels (Atari, DM Control, the grid), any
algorithm whose network has a `goal_encoder` (GLAMOR, GCSL, DISCERN). The read-out is fitted by
least squares on the first 80% of the goals and scored on the rest. A goal encoder whose units
have died cannot tell the goals apart, and neither can the policy built on it. Used in
docs/results.md (Pong seed 2). Prints numbers; asserts nothing. Not part of `make bench`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from glamor_mini.experiments.common import load_run


def probe(run_dir: Path, labels: list[str] | None, n_goals: int) -> None:
    run = load_run(run_dir, device="cpu")
    encoder = getattr(run.model, "goal_encoder", None)
    if encoder is None:
        raise SystemExit(f"{run_dir}: its network ({type(run.model).__name__}) has no goal_encoder")
    names = list(run.task.label_names or [])
    chosen = labels or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        raise SystemExit(f"{run_dir}: no label {unknown}; this task scores {names}")
    goals = run.task.train_goals(run.cfg.seed)
    n = min(n_goals, len(goals))
    if n < 10:
        raise SystemExit(f"{run_dir}: {n} training goals; the read-out needs at least 10")
    with torch.no_grad():
        emb = encoder(torch.as_tensor(goals.frames[:n])).float()  # (n, S)
    dead = (emb.abs().amax(dim=0) == 0).float().mean().item()
    active = (emb > 0).float().sum(dim=1).mean().item()
    print(
        f"{run_dir} ({run.agent.name}): goal-encoder units dead on {n} training goals "
        f"{dead:.2f}; active per goal {active:.0f} of {emb.shape[1]}"
    )
    X = torch.cat([emb, torch.ones(n, 1)], dim=1).double()
    cut = int(0.8 * n)
    for name in chosen:
        y = torch.as_tensor(goals.labels[:n, names.index(name)], dtype=torch.float64)
        if y[cut:].var() == 0:
            print(f"  {name:20s} constant on the held-out goals: no R^2")
            continue
        w = torch.linalg.lstsq(X[:cut], y[:cut, None], driver="gelsd").solution
        pred = (X[cut:] @ w).squeeze(1)
        r2 = 1 - ((pred - y[cut:]) ** 2).mean() / y[cut:].var(unbiased=False)
        print(f"  {name:20s} linear read-out R^2 on held-out goals {r2.item():.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+", type=Path)
    p.add_argument("--labels", nargs="*", default=None, help="labels to read out (default: all)")
    p.add_argument("--goals", type=int, default=500, help="training goals to encode (first N)")
    args = p.parse_args()
    torch.set_num_threads(1)
    for d in args.run_dirs:
        if not (d / "ckpt.pt").is_file():
            sys.exit(f"{d}: no ckpt.pt; pass the directory of a finished run")
        probe(d, args.labels, args.goals)


if __name__ == "__main__":
    main()
