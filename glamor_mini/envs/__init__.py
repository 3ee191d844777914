"""Environment suites seen through one interface (`Task`, `SuiteEnv`); see base.py.

Each suite module exposes ``task_from_config(cfg) -> Task``; `make_task` imports it on first use,
so heavy dependencies (ale_py, dm_control, minigrid) load only for the suite you run.
"""

from __future__ import annotations

import importlib

from glamor_mini.envs.base import GoalSet, SuiteEnv, Task, obs_shape
from glamor_mini.envs.registry import FACTORIES, SUITES


def make_task(cfg) -> Task:
    """The task a Config describes."""
    if cfg.suite not in FACTORIES:
        raise ValueError(f"suite={cfg.suite!r} is not accepted; choose one of {SUITES}")
    module, fn = FACTORIES[cfg.suite].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and err.name.startswith("glamor_mini"):
            raise ValueError(f"suite {cfg.suite!r} is not implemented yet ({module})") from err
        raise
    return getattr(mod, fn)(cfg)


__all__ = ["GoalSet", "SuiteEnv", "Task", "SUITES", "make_task", "obs_shape"]
