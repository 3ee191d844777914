"""Evaluation artefacts of a run directory (paper Fig. 11-12 for pixels, per-goal maps for grids).

eval.png      grid suites: per-goal outcome maps (achieved, optimal path) drawn by the task;
              pixel suites: goal frames above the final frames (green achieved, red missed)
episode.gif   Atari: one evaluation episode toward an achieved goal, goal beside the view
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glamor_mini.envs.base import GoalSet, Task
from glamor_mini.envs.goals import plot_goal_grid
from glamor_mini.evaluate import EvalResult
from glamor_mini.rollout import run_episodes


def write_eval_artefacts(
    run_dir: Path, task: Task, result: EvalResult, goals: GoalSet, agent, seed: int
) -> None:
    """eval.png (and episode.gif where the suite draws one) next to eval.json, atomically."""
    run_dir = Path(run_dir)
    tmp = run_dir / ".eval.tmp.png"
    labels = np.array([g["labels"] for g in result.per_goal])
    cols = [[g["achieved"], g.get("optimal", np.nan)] for g in result.per_goal]
    if task.plot_outcomes(labels, np.array(cols), tmp):  # the grid world's heatmaps
        tmp.replace(run_dir / "eval.png")
        return
    if result.final_frames is None:
        return
    n = len(goals)
    plot_goal_grid(
        goals.frames,
        result.final_frames[:n],
        result.achieved[:n],
        run_dir / "eval.png",
        title=task.name,
    )
    if task.episode_gif:  # one episode toward an achieved goal (the first goal if none)
        best = int(np.argmax(result.achieved[:n])) if result.achieved is not None else 0
        one = goals.take(np.array([best]))
        ep = run_episodes(task, agent.eval_policy(seed), one, seed=seed, record=True)
        frames = ep.frames[0, : int(ep.steps[0]) + 1]
        by = {} if one.ranges is None else {"ranges": one.ranges}  # the set's own ranges
        ok = bool(task.achieved(ep.final_labels, one.labels, **by)[0])
        task.save_goal_gif(one.frames[0], frames, run_dir / "episode.gif", achieved=ok)


__all__ = ["write_eval_artefacts"]
