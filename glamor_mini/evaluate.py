"""Evaluation protocol (paper §4.4, §4.7.1).

A goal is judged at t = T, or earlier when the agent ends its episode itself (early termination).
`goal_achievement` is the fraction of episodes whose final state achieves the goal (the suite's
rule: same cell on the grid, the 10% feasible-range rule on pixels). On the grid world, where the
shortest paths are known, `optimal_path_rate` counts episodes that achieved the goal in exactly the
shortest-path number of steps, and `mean_extra_steps` the steps beyond it (over achieved episodes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch

from glamor_mini.envs.base import GoalSet, Task
from glamor_mini.models import GlamorModel
from glamor_mini.planner import PlannerSettings
from glamor_mini.policies import ClosedLoopPolicy
from glamor_mini.rollout import run_episodes


@dataclass
class EvalResult:
    goal_achievement: float
    optimal_path_rate: float | None
    mean_extra_steps: float | None
    early_stop_rate: float
    episodes: int
    per_goal: list[dict] = field(default_factory=list)
    per_label: dict[str, float] | None = None
    """Rate at which each label alone met the rule (suites with `per_label_achieved`)."""
    start_achieved_rate: float | None = None
    """Share of episodes whose START state already met the goal: what a policy that ends every
    episode at t = 0 scores (`python -m glamor_mini.floor --policy stop`)."""
    achievement_beyond_start: float | None = None
    """Goal achievement over the episodes whose start state did NOT meet the goal (None when
    there are none): the part of `goal_achievement` that stopping at once cannot earn."""
    final_frames: np.ndarray | None = field(default=None, repr=False)
    """(episodes, c, H, W) the last frame of each episode (not saved to eval.json)."""
    achieved: np.ndarray | None = field(default=None, repr=False)
    """(episodes,) bool per episode, in the order goals x episodes_per_goal."""

    def summary(self) -> dict:
        d = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("per_goal", "final_frames", "achieved")
        }
        return d


def evaluate(
    task: Task,
    model: GlamorModel | None,
    settings: PlannerSettings | None,
    goals: GoalSet | None = None,
    episodes_per_goal: int = 1,
    seed: int = 0,
    policy=None,
    progress: bool = False,
) -> EvalResult:
    """Closed-loop evaluation (unless `policy` is given) over a fixed goal set.

    With `policy` given, `model` and `settings` may be None (e.g. a uniform-random floor).
    """
    goals = task.eval_goals(seed) if goals is None else goals
    G = len(goals)
    rep = np.tile(np.arange(G), episodes_per_goal)
    goals_rep = goals.take(rep)
    if policy is None:
        if model is None or settings is None:
            raise ValueError("evaluate() needs a model and planner settings, or a policy")
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(seed)
        policy = ClosedLoopPolicy(model, settings, gen)
    was_training = model is not None and model.training
    if model is not None:
        model.eval()
    try:
        ep = run_episodes(task, policy, goals_rep, seed=seed, progress=progress)
    finally:
        if model is not None:
            model.train(was_training)
    # a goal set that carries its feasible ranges is judged by them (not by the task seed's)
    by = {} if goals.ranges is None else {"ranges": goals.ranges}
    ok = task.achieved(ep.final_labels, goals_rep.labels, **by)
    at_start = task.achieved(ep.start_labels, goals_rep.labels, **by)
    per_label = None
    hits = task.per_label_achieved(ep.final_labels, goals_rep.labels, **by)  # (B, L) bool
    if hits is not None:
        per_label = {n: float(hits[:, j].mean()) for j, n in enumerate(task.label_names)}
    opt_len = task.optimal_steps(ep.start_labels, goals_rep.labels)
    optimal = extra = None
    if opt_len is not None:
        optimal = ok & (ep.steps == opt_len)
        extra = np.where(ok, ep.steps - opt_len, np.nan)
    per_goal = []
    for g in range(G):
        rows = rep == g
        row = {
            "goal": g,
            "labels": goals.labels[g].tolist(),
            "achieved": float(ok[rows].mean()),
            "mean_steps": float(ep.steps[rows].mean()),
            "met_at_start": float(at_start[rows].mean()),
        }
        if optimal is not None:
            row["optimal"] = float(optimal[rows].mean())
            row["shortest"] = int(opt_len[rows][0])
        per_goal.append(row)
    return EvalResult(
        goal_achievement=float(ok.mean()),
        optimal_path_rate=None if optimal is None else float(optimal.mean()),
        mean_extra_steps=(
            None if extra is None or np.all(np.isnan(extra)) else float(np.nanmean(extra))
        ),
        early_stop_rate=float(ep.stopped.mean()),
        episodes=len(rep),
        per_goal=per_goal,
        per_label=per_label,
        start_achieved_rate=float(at_start.mean()),
        achievement_beyond_start=float(ok[~at_start].mean()) if (~at_start).any() else None,
        final_frames=ep.final_frames,
        achieved=ok,
    )


def eval_row(result: EvalResult) -> dict:
    """The eval_* columns of progress.csv for one evaluation."""
    row: dict = {"eval_goal_achievement": result.goal_achievement}
    if result.optimal_path_rate is not None:
        row["eval_optimal_path_rate"] = result.optimal_path_rate
    if result.mean_extra_steps is not None:
        row["eval_mean_extra_steps"] = round(result.mean_extra_steps, 3)
    if result.achievement_beyond_start is not None:
        row["eval_beyond_start"] = round(result.achievement_beyond_start, 4)
    return row


def eval_from_json(ev: dict) -> EvalResult | None:
    """An EvalResult rebuilt from eval.json (arrays such as final frames are not saved)."""
    if not ev:
        return None
    names = {f.name for f in fields(EvalResult)} - {"final_frames", "achieved"}
    return EvalResult(**{k: v for k, v in ev.items() if k in names})
