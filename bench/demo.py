"""The `make demo` target measured on several seeds: goal achievement, optimal-path rate and wall
time of the `gridworld` preset against the targets (>= 0.95 goals and >= 0.90 optimal paths on
EVERY seed), with the time split between collection, planning, updates and evaluation.

    python bench/demo.py                          # seeds 0-4, the preset as `make demo` runs it
    python bench/demo.py --seeds 0 1 --baseline   # also the previous preset, interleaved per seed
    python bench/demo.py --curve docs/figures/demo_curve --eval_every 5000 --baseline
    python bench/demo.py --seeds 0 --layouts four-rooms tests/data/maze_box.txt   # other mazes

The preset decays the learning rate over the last 40% of the run (Config.lr_final /
lr_decay_from): at a constant lr the stop decision at wall cells flips with SGD noise
(docs/investigations.md).
--baseline runs the preset at a constant lr (lr_final=0, as before that fix) right before each
seed's run, so a busy machine slows both alike; the wall-time ratio is the figure to trust, not
the seconds. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import glamor_mini.policies as policies
from glamor_mini.config import add_set_argument, parse_set
from glamor_mini.resolve import make_config
from glamor_mini.rollout import Collector
from glamor_mini.train import Trainer, train

TARGETS = {"goal_achievement": 0.95, "optimal_path_rate": 0.90}

BASELINE: dict = {"lr_final": 0.0}
"""Overrides that give the preset as it was before the fix (main at e6ac457): the same budget at
a constant learning rate."""


class Timers:
    """Wall seconds spent in collection (env + planning), planning, updates and evaluation."""

    def __init__(self) -> None:
        self.acc: dict[str, float] = defaultdict(float)
        self._saved: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, key: str) -> None:
        fn = getattr(owner, name)
        acc = self.acc

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                acc[key] += time.perf_counter() - t0

        self._saved.append((owner, name, fn))
        setattr(owner, name, timed)

    def __enter__(self) -> Timers:
        self.wrap(Collector, "step", "collect")
        self.wrap(policies, "plan", "plan")
        self.wrap(Trainer, "update", "update")
        self.wrap(Trainer, "run_eval", "eval")
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, fn in reversed(self._saved):
            setattr(owner, name, fn)


def run_one(seed: int, overrides: dict, out: Path | None) -> dict:
    cfg = make_config("gridworld", seed=seed, progress=False, **overrides)
    with tempfile.TemporaryDirectory() as tmp, Timers() as timers:
        run_dir = out if out is not None else Path(tmp)
        t0 = time.perf_counter()
        res = train(cfg, run_dir)
        wall = time.perf_counter() - t0
        curve = [
            (
                int(r["agent_steps"]),
                float(r["eval_optimal_path_rate"]),
                float(r["eval_goal_achievement"]),
            )
            for r in csv.DictReader(open(run_dir / "progress.csv"))
            if r["eval_optimal_path_rate"]
        ]
    split = dict(timers.acc)
    # planning inside collection and inside evaluation are both counted by "plan"; report
    # collection without its planning, and evaluation as a whole (its planning included)
    return {
        "seed": seed,
        "goal_achievement": res.eval.goal_achievement,
        "optimal_path_rate": res.eval.optimal_path_rate,
        "wall_seconds": wall,
        "split": split,
        "curve": curve,
        "steps": res.agent_steps,
    }


def summarise(name: str, rows: list[dict]) -> None:
    print(f"\n== {name}")
    print(f"{'seed':>4} {'goals':>6} {'optimal':>8} {'wall s':>7}  collect  plan  update  eval")
    for r in rows:
        s = r["split"]
        print(
            f"{r['seed']:>4} {r['goal_achievement']:>6.3f} {r['optimal_path_rate']:>8.3f} "
            f"{r['wall_seconds']:>7.1f}  {s.get('collect', 0):7.1f} {s.get('plan', 0):5.1f} "
            f"{s.get('update', 0):7.1f} {s.get('eval', 0):5.1f}"
        )
    for key in ("goal_achievement", "optimal_path_rate", "wall_seconds"):
        vals = [r[key] for r in rows]
        print(
            f"{key:<18} min {min(vals):.3f}  median {statistics.median(vals):.3f}  "
            f"max {max(vals):.3f}"
        )
    ok = all(r[k] >= t for r in rows for k, t in TARGETS.items())
    verdict = "MET" if ok else "NOT MET"
    print(f"targets (goals >= 0.95 and optimal >= 0.90 on every seed): {verdict}")


def write_curve(path: Path, runs: dict[str, list[dict]]) -> None:
    """PATH.csv (preset, seed, agent_steps, optimal_path_rate, goal_achievement), then PATH.png."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["preset", "seed", "agent_steps", "optimal_path_rate", "goal_achievement"])
        for name, rs in runs.items():
            for r in rs:
                for steps, opt, goal in r["curve"]:
                    w.writerow([name, r["seed"], steps, opt, goal])
    plot_curve(path)


def plot_curve(path: Path) -> None:
    """PATH.png from PATH.csv: optimal-path rate against agent steps, one line per run."""
    from matplotlib.figure import Figure

    lines: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    with open(path.with_suffix(".csv")) as fh:
        for r in csv.DictReader(fh):
            lines[r["preset"], r["seed"]].append(
                (int(r["agent_steps"]), float(r["optimal_path_rate"]))
            )
    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.subplots()
    styles = {"before": ("tab:red", "--"), "after": ("tab:blue", "-")}
    labelled: set[str] = set()
    for (name, seed), pts in sorted(lines.items()):
        color, ls = styles.get(name, ("k", "-"))
        pts.sort()
        ax.plot(
            [x for x, _ in pts],
            [y for _, y in pts],
            color=color,
            ls=ls,
            marker="o",
            ms=3,
            alpha=0.8,
            label=None if name in labelled else name,
        )
        labelled.add(name)
        dy = 6 if name == "after" else -10
        ax.annotate(
            f"s{seed}",
            pts[-1],
            textcoords="offset points",
            xytext=(4, dy),
            fontsize=7,
            color=color,
        )
    ax.axhline(TARGETS["optimal_path_rate"], color="gray", lw=0.8, ls=":")
    ax.set_xlabel("agent steps")
    ax.set_ylabel("optimal-path rate (49 goals)")
    ax.set_ylim(0, 1.02)
    ax.set_title("gridworld preset: one line per seed")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--baseline", action="store_true", help="also run BASELINE, interleaved")
    p.add_argument("--eval_every", type=int, default=0, help="override (0: the preset's)")
    p.add_argument("--curve", default="", help="write PATH.csv and PATH.png (optimal vs steps)")
    p.add_argument("--quick", action="store_true", help="a 6k-step smoke run")
    p.add_argument("--replot", default="", help="only redraw PATH.png from PATH.csv")
    p.add_argument(
        "--layouts", nargs="+", default=[], help="run the preset on these layouts instead"
    )
    add_set_argument(p, "overrides")
    args = p.parse_args()
    if args.replot:
        plot_curve(Path(args.replot))
        return
    extra: dict = parse_set(args.set)
    if args.eval_every:
        extra["eval_every"] = args.eval_every
    if args.quick:
        extra.update(total_steps=6_000, eval_every=0)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for layout in args.layouts:  # the same preset on other mazes (T derived from each layout)
        rows = [run_one(s, {**extra, "layout": layout}, None) for s in args.seeds]
        summarise(f"layout {layout}", rows)
    if args.layouts:
        return
    for seed in args.seeds:
        if args.baseline:
            r = run_one(seed, {**BASELINE, **extra}, out=None)  # constant lr
            runs["before"].append(r)
            print(
                f"before seed {seed}: {r['goal_achievement']:.3f} / "
                f"{r['optimal_path_rate']:.3f} in {r['wall_seconds']:.1f} s; curve {r['curve']}",
                flush=True,
            )
        r = run_one(seed, extra, out=None)
        runs["after"].append(r)
        print(
            f"after  seed {seed}: {r['goal_achievement']:.3f} / "
            f"{r['optimal_path_rate']:.3f} in {r['wall_seconds']:.1f} s; curve {r['curve']}",
            flush=True,
        )
    if runs["before"]:
        summarise("before: constant lr", runs["before"])
    summarise("gridworld preset", runs["after"])
    if runs["before"]:
        ratio = statistics.median(
            b["wall_seconds"] / a["wall_seconds"]
            for b, a in zip(runs["before"], runs["after"], strict=True)
        )
        print(f"\nwall-time ratio before/after (median over seeds, interleaved): {ratio:.2f}x")
    if args.curve:
        write_curve(Path(args.curve), {k: v for k, v in runs.items() if v})
        print(f"curve written to {args.curve}.csv/.png")


if __name__ == "__main__":
    main()
