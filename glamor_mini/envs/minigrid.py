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
from functools import cached_property

import numpy as np

from glamor_mini.envs.base import GoalSet, Task
from glamor_mini.envs.minigrid_layout import (  # noqa: F401  (re-exported)
    ACCEPTED_OBJECTS,
    ACTION_NAMES,
    DIR_NAMES,
    DIR_VEC,
    EXAMPLES,
    MAX_IMAGE_SIDE,
    PASSABLE,
    SUPERSAMPLE,
    Layout,
    _downsample,
    _start_varies,
    _strip_goal_squares,
    bfs_distances,
    build_layout,
    make_minigrid_env,
    reachable_states,
)
from glamor_mini.envs.registry import Suite, register_suite
from glamor_mini.options import register_options


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
