"""`make demo` now vs `make demo` at an earlier commit, timed in the same run (issue 15's target:
>= 1.8x faster than the code it was filed against, 2794a23, at the quality bar of >= 0.95 goals
and >= 0.90 optimal paths).

    python bench/demo_speed.py                       # seeds 0 1 2 against 2794a23
    python bench/demo_speed.py --against HEAD~5 --seeds 0

For each seed it runs the demo's command (`python -m glamor_mini.run gridworld --seed S --out
DIR`) in a fresh subprocess, first in a temporary `git worktree` of the old commit, then in this
tree, so a busy machine slows both alike; the wall time is the whole command (interpreter start,
imports, training, the final evaluation, the artefacts). Prints each pair with the quality each
reached, the CPU seconds each used (user + system over all its threads: less sensitive to other
jobs than the wall time, but the old code may use more threads) and the median wall-time ratio.
Needs the git history (not a shallow clone). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ISSUE_COMMIT = "2794a23"
"""The reference commit: its `make demo` took 105-115 s on a 2-core CPU."""


def git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed: {out.stderr.strip()} (a full clone is needed)")
    return out.stdout.strip()


def run_demo(tree: Path, seed: int, out: Path) -> dict:
    """Wall and CPU seconds (user + system, all threads) of the demo command in `tree`, and the
    final evaluation it wrote."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "glamor_mini.run", "gridworld", "--seed", str(seed)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*cmd, "--out", str(out)], cwd=tree, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"demo in {tree} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    ev = json.loads((out / "eval.json").read_text())
    return {
        "wall": wall,
        "cpu": cpu,
        "goals": ev["goal_achievement"],
        "optimal": ev["optimal_path_rate"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--against", default=ISSUE_COMMIT, help="earlier commit (default %(default)s)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    rev = git("rev-parse", "--verify", f"{args.against}^{{commit}}")
    head = git("rev-parse", "--short", "HEAD")
    dirty = " + uncommitted changes" if git("status", "--porcelain", "--", "glamor_mini") else ""
    print(f"old: {args.against} ({rev[:10]})   new: this tree, {head}{dirty}")
    print(f"{'seed':>4} {'old s':>7} {'new s':>7} {'ratio':>6}   old goals/optimal", end="")
    print("   new goals/optimal   CPU s old / new")
    ratios = []
    with tempfile.TemporaryDirectory(prefix="demo-speed-") as tmp:
        old_tree = Path(tmp) / "old"
        git("worktree", "add", "--detach", str(old_tree), rev)
        try:
            for seed in args.seeds:
                old = run_demo(old_tree, seed, Path(tmp) / f"old-{seed}")
                new = run_demo(REPO, seed, Path(tmp) / f"new-{seed}")
                ratios.append(old["wall"] / new["wall"])
                print(
                    f"{seed:>4} {old['wall']:>7.1f} {new['wall']:>7.1f} {ratios[-1]:>5.2f}x"
                    f"   {old['goals']:.3f} / {old['optimal']:.3f}"
                    f"       {new['goals']:.3f} / {new['optimal']:.3f}"
                    f"       {old['cpu']:.1f} / {new['cpu']:.1f}",
                    flush=True,
                )
        finally:
            git("worktree", "remove", "--force", str(old_tree))
    print(
        f"speed-up old/new: median {statistics.median(ratios):.2f}x "
        f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x) over {len(ratios)} seeds"
    )


if __name__ == "__main__":
    main()
