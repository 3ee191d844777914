"""DISCERN's target network at the run's budget: how often to copy it, and whether the run can
copy it often enough for the reward to reach the first step (docs/design.md, DISCERN's budget).

DISCERN's only reward comes at t = T. An n-step target carries it at most n steps back per copy
of the Q-network into the target network, so it reaches t = 0 after

    C = ceil(T / n)                                          copies (the "hops")

A run makes U = floor(replay_ratio * (total_steps - learning_starts) / batch_size) gradient
updates (Config.expected_updates, the trainer's own count). `discern_target_period` = 0 sizes
the period to the run:

    period = clamp(U // (k C), 1, 100)          k = COPIES_PER_HOP = 4

so the run makes at least 4 C copies (all U of them when U < 4 C), and r_T has reached t = 0
within the first quarter of the updates; 100, the cap, is the period of long runs (the paper's
500k steps: 9,000 updates). A positive discern_target_period is used as given. A run that makes
fewer than C copies warns at its start (Config.warnings) and Table 1 marks its cell
(DiscernAgent.budget_problem).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from glamor_mini.config import ConfigError, register_warning

COPIES_PER_HOP = 4
"""k: the sized period makes k times the copies r_T needs to reach t = 0."""
MAX_PERIOD = 100
"""The sized period's cap (long runs keep a copy every 100 updates)."""


class TargetSchedule(NamedTuple):
    """A run's target copies: every `period` updates (`auto`: sized, the field was 0); `copies`
    = U // period of its `updates`; `needed` = C = ceil(horizon / n_step)."""

    period: int
    auto: bool
    updates: int
    copies: int
    needed: int
    horizon: int
    n_step: int

    @property
    def short(self) -> str | None:
        """Why the run cannot train, in a few words for a table cell; None when it can."""
        if self.copies >= self.needed:
            return None
        return f"cannot train ({self.needed} target copies needed, {self.copies} made)"

    @property
    def problem(self) -> str | None:
        """One line: why r_T cannot reach t = 0 in this run and what to change; None if it can."""
        if self.copies >= self.needed:
            return None
        T, n, U, C = self.horizon, self.n_step, self.updates, self.needed
        how = f"discern_target_period={self.period}" + (" (sized: 0)" if self.auto else "")
        fix = (
            f"set discern_target_period <= {U // C} or 0 to size it"
            if U >= C and not self.auto
            else f"raise total_steps or replay_ratio to >= {C} updates"
        )
        return (
            f"DISCERN cannot train: {how} copies the target network {self.copies} "
            f"time{'' if self.copies == 1 else 's'} in {U} updates, but r_T needs "
            f"ceil(T/n) = ceil({T}/{n}) = {C} copies to reach t = 0 ({fix})"
        )


def target_schedule(cfg: Any, horizon: int | None = None) -> TargetSchedule:
    """The target schedule of a DISCERN run of `cfg` with T = `horizon` (default cfg.horizon,
    resolved). E.g. the grid preset (U = 2,800, C = 4): period 100; Atari at cpu scale, 60k
    steps (U = 3,500, C = 17): 51; DMC at cpu scale, 30k steps (U = 1,687, C = 34): 12."""
    T = int(cfg.horizon if horizon is None else horizon)
    if T < 1:
        raise ConfigError(f"horizon={T}: DISCERN's target schedule needs the resolved T >= 1")
    n = int(cfg.discern_n_step)
    updates, needed = cfg.expected_updates(), math.ceil(T / n)
    auto = cfg.discern_target_period == 0
    if auto:
        period = min(max(updates // (COPIES_PER_HOP * needed), 1), MAX_PERIOD)
    else:
        period = int(cfg.discern_target_period)
    return TargetSchedule(period, auto, updates, updates // period, needed, T, n)


def target_warning(cfg: Any) -> str | None:
    """Config.warnings()' line for a DISCERN run whose r_T cannot reach t = 0 (else None)."""
    if cfg.algo != "discern" or cfg.horizon < 1:  # another algorithm, or T not derived yet
        return None
    return target_schedule(cfg).problem


register_warning(target_warning)


__all__ = ["COPIES_PER_HOP", "MAX_PERIOD", "TargetSchedule", "target_schedule", "target_warning"]
