"""Where do a trained run's evaluation episodes end? Per scored label, the distinct values of the
final states against those of the goals, and how many distinct final states the episodes reach.

    python bench/final_states.py RUN_DIR [RUN_DIR ...] [--labels player_x player_column]

Each RUN_DIR is a finished run of a pixel suite with RAM / state labels (Atari, DM Control), any
algorithm. The run's evaluation (its goals, episodes and seed) is played again on fresh envs, as
`load_run(...).evaluate()` does, and the final labels are counted. A policy that ignores its goal
ends in few places whatever the goal asks: its final values cover a small part of the goals'.
Used in docs/results.md (GCSL on Qbert). Prints numbers; asserts nothing. Not part of
`make bench` (a diagnosis, not a benchmark).
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np
import torch

from glamor_mini.experiments.common import load_run
from glamor_mini.rollout import run_episodes


def describe(run_dir: Path, labels: list[str] | None) -> None:
    run = load_run(run_dir, device="cpu")
    task, cfg = run.task, run.cfg
    names = list(task.label_names or [])
    if not names:
        raise SystemExit(f"{run_dir}: its suite has no labels to count ({cfg.suite})")
    chosen = labels or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        raise SystemExit(f"{run_dir}: no label {unknown}; this task scores {names}")
    goals = task.eval_goals(cfg.seed)
    rep = np.tile(np.arange(len(goals)), cfg.eval_episodes)
    goals_rep = goals.take(rep)
    ep = run_episodes(task, run.agent.eval_policy(cfg.seed), goals_rep, seed=cfg.seed)
    final = np.asarray(ep.final_labels)
    by = {} if goals.ranges is None else {"ranges": goals.ranges}  # as evaluate() judges
    ok = task.achieved(ep.final_labels, goals_rep.labels, **by)
    print(f"{run_dir} ({run.agent.name}, {len(rep)} episodes): goal achievement {ok.mean():.3f}")
    for name in chosen:
        j = names.index(name)
        got = collections.Counter(final[:, j].astype(int).tolist())
        asked = set(goals.labels[:, j].astype(int).tolist())
        top = ", ".join(f"{v} x{c}" for v, c in got.most_common(4))
        print(
            f"  {name:20s} {len(got):3d} distinct final values (goals ask {len(asked):3d}); "
            f"most frequent: {top}"
        )
    idx = [names.index(n) for n in chosen]
    states = {tuple(row) for row in final[:, idx].astype(int).tolist()}
    print(f"  distinct final states over {', '.join(chosen)}: {len(states)} of {len(rep)} episodes")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+", type=Path)
    p.add_argument("--labels", nargs="*", default=None, help="labels to count (default: all)")
    args = p.parse_args()
    torch.set_num_threads(1)
    for d in args.run_dirs:
        if not (d / "ckpt.pt").is_file():
            sys.exit(f"{d}: no ckpt.pt; pass the directory of a finished run")
        describe(d, args.labels)


if __name__ == "__main__":
    main()
