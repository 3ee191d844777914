"""Environment suites seen through one interface (`Task`, `SuiteEnv`); see base.py.

Each suite module registers a `Suite` (registry.py) naming its ``task_from_config(cfg) -> Task``
and what it derives from a Config; importing this package imports every suite module once (their
heavy dependencies, ale_py, dm_control, minigrid, load only when a suite's envs are made).
Adding a suite: one module that ends with ``register_suite(Suite(...))`` plus its import here.
"""

from __future__ import annotations

from typing import Any

from glamor_mini.config import ConfigError, check_choice
from glamor_mini.envs.base import GoalSet, SuiteEnv, Task, obs_shape
from glamor_mini.envs.registry import SUITES, Suite, register_suite

# registration, in the order the CLI and table1 list the suites
# isort: off
from glamor_mini.envs import gridworld  # noqa: F401
from glamor_mini.envs import die  # noqa: F401
from glamor_mini.envs import minigrid  # noqa: F401
from glamor_mini.envs import atari  # noqa: F401
from glamor_mini.envs import dmc  # noqa: F401

# isort: on


def resolve_config(cfg: Any, announce: bool = True) -> Any:
    """`cfg` with what its suite derives filled in (grid world: horizon 0, encoder 'auto'),
    checked by the suite registry (suite, collect_start, a derived horizon); ConfigError if not.
    `announce`: print what was derived (once per run: the CLI and train() do)."""
    check_choice(cfg, "suite", tuple(SUITES))
    suite = SUITES[cfg.suite]
    if cfg.collect_start not in suite.collect_starts:
        starts = tuple(dict.fromkeys(s for su in SUITES.values() for s in su.collect_starts))
        check_choice(cfg, "collect_start", starts)
        where = " / ".join(
            su.title or su.name for su in SUITES.values() if cfg.collect_start in su.collect_starts
        )
        raise ConfigError(
            f"collect_start={cfg.collect_start!r} applies to the {where} only "
            f"(suite={cfg.suite!r} starts where its env resets); use 'fixed'"
        )
    if suite.resolve is not None:
        cfg = suite.resolve(cfg, announce)
    if cfg.horizon < 1:
        raise ConfigError(
            f"horizon={cfg.horizon} must be >= 1 (suite {cfg.suite!r} does not derive it)"
        )
    return cfg


def make_task(cfg: Any) -> Task:
    """The task a Config describes (its suite's derivations applied silently)."""
    cfg = resolve_config(cfg, announce=False)
    return SUITES[cfg.suite].task_from_config(cfg)


__all__ = [
    "GoalSet",
    "SuiteEnv",
    "Suite",
    "Task",
    "SUITES",
    "make_task",
    "obs_shape",
    "register_suite",
    "resolve_config",
]
