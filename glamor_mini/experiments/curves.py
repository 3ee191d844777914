"""Evaluation curves of finished runs against floors: one figure for a handful of run dirs.

    python -m glamor_mini.experiments.curves runs/atari-riverraid runs/atari-riverraid-s1 \\
        --floor random=0.18 --floor stop=0.32 --out docs/figures/atari_riverraid_curve

reads each run's progress.csv (its evaluation rows) and config.json (its seed), writes a tidy CSV
(run, seed, agent_steps, goal_achievement) and a PNG drawn from it: one thin line per run, the
mean over runs in bold, each floor as a dashed line. Use it for runs trained one by one with
`python -m glamor_mini.run` (the sweeps in this package draw their own figures).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.experiments.common import read_csv, save_figure, write_csv


def run_curve_rows(run_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Tidy rows from each run's evaluation rows (a step evaluated twice, e.g. by a run re-evaluated
    after a resume, counts once: the last row wins)."""
    rows = []
    for d in map(Path, run_dirs):
        progress, config = d / "progress.csv", d / "config.json"
        if not progress.is_file() or not config.is_file():
            raise FileNotFoundError(
                f"{d} is not a run directory (needs progress.csv and config.json)"
            )
        seed = json.loads(config.read_text()).get("seed")
        evals = {
            r["agent_steps"]: r["eval_goal_achievement"]
            for r in read_csv(progress)
            if r.get("eval_goal_achievement") is not None
        }
        if not evals:
            raise ValueError(f"{d}/progress.csv has no evaluation rows yet")
        for step, ach in sorted(evals.items()):
            rows.append({"run": d.name, "seed": seed, "agent_steps": step, "goal_achievement": ach})
    return rows


def plot_run_curves(
    csv_path: str | Path,
    png_path: str | Path,
    floors: dict[str, float] | None = None,
    title: str = "",
) -> Path:
    """Thin line per run, bold mean over the runs at the steps they share, dashed floors."""
    import matplotlib.pyplot as plt

    rows = read_csv(csv_path)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    runs = list(dict.fromkeys(r["run"] for r in rows))
    per_run = {
        name: {r["agent_steps"]: r["goal_achievement"] for r in rows if r["run"] == name}
        for name in runs
    }
    for name, pts in per_run.items():
        x = sorted(pts)
        ax.plot(x, [pts[s] for s in x], lw=0.8, alpha=0.6, marker=".", label=name)
    shared = sorted(set.intersection(*(set(p) for p in per_run.values())))
    if len(runs) > 1 and shared:
        mean = [np.mean([per_run[n][s] for n in runs]) for s in shared]
        ax.plot(shared, mean, color="black", lw=2, marker="o", ms=3, label=f"mean of {len(runs)}")
    for i, (name, value) in enumerate((floors or {}).items()):
        ax.axhline(value, color=f"C{7 + i % 3}", ls="--", lw=1, label=f"{name} floor {value:.2f}")
    ax.set_xlabel("agent steps")
    ax.set_ylabel("goal achievement")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, png_path)


def _parse_floor(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--floor {text!r}: expected NAME=VALUE, e.g. random=0.18"
        ) from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m glamor_mini.run curves",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", help="run directories (written by glamor_mini.run)")
    p.add_argument("--floor", action="append", type=_parse_floor, default=[], metavar="NAME=V")
    p.add_argument("--title", default="")
    p.add_argument("--out", required=True, help="path without suffix: writes OUT.csv and OUT.png")
    args = p.parse_args(argv)
    try:
        rows = run_curve_rows(args.runs)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    csv_path = write_csv(rows, out.with_suffix(".csv"))
    png = plot_run_curves(csv_path, out.with_suffix(".png"), dict(args.floor), args.title)
    print(f"wrote {csv_path} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
