"""The paper's grid world (§4.7.1, Fig. 3a) as a GLAMOR task.

Goals are the observations of the agent standing on each free cell (`gridworld.goal_observation`);
labels are the agent's (x, y); a goal is achieved when the final cell equals the goal cell. The
training and evaluation goal sets are both "every free cell", and every episode starts at the
layout's start cell (the centre of empty-7x7), as in the authors' demo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import gridworld
from glamor_mini.config import ConfigError
from glamor_mini.envs.base import GoalSet, Task
from glamor_mini.envs.registry import Suite, register_suite
from glamor_mini.options import register_options
from glamor_mini.resources import check_memory

HORIZON_SLACK = 4
"""Steps a derived horizon adds beyond the farthest cell: the slack of the authors' demo (T = 10
in the 7x7 room, whose farthest cell is 6 moves from the centre)."""


def start_eccentricity(layout: str | Path | gridworld.Layout) -> tuple[int, int]:
    """(moves from the layout's start to its farthest reachable free cell, free cells that cannot
    be reached from the start at all), by breadth-first search."""
    lay = gridworld.get_layout(layout)
    dist = gridworld.distance_map(lay, lay.start)
    n_free = int((~lay.walls).sum())
    return int(dist.max()), n_free - int((dist >= 0).sum())


def derive_horizon(layout: str | Path | gridworld.Layout) -> int:
    """T for a layout: its start's BFS eccentricity + HORIZON_SLACK (10 for empty-7x7), so that
    every goal cell is reachable with room for a detour (§4.4: plans hold <= T - t actions)."""
    ecc, _ = start_eccentricity(layout)
    return ecc + HORIZON_SLACK


def has_interior_walls(layout: str | Path | gridworld.Layout) -> bool:
    """Walls anywhere inside the border (four-rooms, mazes), not just an open room."""
    return bool(gridworld.get_layout(layout).walls[1:-1, 1:-1].any())


def preset_encoder(layout: str | Path | gridworld.Layout) -> str:
    """The `gridworld` preset's encoder for a layout: 'mlp' in an open room (the authors' demo),
    'keypoint' with interior walls, where the MLP cannot tell rarely visited cells apart
    (docs/investigations.md, 'Layouts with interior walls': 0.26 -> 0.77 on maze_comb, 0.32 ->
    0.56 on four-rooms at 40k steps)."""
    return "keypoint" if has_interior_walls(layout) else "mlp"


def resolve_horizon(
    layout: str | Path | gridworld.Layout, horizon: int, encoder: str = "mlp"
) -> tuple[int, str | None]:
    """The horizon to run with and a line telling the user what was chosen (None: nothing to say).

    horizon = 0 means "derive it from the layout" (`derive_horizon`). An explicit horizon shorter
    than the farthest cell is kept, with a warning naming the goals it puts out of reach. A
    derived horizon on a layout with interior walls adds the `encoder` in use and what each grid
    encoder reached on such layouts (docs/investigations.md, 'Layouts with interior walls').
    """
    lay = gridworld.get_layout(layout)
    ecc, cut_off = start_eccentricity(lay)
    notes = []
    if cut_off:
        notes.append(f"{cut_off} free cell(s) cannot be reached from the start {lay.start} at all")
    if horizon == 0:
        horizon = ecc + HORIZON_SLACK
        notes.insert(
            0,
            f"horizon T = {horizon} derived from layout {lay.name!r}: its farthest cell is {ecc} "
            f"moves from the start {lay.start}, plus {HORIZON_SLACK} steps of slack "
            "(set --horizon to choose another)",
        )
        if has_interior_walls(lay):  # the preset was tuned on the open room
            notes.append(
                f"encoder {encoder!r}: on layouts with interior walls the 'mlp' encoder reached "
                "0.19-0.63 of the goals at 40k steps, 'keypoint' 0.19-0.77 (the preset's choice "
                "there); neither reaches 0.95 (docs/investigations.md, 'Layouts with interior "
                "walls')"
            )
    elif horizon < ecc:
        dist = gridworld.distance_map(lay, lay.start)
        far = int((dist > horizon).sum())
        notes.insert(
            0,
            f"horizon T = {horizon} is shorter than layout {lay.name!r}'s farthest cell ({ecc} "
            f"moves from the start): {far} goal cell(s) cannot be reached; --horizon 0 derives "
            f"T = {ecc + HORIZON_SLACK}",
        )
    return horizon, ("gridworld: " + "; ".join(notes)) if notes else None


COLLECT_STARTS = ("fixed", "random")
"""Where collection episodes start (Config.collect_start)."""


class GridSuiteEnv:
    """A GridWorldEnv seen through the SuiteEnv interface."""

    def __init__(
        self,
        layout: gridworld.Layout,
        allow_stay: bool,
        random_start: bool = False,
        start: tuple[int, int] | None = None,
    ):
        """Episodes start at the layout's start cell, a uniformly drawn free cell
        (`random_start`) or the free cell `start`."""
        self.env = gridworld.GridWorldEnv(layout, allow_stay=allow_stay)
        self.options = {"random_start": True} if random_start else None
        if start is not None:
            self.options = {"start": tuple(int(v) for v in start)}

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        obs, info = self.env.reset(seed=seed, options=self.options)
        return obs, np.array([info["x"], info["y"]], dtype=np.float32)

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        obs, _, term, trunc, info = self.env.step(int(action))
        return obs, np.array([info["x"], info["y"]], dtype=np.float32), bool(term or trunc)


class GridWorldTask(Task):
    """GLAMOR's view of a grid-world layout."""

    label_names = ("x", "y")
    frame_stack = 1

    def __init__(
        self,
        layout: str | Path | gridworld.Layout = "empty-7x7",
        horizon: int = 10,
        allow_stay: bool = False,
        collect_start: str = "fixed",
    ):
        if collect_start not in COLLECT_STARTS:
            raise ValueError(
                f"collect_start={collect_start!r} is not accepted; choose one of {COLLECT_STARTS}"
            )
        self.layout = gridworld.get_layout(layout)
        self.collect_start = collect_start
        self.name = f"gridworld/{self.layout.name}"
        self.horizon = int(horizon)
        self.allow_stay = allow_stay
        self.n_actions = 5 if allow_stay else 4
        self.frame_shape = (2, self.layout.height, self.layout.width)
        self.cells = self.layout.free_cells()
        # The goal set is one (2, H, W) frame per free cell, held twice while it is built (the
        # frames, then np.stack's array): refuse before building it when that cannot fit (a
        # 300x300 room needs 32 GiB, a 500x500 room 231 GiB).
        h, w = self.layout.shape
        check_memory(
            2 * len(self.cells) * 2 * h * w,
            f"the goal set of layout {self.layout.name!r} ({w}x{h}, {len(self.cells):,} free "
            "cells, one 2xHxW frame each, held twice while it is built)",
            "use a smaller layout",
        )
        self._dist: dict[tuple[int, int], np.ndarray] = {}  # start cell -> (H, W) BFS map
        self._goals: GoalSet | None = None

    def make_env(self) -> GridSuiteEnv:
        """An env for evaluation: every episode starts at the layout's start cell."""
        return GridSuiteEnv(self.layout, self.allow_stay)

    def make_collect_env(self) -> GridSuiteEnv:
        """An env for collection (rollout.Collector): with collect_start='random' each episode
        starts at a free cell drawn uniformly from the env's seeded generator."""
        return GridSuiteEnv(self.layout, self.allow_stay, self.collect_start == "random")

    def _all_cells(self) -> GoalSet:
        if self._goals is None:  # built once: the training and evaluation sets are the same
            frames = np.stack([gridworld.goal_observation(self.layout, c) for c in self.cells])
            self._goals = GoalSet(frames, np.array(self.cells, dtype=np.float32))
        return self._goals

    def train_goals(self, seed: int = 0) -> GoalSet:
        return self._all_cells()

    def eval_goals(self, seed: int = 0) -> GoalSet:
        return self._all_cells()

    def achieved(self, labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray:
        return np.all(np.asarray(labels) == np.asarray(goal_labels), axis=-1)

    def optimal_steps(self, start_labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray:
        """Shortest-path lengths (moves) from each start cell to its goal cell; -1 unreachable.
        Distances come from one BFS per distinct start cell (cached), not an all-pairs table."""
        s = np.asarray(start_labels, dtype=int).reshape(-1, 2)
        g = np.asarray(goal_labels, dtype=int).reshape(-1, 2)
        out = np.empty(len(s), dtype=np.int32)
        for start in {(int(x), int(y)) for x, y in s}:
            if start not in self._dist:
                self._dist[start] = gridworld.distance_map(self.layout, start)
            rows = (s[:, 0] == start[0]) & (s[:, 1] == start[1])
            out[rows] = self._dist[start][g[rows, 1], g[rows, 0]]
        return out

    def plot_outcomes(
        self,
        goal_labels: np.ndarray,
        values: np.ndarray,
        path: str | Path,
        titles: tuple[str, ...] = ("goal reached", "reached by a shortest path"),
    ) -> bool:
        """Heatmaps over the goal cells (one panel per column of `values`), saved as PNG."""
        from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

        values = np.asarray(values, dtype=float).reshape(len(goal_labels), -1)
        fig = Figure(figsize=(3.2 * values.shape[1], 3.4))
        axes = fig.subplots(1, values.shape[1])
        axes = np.atleast_1d(axes)
        for j, ax in enumerate(axes):
            grid = np.full((self.layout.height, self.layout.width), np.nan)
            for (x, y), v in zip(goal_labels.astype(int), values[:, j], strict=True):
                grid[y, x] = v
            gridworld.plot_value_map(
                self.layout,
                grid,
                ax=ax,
                cmap="viridis",
                vmin=0.0,
                vmax=1.0,
                title=titles[j] if j < len(titles) else None,
            )
            sx, sy = self.layout.start
            ax.plot(sx, sy, marker="*", color="white", markersize=12)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        return True


def check_layout(spec: str | Path | gridworld.Layout) -> gridworld.Layout:
    """The layout a run may use (ValueError otherwise): a layout file marks its start with
    exactly one 'S' (the gridworld package would silently start in the centre), and a layout
    needs at least two free cells (with one, every goal is the start: goal achievement would
    read 1.000 without a single step, §4.4)."""
    lay = gridworld.get_layout(spec)  # its own errors first (unknown character, ...)
    is_file = not isinstance(spec, gridworld.Layout) and spec not in gridworld.LAYOUTS
    if is_file and Path(spec).is_file():
        n_starts = Path(spec).read_text().count("S")
        if n_starts != 1:
            raise ValueError(
                f"the layout file has {'no' if n_starts == 0 else n_starts} start cell 'S'; a "
                "layout needs exactly one S (mark the start cell with S, free cells with '.')"
            )
    n_free = int((~lay.walls).sum())
    if n_free < 2:
        raise ValueError(
            f"layout {lay.name!r} has {n_free} free cell: its only goal is the start, reached "
            "without acting (goal achievement 1.000 by construction); a layout needs at least two "
            "free cells"
        )
    return lay


def task_from_config(cfg) -> GridWorldTask:
    return GridWorldTask(
        cfg.layout,
        horizon=cfg.horizon,
        allow_stay=cfg.allow_stay,
        collect_start=cfg.collect_start,
    )


def resolve_config(cfg, announce: bool = True):
    """The grid world's own derivations: horizon 0 -> from the layout (BFS eccentricity of the
    start + 4; an explicit horizon that puts goals out of reach is kept with a warning) and
    encoder 'auto' -> 'keypoint' on layouts with interior walls, else 'mlp'. Prints what it chose
    when `announce` (nothing for the demo's own room at the derived T)."""
    quiet = cfg.layout == "empty-7x7" and cfg.horizon == 0
    try:
        check_layout(cfg.layout)
        if cfg.encoder == "auto":
            cfg = cfg.replace(encoder=preset_encoder(cfg.layout))
        horizon, note = resolve_horizon(cfg.layout, cfg.horizon, cfg.encoder)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"layout={cfg.layout!r}: {err}") from err
    if note is not None and announce and not quiet:
        print(note)
    return cfg.replace(horizon=horizon)


register_options("grid world", ("layout", "allow_stay"))
register_suite(
    Suite(
        "gridworld",
        task_from_config,
        title="grid world",
        resolve=resolve_config,
        collect_starts=COLLECT_STARTS,
        env_field="layout",
        aliases=("grid",),
        paper_envs=("empty-7x7",),
        table1_scales={
            "paper": ("gridworld", {}),
            "cpu": ("gridworld", {"torch_threads": 1}),
            "tiny": ("debug", {}),
        },
    )
)
