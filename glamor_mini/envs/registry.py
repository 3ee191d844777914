"""The registry of environment suites: one `Suite` entry per suite, registered by its own module.

A suite module (gridworld.py, die.py, minigrid.py, atari.py, dmc.py) ends with
``register_suite(Suite(...))``; envs/__init__.py imports every suite module once, so `SUITES` is
complete whenever `glamor_mini.envs` is imported. Heavy dependencies (ale_py, dm_control,
minigrid) are imported inside the suite modules' functions, so registering costs nothing.
Everything that lists suites (the CLI, table1, --help) reads this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Suite:
    """One environment suite.

    name: Config.suite    task_from_config: Config -> Task    title: how messages name it
    resolve: (cfg, announce) -> cfg, the suite's own derivations and checks (e.g. the grid
        world's horizon 0 and encoder 'auto'); None: nothing to resolve
    collect_starts: the Config.collect_start values the suite supports
    env_field: the Config field naming one environment of the suite (table1 --envs)
    env_names: the values env_field accepts, checked up front by table1 (empty: not listed)
    aliases: other names users type for it; the first is the folder table1 writes under
        (gridworld: 'grid', as `table1 --suite grid` has always written)
    paper_envs: table1's default environments
    paper_table1: env -> {algo: goal achievement at 500k steps} (paper, Table 1)
    table1_scales: scale -> (preset, overrides) for table1 --scale
    """

    name: str
    task_from_config: Callable[[Any], Any]
    title: str = ""
    resolve: Callable[[Any, bool], Any] | None = None
    collect_starts: tuple[str, ...] = ("fixed",)
    env_field: str | None = None
    env_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    paper_envs: tuple[str, ...] = ()
    paper_table1: dict[str, dict[str, float]] = field(default_factory=dict)
    table1_scales: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)


SUITES: dict[str, Suite] = {}
"""Config.suite -> Suite, in registration order. Filled by `register_suite`."""


def register_suite(suite: Suite) -> Suite:
    """Add `suite` to SUITES (a module registering itself); returns it."""
    SUITES[suite.name] = suite
    return suite


__all__ = ["SUITES", "Suite", "register_suite"]
