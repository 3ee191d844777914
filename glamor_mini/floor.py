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
rate; the table gives mean and std over seeds. On the pixel suites (Atari, DM Control) the goals
and feasible ranges follow the authors' protocol (glamor_mini.envs.goals), and DM Control envs
skip rendering (neither policy looks at pixels). With --csv the table is rewritten after every
row, so an interrupted run keeps the rows it finished.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from glamor_mini.config import ConfigError, make_config
from glamor_mini.envs import make_task
from glamor_mini.evaluate import EvalResult, evaluate
from glamor_mini.policies import StopPolicy, UniformRandomPolicy
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
    results = []
    for seed in seeds:
        cfg = make_config(preset, seed=seed, **overrides)
        task = make_task(cfg)
        if hasattr(task, "without_pixels"):  # the random policy ignores pixels: skip rendering
            task = task.without_pixels()
        actor = FLOOR_POLICIES[policy](task.n_actions, seed=seed + 1000)
        res = evaluate(
            task, None, None, task.eval_goals(seed), episodes_per_goal, seed=seed, policy=actor
        )
        results.append(res)
    return results


def _parse_overrides(items: list[str]) -> dict:
    """['shadows=false', 'horizon=50'] -> typed Config overrides (ConfigError when malformed)."""
    from glamor_mini.config import Config

    types = {f.name: str(f.type) for f in dataclasses.fields(Config)}
    out: dict = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in types:
            raise ConfigError(f"--set {item!r}: expected FIELD=VALUE with a Config field name")
        kind = types[name]
        if kind == "bool":
            if text.lower() not in ("true", "false", "1", "0"):
                raise ConfigError(f"--set {item!r}: expected true or false")
            out[name] = text.lower() in ("true", "1")
        else:
            try:
                out[name] = {"int": int, "float": float, "str": str}[kind](text)
            except ValueError:
                raise ConfigError(f"--set {item!r}: expected a {kind}") from None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m glamor_mini.floor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--preset", default="gridworld")
    p.add_argument("--over", default=None, help="a Config field to vary (e.g. game, task, layout)")
    p.add_argument("--values", nargs="*", default=[], help="values of --over")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--episodes_per_goal", type=int, default=1)
    p.add_argument(
        "--policy",
        choices=["random", "stop", "both"],
        default="random",
        help="random: uniform actions for T steps; stop: end at t = 0; both: two columns",
    )
    p.add_argument("--csv", default=None, help="also write the table to this CSV file")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="other Config overrides, e.g. --set shadows=false (pixels do not affect the floor)",
    )
    args = p.parse_args(argv)
    values = args.values if args.over else [None]
    policies = ["random", "stop"] if args.policy == "both" else [args.policy]
    rows: list[dict] = []
    try:
        extra = _parse_overrides(args.set)
        for v in tqdm(values, desc="floor", disable=len(values) < 2):
            over = {**extra, args.over: v} if args.over else dict(extra)
            for pol in policies:
                res = floor_results(
                    args.preset, args.seeds, args.episodes_per_goal, policy=pol, **over
                )
                rates = [r.goal_achievement for r in res]
                beyond = [r.achievement_beyond_start for r in res]
                beyond = [b for b in beyond if b is not None]
                rows.append(
                    {
                        "value": v if v is not None else args.preset,
                        "policy": pol,
                        "mean": float(np.mean(rates)),
                        "std": float(np.std(rates)),
                        "seeds": " ".join(f"{r:.3f}" for r in rates),
                        "beyond_start": float(np.mean(beyond)) if beyond else float("nan"),
                    }
                )
                r = rows[-1]
                print(
                    f"{r['value']:<24} {pol:<7} {r['mean']:.3f} ({r['std']:.3f})"
                    f"   seeds: {r['seeds']}   beyond start: {r['beyond_start']:.3f}",
                    flush=True,
                )
                if args.csv:  # after every row: an interrupted long table keeps what it measured
                    _write_csv(args.csv, rows)
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _write_csv(path: str, rows: list[dict]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["value", "policy", "mean", "std", "seeds", "beyond_start"])
    w.writeheader()
    w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


if __name__ == "__main__":
    sys.exit(main())
