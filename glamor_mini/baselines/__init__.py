"""Baselines sharing GLAMOR's encoders, replay and training loop (paper §3.6, §4.3).

Importing this package registers them in `glamor_mini.agents.AGENTS`."""

from glamor_mini.baselines import discern, gcsl  # noqa: F401  (registration)
