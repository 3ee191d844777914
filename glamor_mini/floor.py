"""The floor any learner must beat: a uniform-random policy's goal achievement on a suite's fixed
evaluation goals (paper §4.4 protocol), over several seeds.

    --policy random   uniform-random actions for T steps, judged at t = T (the default)
    --policy stop     end every episode at t = 0: the goal is judged on the start state
    --policy both     both columns (a learner should beat the larger)

Each row also gives "beyond start": the achievement over the episodes whose start state did not
already meet the goal (stopping at once earns none of these).

    python -m glamor_mini.floor --preset gridworld --seeds 0 1 2
    python -m glamor_mini.floor --preset atari --over game --values Pong MsPacman --seeds 0 1 2
    python -m glamor_mini.floor --preset dmc --over task --values cartpole/balance --csv out.csv
    python -m glamor_mini.floor --preset dmc --set task=pendulum/swingup shadows=false --policy both
    python -m glamor_mini.floor --preset atari --set game=Riverraid --policy both

Each (value, seed) builds the task from the preset (eval goals are built, or loaded when saved),
runs the floor policy for `--episodes_per_goal` episodes per goal and reports the achievement
rate; the table gives mean and std over seeds (stdout). Progress goes to stderr: a bar on a
terminal, otherwise one plain line per finished (value, policy, seed). On the pixel suites (Atari,
DM Control) the goals and feasible ranges follow the authors' protocol (glamor_mini.envs.goals),
and DM Control envs skip rendering (neither policy looks at pixels). With --csv the table is
rewritten after every row, so an interrupted run keeps the rows it finished.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from glamor_mini.cli import ArgumentParser, is_terminal
from glamor_mini.config import ConfigError, add_set_argument, parse_set, parse_value
from glamor_mini.envs import GoalSet, Task, make_task
from glamor_mini.evaluate import EvalResult, evaluate
from glamor_mini.policies import StopPolicy, UniformRandomPolicy
from glamor_mini.resolve import make_config
from glamor_mini.utils import atomic_write_bytes

FLOOR_POLICIES = {"random": UniformRandomPolicy, "stop": StopPolicy}


def random_floor(
    preset: str,
    seeds: list[int],
    episodes_per_goal: int = 1,
    policy: str = "random",
    **overrides,
) -> list[float]:
    """Goal achievement of a floor policy ('random' or 'stop'), one number per seed."""
    results = floor_results(preset, seeds, episodes_per_goal, policy, **overrides)
    return [r.goal_achievement for r in results]


def floor_results(
    preset: str,
    seeds: list[int],
    episodes_per_goal: int = 1,
    policy: str = "random",
    **overrides,
) -> list[EvalResult]:
    """The full evaluation of a floor policy ('random' or 'stop'), one result per seed."""
    if policy not in FLOOR_POLICIES:
        raise ValueError(f"policy={policy!r}: expected one of {', '.join(FLOOR_POLICIES)}")
    if episodes_per_goal < 1:
        raise ValueError(f"episodes_per_goal={episodes_per_goal} must be >= 1")
    results = []
    for seed in seeds:
        task = make_task(make_config(preset, seed=seed, **overrides))
        task = task.without_pixels()  # the random policy ignores pixels: skip rendering
        results.append(floor_result(task, task.eval_goals(seed), policy, episodes_per_goal, seed))
    return results


def floor_result(
    task: Task, goals: GoalSet, policy: str, episodes_per_goal: int, seed: int
) -> EvalResult:
    """One floor policy ('random' or 'stop', seeded seed + 1000) on `goals`, evaluated with
    `seed` (§4.4 protocol); pass `task.without_pixels()` to skip rendering."""
    actor = FLOOR_POLICIES[policy](task.n_actions, seed=seed + 1000)
    return evaluate(task, None, None, goals, episodes_per_goal, seed=seed, policy=actor)


def _check_csv_path(path: str) -> Path:
    """Fail before minutes of evaluation, not after: the CSV's folder must be creatable and
    writable and the path must not be a folder."""
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"--csv {out} is a folder; give a file name, e.g. {out / 'floor.csv'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        blocker = next((a for a in out.parents if a.exists() and not a.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker else err.strerror
        raise ConfigError(f"--csv {out}: cannot create its folder ({why})") from None
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ConfigError(f"--csv {out}: not writable")
    return out


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(
        prog="python -m glamor_mini.run floor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--preset", default="gridworld")
    p.add_argument("--over", default=None, help="a Config field to vary (e.g. game, task, layout)")
    p.add_argument("--values", nargs="*", default=[], help="values of --over")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--episodes_per_goal", type=int, default=1, help="episodes per goal (>= 1)")
    p.add_argument(
        "--policy",
        choices=["random", "stop", "both"],
        default="random",
        help="random: uniform actions for T steps; stop: end at t = 0; both: two columns",
    )
    p.add_argument("--csv", default=None, help="also write the table to this CSV file")
    add_set_argument(
        p, "other Config overrides, e.g. --set shadows=false (pixels do not affect the floor)"
    )
    args = p.parse_args(argv)
    if args.episodes_per_goal < 1:
        p.error(f"--episodes_per_goal {args.episodes_per_goal}: must be >= 1")
    if bool(args.over) != bool(args.values):
        p.error("--over FIELD and --values V1 V2 ... go together")
    policies = ["random", "stop"] if args.policy == "both" else [args.policy]
    rows = []
    try:  # every input is checked before the first (slow) evaluation
        extra = parse_set(args.set)
        if args.over:
            values = [parse_value(args.over, v, f"--over {args.over}") for v in args.values]
        else:
            values = [None]
        for v in values:
            make_config(args.preset, **{**extra, **({args.over: v} if args.over else {})})
        csv_path = _check_csv_path(args.csv) if args.csv else None
    except (ConfigError, ValueError) as err:
        p.error(str(err))
    jobs = [(v, pol, seed) for v in values for pol in policies for seed in args.seeds]
    progress = Progress(len(jobs))
    try:
        for v in values:
            over = {**extra, args.over: v} if args.over else dict(extra)
            label = v if v is not None else args.preset
            for pol in policies:
                res = []
                for seed in args.seeds:
                    res += floor_results(
                        args.preset, [seed], args.episodes_per_goal, policy=pol, **over
                    )
                    progress.done(f"{label} {pol} seed {seed}: {res[-1].goal_achievement:.3f}")
                rates = [r.goal_achievement for r in res]
                beyond = [r.achievement_beyond_start for r in res]
                beyond = [b for b in beyond if b is not None]
                rows.append(
                    {
                        "value": label,
                        "policy": pol,
                        "mean": float(np.mean(rates)),
                        "std": float(np.std(rates)),
                        "seeds": " ".join(f"{r:.3f}" for r in rates),
                        "beyond_start": float(np.mean(beyond)) if beyond else float("nan"),
                    }
                )
                r = rows[-1]
                progress.write(
                    f"{r['value']!s:<24} {pol:<7} {r['mean']:.3f} ({r['std']:.3f})"
                    f"   seeds: {r['seeds']}   beyond start: {r['beyond_start']:.3f}"
                )
                if csv_path is not None:  # after every row: an interrupted table keeps them
                    _write_csv(csv_path, rows)
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    return 0


class Progress:
    """Progress over the (value, policy, seed) evaluations on stderr: a tqdm bar on a terminal,
    one plain line per finished evaluation otherwise (pipes, CI logs: no carriage returns)."""

    def __init__(self, total: int):
        self.total, self.count, self.start = total, 0, time.monotonic()
        self.bar = tqdm(total=total, desc="floor", leave=False) if is_terminal() else None

    def done(self, what: str) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.set_postfix_str(what, refresh=False)
            self.bar.update()
        else:
            elapsed = time.monotonic() - self.start
            print(f"floor {self.count}/{self.total} {what} ({elapsed:.0f} s)", file=sys.stderr)

    def write(self, line: str) -> None:
        """A table row on stdout (above the bar when there is one)."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write_csv(path: str, rows: list[dict]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["value", "policy", "mean", "std", "seeds", "beyond_start"])
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


if __name__ == "__main__":
    sys.exit(main())
