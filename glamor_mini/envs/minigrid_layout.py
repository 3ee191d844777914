"""MiniGrid rooms read into a `Layout` (envs/minigrid.py's task draws and plans on it): walls,
lava, the start, the rendered tiles, and the BFS over (x, y, heading) that gives shortest paths.

MiniGrid is imported on first use (`pip install 'glamor-mini[minigrid]'`); rooms with doors, keys,
balls or boxes are refused with a clear error (ACCEPTED_OBJECTS).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

ACTION_NAMES = ("left", "right", "forward")
"""The action set, in MiniGrid's own action ids (0, 1, 2)."""
DIR_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))
"""MiniGrid's headings: 0 east (+x), 1 south (+y), 2 west, 3 north."""
DIR_NAMES = ("east", "south", "west", "north")
MAX_IMAGE_SIDE = 40
"""Default image budget: cell_px = max(3, MAX_IMAGE_SIDE // grid size)."""
SUPERSAMPLE = 2
"""Tiles are drawn by MiniGrid at SUPERSAMPLE x cell_px pixels, then area-averaged down."""
EXTRA_ENVS: dict[str, dict] = {
    "MiniGrid-Empty-9x9-v0": {"size": 9},
    "MiniGrid-Empty-Random-9x9-v0": {"size": 9, "agent_start_pos": None},
    "MiniGrid-Empty-Centre-9x9-v0": {"size": 9, "agent_start_pos": (4, 4)},
}
"""Rooms not registered by MiniGrid itself, built with EmptyEnv(**kwargs) (7x7 interior)."""
PASSABLE = {"floor"}
"""Object types the agent may stand on (besides empty cells); lava kills, walls block."""
ACCEPTED_OBJECTS = {"wall", "goal", "floor", "lava"}
"""Object types an accepted room may contain (goal squares are removed)."""
EXAMPLES = (
    "MiniGrid-Empty-8x8-v0",
    "MiniGrid-Empty-9x9-v0",
    "MiniGrid-Empty-Centre-9x9-v0",
    "MiniGrid-FourRooms-v0",
    "MiniGrid-SimpleCrossingS9N1-v0",
    "MiniGrid-LavaGapS7-v0",
)


def _minigrid():
    """Import minigrid lazily, with the pip extra to install when it is missing."""
    try:
        import minigrid  # noqa: F401  (importing registers the MiniGrid-* ids)
        from minigrid.minigrid_env import MiniGridEnv
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "the 'minigrid' suite needs the minigrid package: pip install 'glamor-mini[minigrid]'"
        ) from err
    return MiniGridEnv


def make_minigrid_env(env_id: str):
    """The unwrapped MiniGridEnv for `env_id`, with its partial-view observation switched off."""
    MiniGridEnv = _minigrid()
    import gymnasium as gym

    if env_id in EXTRA_ENVS:
        from minigrid.envs import EmptyEnv

        env = EmptyEnv(**EXTRA_ENVS[env_id])
    else:
        try:
            env = gym.make(env_id).unwrapped
        except gym.error.Error as err:
            raise ValueError(
                f"env={env_id!r} is not a known MiniGrid id ({type(err).__name__}: {err}); "
                f"accepted: rooms such as {', '.join(EXAMPLES)}"
            ) from err
        if not isinstance(env, MiniGridEnv):
            raise ValueError(f"env={env_id!r} is not a MiniGrid environment; try {EXAMPLES}")
    # We render the full view ourselves: skip MiniGrid's egocentric view (most of a step's cost).
    env.gen_obs = lambda: None
    return env


def _strip_goal_squares(env) -> None:
    grid = env.grid
    for j in range(grid.height):
        for i in range(grid.width):
            cell = grid.get(i, j)
            if cell is not None and cell.type == "goal":
                grid.set(i, j, None)


def _downsample(img: np.ndarray, k: int) -> np.ndarray:
    """(h*k, w*k, 3) uint8 -> (3, h, w) uint8 by area averaging."""
    h, w = img.shape[0] // k, img.shape[1] // k
    small = img.reshape(h, k, w, k, 3).astype(np.float32).mean(axis=(1, 3))
    return np.round(small).astype(np.uint8).transpose(2, 0, 1)


@dataclass
class Layout:
    """The fixed map of a task: what every cell holds, the start state and the tile images.

    kinds: (H, W) object array of None / 'wall' / 'floor' / 'lava'   start: (x, y, dir)
    """

    env_id: str
    kinds: np.ndarray
    start: tuple[int, int, int]
    cell_px: int
    background: np.ndarray  # (3, H*px, W*px) uint8: the map without the agent
    agent_tiles: dict[tuple[str | None, int], np.ndarray]  # (kind, dir) -> (3, px, px)

    @property
    def height(self) -> int:
        return self.kinds.shape[0]

    @property
    def width(self) -> int:
        return self.kinds.shape[1]

    def passable(self, x: int, y: int) -> bool:
        return 0 <= x < self.width and 0 <= y < self.height and self.kinds[y, x] in (None, "floor")

    def render(self, x: int, y: int, d: int) -> np.ndarray:
        """The frame (3, H, W) uint8 of the agent at (x, y) heading d. Pure, fast (a copy and a
        tile paste); identical to what the env returns in that state."""
        px = self.cell_px
        frame = self.background.copy()
        frame[:, y * px : (y + 1) * px, x * px : (x + 1) * px] = self.agent_tiles[
            (self.kinds[y, x], d)
        ]
        return frame

    def next_state(self, x: int, y: int, d: int, action: int) -> tuple[int, int, int, bool]:
        """MiniGrid's dynamics on this map: -> (x, y, dir, died_in_lava)."""
        if action == 0:
            return x, y, (d - 1) % 4, False
        if action == 1:
            return x, y, (d + 1) % 4, False
        fx, fy = x + DIR_VEC[d][0], y + DIR_VEC[d][1]
        kind = self.kinds[fy, fx] if 0 <= fx < self.width and 0 <= fy < self.height else "wall"
        if kind == "lava":
            return fx, fy, d, True
        if kind in (None, "floor"):
            return fx, fy, d, False
        return x, y, d, False


def build_layout(env_id: str, layout_seed: int = 0, cell_px: int | None = None) -> Layout:
    """Reset `env_id` with `layout_seed`, remove goal squares, check the objects, draw tiles."""
    from minigrid.core.grid import Grid

    env = make_minigrid_env(env_id)
    env.reset(seed=layout_seed)
    _strip_goal_squares(env)
    W, H = env.width, env.height
    if cell_px is None:
        cell_px = max(3, MAX_IMAGE_SIDE // max(W, H))
    if cell_px < 2:
        raise ValueError(f"cell_px={cell_px} must be >= 2 pixels per grid cell")
    kinds = np.full((H, W), None, dtype=object)
    objs = {}
    for j in range(H):
        for i in range(W):
            cell = env.grid.get(i, j)
            if cell is None:
                continue
            if cell.type not in ACCEPTED_OBJECTS:
                raise ValueError(
                    f"env={env_id!r} holds a {cell.type!r} at ({i}, {j}); this adapter keeps only "
                    "the navigation actions (left, right, forward), so it accepts rooms made of "
                    f"{sorted(ACCEPTED_OBJECTS)}: e.g. {', '.join(EXAMPLES)}"
                )
            kinds[j, i] = cell.type
            objs[cell.type] = cell
    k = SUPERSAMPLE * cell_px

    def tile(kind: str | None, d: int | None) -> np.ndarray:
        # render_tile returns floats; MiniGrid's own frames truncate them to uint8 (so do we)
        big = Grid.render_tile(objs.get(kind), d, False, k).astype(np.uint8)
        return _downsample(big, SUPERSAMPLE)

    background = np.zeros((3, H * cell_px, W * cell_px), dtype=np.uint8)
    empty = {kind: tile(kind, None) for kind in set(kinds.ravel())}
    for j in range(H):
        for i in range(W):
            background[:, j * cell_px : (j + 1) * cell_px, i * cell_px : (i + 1) * cell_px] = empty[
                kinds[j, i]
            ]
    standable = {None} | ({"floor", "lava"} & set(kinds.ravel()))
    agent_tiles = {(kind, d): tile(kind, d) for kind in standable for d in range(4)}
    x, y = (int(v) for v in env.agent_pos)
    return Layout(env_id, kinds, (x, y, int(env.agent_dir)), cell_px, background, agent_tiles)


def _start_varies(env_id: str, tries: int = 4) -> bool:
    """Does the env place the agent differently for different seeds?"""
    env = make_minigrid_env(env_id)
    poses = set()
    for seed in range(tries):
        env.reset(seed=seed)
        poses.add((*(int(v) for v in env.agent_pos), int(env.agent_dir)))
    env.close()
    return len(poses) > 1


def reachable_states(layout: Layout, start: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """Every (x, y, dir) reachable from `start` without dying, in BFS order."""
    return list(bfs_distances(layout, start))


def bfs_distances(layout: Layout, start: tuple[int, int, int]) -> dict[tuple[int, int, int], int]:
    """Shortest number of actions from `start` to every reachable (x, y, dir) (lava avoided)."""
    dist = {start: 0}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        for a in range(3):
            x, y, d, died = layout.next_state(*s, a)
            if not died and (x, y, d) not in dist:
                dist[(x, y, d)] = dist[s] + 1
                queue.append((x, y, d))
    return dist
