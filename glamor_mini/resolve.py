"""A Config made ready to run: the suite's derivations applied, every registry's field checked.

config.py sits at the bottom and knows only its dataclass (types, ranges, presets). The values
that name an entry of a registry are checked by that registry, and a suite derives what it
derives (the grid world: horizon 0 and encoder 'auto' from the layout):

    envs.resolve_config        suite, collect_start, the suite's own derivations, horizon
    agents.check_config        algo, then the algorithm's own fields (GCSL: gcsl_act)
    models.check_config        encoder
    planner.check_config       planner_mode, termination
    policies.check_config      collect_policy

`make_config(preset, **overrides)` is `presets.preset_config` followed by `resolve_config`: what the
command line, the experiments and train() run with.
"""

from __future__ import annotations

from typing import Any

import glamor_mini.baselines  # noqa: F401  (registers GCSL and DISCERN in agents.AGENTS)
from glamor_mini import agents, envs, models, planner, policies
from glamor_mini.config import Config
from glamor_mini.presets import preset_config


def resolve_config(cfg: Config, announce: bool = True) -> Config:
    """`cfg` validated, resolved by its suite and checked by every registry (ConfigError naming
    the first bad field and what is accepted). Idempotent; `announce` prints what was derived."""
    cfg = envs.resolve_config(cfg.validate(), announce)
    for registry in (agents, models, planner, policies):
        registry.check_config(cfg)
    return cfg.validate()


def make_config(preset: str, **overrides: Any) -> Config:
    """Defaults, then the preset's overrides, then the caller's; resolved and validated."""
    return resolve_config(preset_config(preset, **overrides))


__all__ = ["make_config", "resolve_config"]
