"""Environment suites seen through one interface (`Task`, `SuiteEnv`); see base.py."""

from __future__ import annotations

from glamor_mini.envs.base import GoalSet, SuiteEnv, Task, obs_shape


def make_task(cfg) -> Task:
    """The task a Config describes. Heavy suites are imported lazily, here."""
    if cfg.env == "gridworld":
        from glamor_mini.envs.gridworld import GridWorldTask

        return GridWorldTask(cfg.layout, horizon=cfg.horizon, allow_stay=cfg.allow_stay)
    raise ValueError(f"env={cfg.env!r} is not accepted; choose one of ('gridworld',)")


__all__ = ["GoalSet", "SuiteEnv", "Task", "make_task", "obs_shape"]
