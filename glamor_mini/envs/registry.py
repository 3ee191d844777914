"""Names of the environment suites and where each one's task factory lives (imported lazily)."""

from __future__ import annotations

SUITES: tuple[str, ...] = ("gridworld", "die", "minigrid", "atari", "dmc")

FACTORIES: dict[str, str] = {
    "gridworld": "glamor_mini.envs.gridworld:task_from_config",
    "die": "glamor_mini.envs.die:task_from_config",
    "minigrid": "glamor_mini.envs.minigrid:task_from_config",
    "atari": "glamor_mini.envs.atari:task_from_config",
    "dmc": "glamor_mini.envs.dmc:task_from_config",
}
