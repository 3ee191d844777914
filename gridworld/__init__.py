"""A small, deterministic grid world with a Gymnasium API (Minigrid-style).

This package provides the grid-world testbed of the GLAMOR paper (Paster,
McIlraith & Ba, "Planning from Pixels using Inverse Dynamics Models", ICLR 2021,
§4.7.1) plus a few extra layouts:

- :class:`Layout`, :func:`parse_layout`, :func:`load_layout`, :func:`get_layout`
  and :data:`LAYOUTS` (``"empty-7x7"``, ``"empty-13x13"``, ``"mountain"``,
  ``"four-rooms"``) describe maps as text (``#`` wall, ``.`` free, ``S`` start).
- :class:`GridWorldEnv` is the environment: 4 moves (optionally a 5th "stay"),
  observations of shape ``(2, H, W)`` uint8 (agent channel, wall channel), reward
  always 0 (goals live outside the env); :func:`goal_observation` builds the
  observation of any cell, e.g. to use as a goal.
- :func:`distance_table`, :func:`distance_map`, :func:`shortest_path_length` and
  :func:`shortest_path` compute exact BFS distances (ground truth for evaluation).
- :func:`render_rgb` (numpy), :func:`plot_layout` and :func:`plot_value_map`
  (matplotlib, imported lazily) draw layouts and per-cell values.

Coordinates are ``(x, y)``: ``x`` is the column, ``y`` the row, origin top-left.

Importing the package registers the Gymnasium ids ``gridworld/Empty-7x7-v0``,
``gridworld/Empty-13x13-v0``, ``gridworld/Mountain-v0`` and
``gridworld/FourRooms-v0``.

Example
-------
>>> import gymnasium as gym
>>> import gridworld
>>> env = gym.make("gridworld/Empty-7x7-v0", max_steps=10)
>>> obs, info = env.reset(seed=0)
>>> obs.shape, info
((2, 9, 9), {'x': 4, 'y': 4})
>>> goal = gridworld.goal_observation("empty-7x7", (1, 1))
>>> gridworld.shortest_path_length("empty-7x7", (4, 4), (1, 1))
6
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from gridworld.env import ACTION_NAMES, MOVES, GridWorldEnv, goal_observation
from gridworld.layouts import LAYOUTS, Layout, get_layout, load_layout, parse_layout
from gridworld.paths import distance_map, distance_table, shortest_path, shortest_path_length
from gridworld.render import plot_layout, plot_value_map, render_rgb

__all__ = [
    "ACTION_NAMES",
    "ENV_IDS",
    "LAYOUTS",
    "MOVES",
    "GridWorldEnv",
    "Layout",
    "distance_map",
    "distance_table",
    "get_layout",
    "goal_observation",
    "load_layout",
    "parse_layout",
    "plot_layout",
    "plot_value_map",
    "render_rgb",
    "shortest_path",
    "shortest_path_length",
]

ENV_IDS: dict[str, str] = {
    "gridworld/Empty-7x7-v0": "empty-7x7",
    "gridworld/Empty-13x13-v0": "empty-13x13",
    "gridworld/Mountain-v0": "mountain",
    "gridworld/FourRooms-v0": "four-rooms",
}
"""Registered Gymnasium ids and the built-in layout each one uses."""

for _env_id, _layout_name in ENV_IDS.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point="gridworld.env:GridWorldEnv",
            kwargs={"layout": _layout_name},
        )
del _env_id, _layout_name
