"""The :class:`GridWorldEnv` Gymnasium environment and :func:`goal_observation`."""

from __future__ import annotations

import operator
import os
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import logger, spaces

from gridworld.layouts import Layout, get_layout
from gridworld.render import render_rgb

__all__ = ["ACTION_NAMES", "MOVES", "GridWorldEnv", "goal_observation"]

MOVES: np.ndarray = np.array([[0, -1], [1, 0], [0, 1], [-1, 0], [0, 0]], dtype=np.int64)
"""``(dx, dy)`` per action: 0 up, 1 right, 2 down, 3 left, 4 stay. Read-only."""
MOVES.setflags(write=False)

ACTION_NAMES: tuple[str, ...] = ("up", "right", "down", "left", "stay")
"""Human-readable action names, indexed by action id."""


def goal_observation(layout: str | Layout | os.PathLike[str], cell: Any) -> np.ndarray:
    """The observation :class:`GridWorldEnv` returns when the agent stands on ``cell``.

    Use it to express goals in observation space (goal-conditioned agents compare
    the current observation with a goal observation).

    Parameters
    ----------
    layout
        A :class:`Layout` or anything :func:`get_layout` accepts.
    cell
        Free cell ``(x, y)``.

    Returns
    -------
    numpy.ndarray
        New ``uint8`` array of shape ``(2, H, W)``: channel 0 is 255 at ``cell``,
        channel 1 is 255 on walls.

    Raises
    ------
    ValueError
        If ``cell`` is not a free cell of ``layout``.
    """
    lay = get_layout(layout)
    x, y = lay.require_free(cell, "goal cell")
    obs = np.zeros((2, lay.height, lay.width), dtype=np.uint8)
    obs[0, y, x] = 255
    obs[1][lay.walls] = 255
    return obs


class GridWorldEnv(gym.Env[np.ndarray, np.int64]):
    """A deterministic, reward-free 2-D grid world for goal-conditioned agents.

    ## Description

    The agent occupies one free cell of a walled grid (a :class:`~gridworld.Layout`)
    and moves one cell per step in the four cardinal directions. This is the small
    grid world of the GLAMOR paper (Paster et al., ICLR 2021, §4.7.1); the default
    layout ``"empty-7x7"`` is its 7x7 room. The environment defines no task: the
    goal of a goal-conditioned agent lives outside the environment (see
    :func:`goal_observation`), so the reward is always 0.

    Coordinates are ``(x, y)``: ``x`` is the column, ``y`` the row, origin at the
    top-left.

    ## Action Space

    ``Discrete(4)``, or ``Discrete(5)`` with ``allow_stay=True``:

    | Num | Action | Effect     |
    |-----|--------|------------|
    | 0   | up     | ``y - 1``  |
    | 1   | right  | ``x + 1``  |
    | 2   | down   | ``y + 1``  |
    | 3   | left   | ``x - 1``  |
    | 4   | stay   | no move (only with ``allow_stay=True``) |

    A move into a wall, or off the grid, leaves the agent where it is.

    ## Observation Space

    ``Box(0, 255, (2, H, W), uint8)`` where ``(H, W)`` is the layout's shape
    (border walls included). Channel 0 is 255 at the agent's cell and 0
    elsewhere; channel 1 is 255 on walls and 0 on free cells. Every call returns a
    new array.

    ## Rewards

    Always ``0.0``.

    ## Starting State

    The layout's start cell, or ``options={"start": (x, y)}`` passed to
    :meth:`reset`, or a uniformly random free cell with
    ``options={"random_start": True}`` (drawn from ``self.np_random``).

    ## Episode End

    ### Termination

    Never (``terminated`` is always ``False``).

    ### Truncation

    After ``max_steps`` steps when ``max_steps`` is set; never otherwise.

    ## Arguments

    - ``layout``: built-in layout name (``"empty-7x7"``, ``"empty-13x13"``,
      ``"mountain"``, ``"four-rooms"``), a :class:`~gridworld.Layout`, or a path
      to a layout text file. Default ``"empty-7x7"``.
    - ``max_steps``: truncate episodes after this many steps (``None``: never).
    - ``allow_stay``: add action 4, "stay".
    - ``render_mode``: ``None`` or ``"rgb_array"``.
    - ``cell_px``: pixels per cell for ``render()``.

    Registered ids: ``gridworld/Empty-7x7-v0``, ``gridworld/Empty-13x13-v0``,
    ``gridworld/Mountain-v0``, ``gridworld/FourRooms-v0``.

    ## Example

    >>> import gridworld
    >>> env = gridworld.GridWorldEnv("empty-7x7", max_steps=10)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info
    ((2, 9, 9), {'x': 4, 'y': 4})
    >>> obs, reward, terminated, truncated, info = env.step(env.RIGHT)
    >>> info, reward, terminated, truncated
    ({'x': 5, 'y': 4}, 0.0, False, False)
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 8}

    UP: ClassVar[int] = 0
    RIGHT: ClassVar[int] = 1
    DOWN: ClassVar[int] = 2
    LEFT: ClassVar[int] = 3
    STAY: ClassVar[int] = 4
    ACTION_NAMES: ClassVar[tuple[str, ...]] = ACTION_NAMES

    def __init__(
        self,
        layout: str | Layout | os.PathLike[str] = "empty-7x7",
        max_steps: int | None = None,
        allow_stay: bool = False,
        render_mode: str | None = None,
        cell_px: int = 16,
    ) -> None:
        self._layout = get_layout(layout)
        if max_steps is not None and (
            isinstance(max_steps, bool)
            or not isinstance(max_steps, int | np.integer)
            or max_steps < 1
        ):
            raise ValueError(f"max_steps must be an int >= 1 or None, got {max_steps!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        if isinstance(cell_px, bool) or not isinstance(cell_px, int | np.integer) or cell_px < 1:
            raise ValueError(f"cell_px must be an int >= 1, got {cell_px!r}")

        self.max_steps: int | None = None if max_steps is None else int(max_steps)
        self.allow_stay = bool(allow_stay)
        self.render_mode = render_mode
        self.cell_px = int(cell_px)

        self.n_actions = 5 if self.allow_stay else 4
        self.action_space = spaces.Discrete(self.n_actions)
        self.observation_space = spaces.Box(
            low=0, high=255, shape=(2, self._layout.height, self._layout.width), dtype=np.uint8
        )
        self._pos: tuple[int, int] | None = None
        self._steps = 0

    # ------------------------------------------------------------------ properties
    @property
    def layout(self) -> Layout:
        """The (immutable) layout of this environment."""
        return self._layout

    @property
    def agent_pos(self) -> tuple[int, int]:
        """The agent's cell ``(x, y)``. Raises ``RuntimeError`` before :meth:`reset`."""
        if self._pos is None:
            raise RuntimeError("the environment has not been reset yet; call env.reset() first")
        return self._pos

    @property
    def steps(self) -> int:
        """Number of steps taken since the last :meth:`reset`."""
        return self._steps

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, int]]:
        """Reset the agent to its start cell.

        Parameters
        ----------
        seed
            Seeds ``self.np_random`` (only used by the ``random_start`` option).
        options
            Optional dict with ``"start": (x, y)`` (a free cell) or
            ``"random_start": True`` (uniform over free cells); not both.

        Returns
        -------
        tuple
            ``(observation, {"x": x, "y": y})``.
        """
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"start", "random_start"}
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {sorted(unknown)}; accepted: 'start', 'random_start'"
            )
        start = options.get("start")
        random_start = bool(options.get("random_start", False))
        if start is not None and random_start:
            raise ValueError("pass either 'start' or 'random_start' in reset options, not both")
        if start is not None:
            self._pos = self._layout.require_free(start, "start")
        elif random_start:
            free = self._layout.free_cells()
            self._pos = free[int(self.np_random.integers(len(free)))]
        else:
            self._pos = self._layout.start
        self._steps = 0
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, int]]:
        """Move the agent one cell (or not, if blocked).

        Returns
        -------
        tuple
            ``(observation, 0.0, False, truncated, {"x": x, "y": y})``.

        Raises
        ------
        ValueError
            If ``action`` is not an int in ``[0, n_actions)``.
        RuntimeError
            If called before :meth:`reset`.
        """
        if self._pos is None:
            raise RuntimeError("step() called before reset(); call env.reset() first")
        a = self._check_action(action)
        x, y = self._pos
        dx, dy = MOVES[a]
        nx, ny = x + int(dx), y + int(dy)
        if self._layout.is_free(nx, ny):
            self._pos = (nx, ny)
        self._steps += 1
        truncated = self.max_steps is not None and self._steps >= self.max_steps
        return self._obs(), 0.0, False, truncated, self._info()

    def render(self) -> np.ndarray | None:
        """Return an RGB image ``(H * cell_px, W * cell_px, 3)`` in ``"rgb_array"`` mode."""
        if self.render_mode is None:
            logger.warn(
                "render() called without a render_mode; create the env with "
                "render_mode='rgb_array' to get images"
            )
            return None
        return render_rgb(self._layout, agent=self._pos, cell_px=self.cell_px)

    # ------------------------------------------------------------------ helpers
    def _check_action(self, action: Any) -> int:
        try:
            if isinstance(action, bool | np.bool_):
                raise TypeError
            a = operator.index(action)
        except TypeError:
            raise ValueError(
                f"action must be an int in [0, {self.n_actions - 1}], got {action!r}"
            ) from None
        if not 0 <= a < self.n_actions:
            hint = ""
            if a == self.STAY and not self.allow_stay:
                hint = " (create the env with allow_stay=True to use 4 = stay)"
            raise ValueError(
                f"action must be an int in [0, {self.n_actions - 1}] "
                f"({', '.join(ACTION_NAMES[: self.n_actions])}), got {a}{hint}"
            )
        return a

    def _obs(self) -> np.ndarray:
        assert self._pos is not None
        # Single source of truth: the env's observations are goal observations.
        return goal_observation(self._layout, self._pos)

    def _info(self) -> dict[str, int]:
        assert self._pos is not None
        return {"x": int(self._pos[0]), "y": int(self._pos[1])}

    def __repr__(self) -> str:
        return (
            f"GridWorldEnv(layout={self._layout.name!r}, max_steps={self.max_steps}, "
            f"allow_stay={self.allow_stay}, render_mode={self.render_mode!r})"
        )
