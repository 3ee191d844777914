"""MiniGrid rooms as a GLAMOR pixel task: planning from small RGB images on a laptop CPU.

Description
    A MiniGrid room (Empty, FourRooms, SimpleCrossing, LavaCrossing, LavaGap, or the 7x7-interior
    room ``MiniGrid-Empty-9x9-v0`` = ``EmptyEnv(size=9)``, with the start in the centre as
    ``MiniGrid-Empty-Centre-9x9-v0`` or at random as ``MiniGrid-Empty-Random-9x9-v0``) seen from
    above: the whole grid, rendered with MiniGrid's own tiles, anti-aliased down to ``cell_px``
    pixels per cell (default: the most that keeps the image within 40 x 40, at least 3: 36 x 36
    for the 9x9 grid). The map
    is the same in every episode: the underlying env is reset with the task's ``layout_seed``
    (FourRooms and the crossings draw their walls at random). The env's green goal square is
    removed (GLAMOR's goals are images; MiniGrid would end the episode on the green square).

Action Space
    MiniGrid's own navigation actions: 0 = turn left, 1 = turn right, 2 = move forward. We keep
    the turn actions (rather than inventing absolute N/E/S/W moves) because they are the actions
    MiniGrid users know and because the rendered agent is a triangle that shows its heading: with
    turns, the heading is part of the state the agent controls, so a goal image names it too.
    pickup / drop / toggle / done are left out; rooms with doors, keys, balls or boxes (which
    need them, and whose state the labels would have to track) are rejected with a clear error.

Observation
    One frame (3, H, W) uint8, H = W = grid size x cell_px; the trainer stacks ``frame_stack`` of
    them (the full view with a visible heading is Markov, so 1 suffices here). MiniGrid's
    partial egocentric view is never computed (we render the full view ourselves, which is what
    makes the adapter fast). Size the IMPALA encoder so that its last feature map keeps about
    one pixel per grid cell: each stage halves the image, so 36 x 36 (9 cells of 4 px) wants 2
    stages (-> 9 x 9), 40 x 40 for Empty-5x5 (8 px) wants 3 (-> 5 x 5). (On Empty-5x5, with
    similar budgets: 15 x 15 frames through 3 stages (2 x 2 at the end) reached 0.06 goal
    achievement; 40 x 40 through 3 stages 0.33-0.39; 20 x 20 through 2 stages 0.47.)

Goals and labels
    Labels are (x, y, dir) of the agent (MiniGrid's agent_pos and agent_dir; dir 0 = east,
    1 = south, 2 = west, 3 = north). A goal is the image of the agent standing at the target cell
    with the target heading, rendered from that very state; it is achieved when the final state
    has the same cell AND heading (the heading is visible in the goal image). The goal sets are
    every state reachable from the start (49 cells x 4 headings = 196 in the 7x7 room), or a
    seeded sample of them when there are more than asked for (FourRooms has ~1,000).

Start, Termination
    Each episode starts the way the MiniGrid env starts it: at a fixed pose where the env has
    one (Empty-NxN: the top-left corner, facing east), or, where the env places the agent at
    random (Empty-Random-NxN, FourRooms), in a state drawn uniformly from the reachable ones with
    the adapter's ``np_random`` (seeded by ``reset(seed)``; ``random_start`` overrides). Random
    starts are much harder to learn on a CPU budget (the notebook's budget on Empty-Random-5x5:
    0.00 goal achievement, against 0.36 with Empty-5x5's fixed start). The
    episode lasts T = ``horizon`` steps; the env ends it earlier only when the agent walks into
    lava. Shortest paths over (x, y, dir) are found by BFS, so the optimal-path metric applies.
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from glamor_mini.envs.base import GoalSet, Task
from glamor_mini.envs.registry import Suite, register_suite
from glamor_mini.options import register_options

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


class MiniGridSuiteEnv:
    """One MiniGrid env seen through the SuiteEnv interface (frames rendered from the Layout)."""

    def __init__(self, task: MiniGridTask):
        self.task = task
        self.layout = task.layout
        self.env = make_minigrid_env(task.env_id)
        self.env.max_steps = max(self.env.max_steps, 10 * task.horizon + 1)  # T ends episodes
        self.np_random = np.random.default_rng()

    def _observe(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = (int(v) for v in self.env.agent_pos)
        d = int(self.env.agent_dir)
        return self.layout.render(x, y, d), np.array([x, y, d], dtype=np.float32)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.env.reset(seed=self.task.layout_seed)  # the same map in every episode
        _strip_goal_squares(self.env)
        if self.task.random_start:
            states = self.task.states
            x, y, d = states[int(self.np_random.integers(len(states)))]
            self.env.agent_pos, self.env.agent_dir = (x, y), d
        return self._observe()

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        a = int(action)
        if not 0 <= a < len(ACTION_NAMES):
            raise ValueError(f"action={action!r} is not accepted; choose 0..2 {ACTION_NAMES}")
        _, _, terminated, truncated, _ = self.env.step(a)
        frame, labels = self._observe()
        return frame, labels, bool(terminated or truncated)

    def close(self) -> None:
        self.env.close()


class MiniGridTask(Task):
    """GLAMOR's view of a MiniGrid room (see the module docstring)."""

    label_names = ("x", "y", "dir")
    n_actions = len(ACTION_NAMES)

    def __init__(
        self,
        env_id: str = "MiniGrid-Empty-8x8-v0",
        horizon: int = 20,
        frame_stack: int = 1,
        layout_seed: int = 0,
        cell_px: int | None = None,
        random_start: bool | None = None,
        n_train_goals: int = 1000,
        n_eval_goals: int = 200,
    ):
        for name, v in (
            ("horizon", horizon),
            ("frame_stack", frame_stack),
            ("n_train_goals", n_train_goals),
            ("n_eval_goals", n_eval_goals),
        ):
            if int(v) < 1:
                raise ValueError(f"{name}={v} must be >= 1")
        self.env_id = env_id
        self.name = f"minigrid/{env_id}"
        self.horizon = int(horizon)
        self.frame_stack = int(frame_stack)
        self.layout_seed = int(layout_seed)
        # None: follow the env (random when its start pose depends on its seed)
        self.random_start = _start_varies(env_id) if random_start is None else bool(random_start)
        self.n_train_goals, self.n_eval_goals = int(n_train_goals), int(n_eval_goals)
        self.layout = build_layout(env_id, self.layout_seed, cell_px)
        px = self.layout.cell_px
        self.frame_shape = (3, self.layout.height * px, self.layout.width * px)
        self._dist: dict[tuple[int, int, int], np.ndarray] = {}
        if not self.random_start:
            far = self.distances_from(self.layout.start)
            if far.max() > self.horizon:
                warnings.warn(
                    f"{env_id}: {(far > self.horizon).sum()} of {len(far)} goal states need more "
                    f"than horizon={self.horizon} steps from the start {self.layout.start}; use "
                    f"--horizon {far.max()} or more to make every goal reachable",
                    stacklevel=2,
                )

    # ------------------------------------------------------------------ states and goals
    @cached_property
    def states(self) -> list[tuple[int, int, int]]:
        """Every (x, y, dir) reachable from the start, sorted."""
        return sorted(reachable_states(self.layout, self.layout.start))

    @cached_property
    def _index(self) -> np.ndarray:
        """(W, H, 4) state index of each (x, y, dir), -1 where unreachable."""
        idx = np.full((self.layout.width, self.layout.height, 4), -1, dtype=np.int64)
        for i, (x, y, d) in enumerate(self.states):
            idx[x, y, d] = i
        return idx

    def make_env(self) -> MiniGridSuiteEnv:
        return MiniGridSuiteEnv(self)

    def goal_frame(self, x: int, y: int, d: int) -> np.ndarray:
        """(3, H, W) uint8: the image of the agent standing at (x, y) with heading d."""
        if not self.layout.passable(x, y) or not 0 <= d < 4:
            raise ValueError(f"({x}, {y}, {d}) is not a state the agent can stand in")
        return self.layout.render(x, y, d)

    def goal_set(self, states: list[tuple[int, int, int]]) -> GoalSet:
        frames = np.stack([self.layout.render(*s) for s in states])
        return GoalSet(frames, np.array(states, dtype=np.float32).reshape(-1, 3))

    def _sample(self, n: int, seed: int) -> GoalSet:
        """All reachable states when n covers them, else a seeded sample of n (sorted)."""
        S = len(self.states)
        if n >= S:
            return self.goal_set(self.states)
        idx = np.sort(np.random.default_rng(seed).choice(S, size=n, replace=False))
        return self.goal_set([self.states[i] for i in idx])

    def train_goals(self, seed: int = 0) -> GoalSet:
        return self._cached("train", self.n_train_goals, seed)

    def eval_goals(self, seed: int = 0) -> GoalSet:
        return self._cached("eval", self.n_eval_goals, seed + 7_919)

    def _cached(self, kind: str, n: int, seed: int) -> GoalSet:
        cache = self.__dict__.setdefault("_goal_cache", {})
        key = (kind, seed if n < len(self.states) else None)
        if key not in cache:
            cache[key] = self._sample(n, seed)
        return cache[key]

    # ------------------------------------------------------------------ judging
    def achieved(self, labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray:
        """Same cell and same heading: (B, 3) x (B, 3) -> (B,) bool."""
        return np.all(np.asarray(labels) == np.asarray(goal_labels), axis=-1)

    def per_label_achieved(self, labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray:
        return np.asarray(labels) == np.asarray(goal_labels)

    def distances_from(self, start: tuple[int, int, int]) -> np.ndarray:
        """(S,) shortest action counts from `start` to each of `states` (-1: unreachable)."""
        start = tuple(int(v) for v in start)
        if start not in self._dist:
            dist = bfs_distances(self.layout, start)  # type: ignore[arg-type]
            self._dist[start] = np.array([dist.get(s, -1) for s in self.states], dtype=np.int64)
        return self._dist[start]

    def optimal_steps(self, start_labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray:
        """(B,) BFS shortest-path lengths over (x, y, dir) (turns count as steps)."""
        s = np.asarray(start_labels, dtype=np.int64).reshape(-1, 3)
        g = np.asarray(goal_labels, dtype=np.int64).reshape(-1, 3)
        gi = self._index[g[:, 0], g[:, 1], g[:, 2]]
        if (gi < 0).any():
            raise ValueError("optimal_steps: a goal is not a reachable (x, y, dir) state")
        return np.array(
            [self.distances_from(tuple(st))[i] for st, i in zip(s, gi, strict=True)],
            dtype=np.int64,
        )

    # ------------------------------------------------------------------ pictures
    def trace(self, start: tuple[int, int, int], actions) -> list[tuple[int, int, int]]:
        """The states a plan visits from `start` (actions past an END / -1 are ignored)."""
        path = [tuple(int(v) for v in start)]
        for a in actions:
            a = int(a)
            if not 0 <= a < self.n_actions:
                break
            x, y, d, died = self.layout.next_state(*path[-1], a)
            path.append((x, y, d))
            if died:
                break
        return path  # type: ignore[return-value]

    def draw_plans(
        self,
        ax,
        start: tuple[int, int, int],
        goal: tuple[int, int, int],
        candidates,
        best=None,
        max_candidates: int = 50,
    ) -> None:
        """Draw candidate plans (each an action sequence) as paths on the map (paper Eq. 8's
        random shooting made visible): thin blue lines, the chosen plan thick orange, the start
        a white star and the goal cell a green square with its heading."""
        from matplotlib.patches import Rectangle

        px = self.layout.cell_px
        img = self.layout.render(*start).transpose(1, 2, 0)
        h, w = img.shape[:2]
        ax.imshow(img, interpolation="nearest", extent=(0, w, h, 0))  # pixel edges at integers
        rng = np.random.default_rng(0)  # small jitter so overlapping paths stay visible

        def centre(path, jitter):
            pts = np.array([(x, y) for x, y, _ in path], dtype=float) + 0.5
            return (pts + jitter) * px

        for plan_actions in list(candidates)[:max_candidates]:
            pts = centre(self.trace(start, plan_actions), rng.uniform(-0.15, 0.15, 2))
            ax.plot(pts[:, 0], pts[:, 1], color="tab:blue", alpha=0.35, lw=1)
        if best is not None:
            pts = centre(self.trace(start, best), 0.0)
            ax.plot(pts[:, 0], pts[:, 1], color="tab:orange", lw=3)
        gx, gy, gd = goal
        ax.add_patch(Rectangle((gx * px, gy * px), px, px, fill=False, edgecolor="lime", lw=2.5))
        dx, dy = DIR_VEC[gd]
        ax.arrow(
            (gx + 0.5) * px,
            (gy + 0.5) * px,
            0.3 * dx * px,
            0.3 * dy * px,
            color="lime",
            width=0.06 * px,
            length_includes_head=True,
        )
        ax.plot((start[0] + 0.5) * px, (start[1] + 0.5) * px, marker="*", color="white", ms=12)
        ax.set_xticks([])
        ax.set_yticks([])


def task_from_config(cfg) -> MiniGridTask:
    return MiniGridTask(
        cfg.env,
        horizon=cfg.horizon,
        frame_stack=cfg.frame_stack,
        layout_seed=cfg.seed,
        n_train_goals=cfg.train_goals,
        n_eval_goals=cfg.n_eval_goals,
    )


register_options("MiniGrid", ("env",))
register_suite(
    Suite(
        "minigrid",
        task_from_config,
        title="MiniGrid",
        env_field="env",
        paper_envs=("MiniGrid-Empty-Centre-9x9-v0",),
        table1_scales={
            "paper": ("minigrid", {}),
            "cpu": ("minigrid", {"torch_threads": 1}),
            "tiny": ("minigrid-debug", {}),
        },
    )
)
