"""DeepMind Control Suite from pixels: the seven DISCERN tasks (paper §4.1, §4.4, Table 1b).

Description
    dm_control tasks ball_in_cup/catch, cartpole/balance, finger/spin, manipulator/bring_ball,
    pendulum/swingup, point_mass/easy and reacher/hard, seen from camera 0. The task's reward is
    ignored: GLAMOR is judged only on reaching goal states (§4.4).
Action Space
    The A-dimensional continuous control is discretised to the 3^A combinations of {-1, 0, +1}
    (`cube_actions`); manipulator (A = 5) instead uses the "diagonal" set: the all-zero action,
    then +1 and -1 on each actuator with the others at 0 (`diagonal_actions`, 2A + 1 = 11).
    Each agent step repeats the action `frame_skip` times (4 on point_mass/easy, else 1).
Observation
    One grayscale frame (1, 80, 104) uint8 per step (height 80 x width 104, as the authors
    rendered control); the core stacks `frame_stack` (4) of them; a goal is ONE frame.
Labels
    The scored observation entries, flattened (`TASKS`, e.g. cartpole: position_0..2). A goal is
    achieved when every label is within 10% of its feasible range of the goal's label, judged at
    t = T = 100 or when the agent ends the episode.
Goals
    The authors' protocol (glamor_mini.envs.goals): feasible ranges from the final states of 500
    random rollouts of random length 1..T; goals are final states of full-length random rollouts
    (1000 training goals from 2000 rollouts, 30 evaluation goals from 200). To keep rendering
    (the CPU bottleneck) off the rollouts, each keeps only its final physics state and labels;
    only the chosen goals are restored and rendered. Both sets are saved with their ranges per
    task and seed under `Config.goal_dir`.
Rendering
    Headless: MUJOCO_GL=egl unless the user set MUJOCO_GL (osmesa is tried when EGL cannot start);
    it must be set before dm_control is imported, which this module does lazily. With EGL, the
    GPU is the first one CUDA_VISIBLE_DEVICES names (envs/egl.py sets MUJOCO_EGL_DEVICE_ID).
    `shadows=False` switches MuJoCo's shadow pass off (2-3x faster on a CPU): images are the same
    except that the dark shadow cast by each body (cart, pole, cup, arm) is missing. Measured
    after reset(seed=1): cartpole and manipulator, < 0.5% of the pixels differ by more than 8
    grey levels; ball_in_cup, 23% (the cup's shadow falls on the backdrop; at most 27 levels).
    Frames/s with -> without shadows on a shared 2-core CPU: cartpole 29 -> 76, point_mass
    24 -> 255, manipulator 17 -> 62.
Collection
    `make_vec_env(n)` runs n envs in subprocesses when the run's CPU share is above 2 cores
    (`vec.env_workers`), else in this process (bench/dmc_env.py). `without_pixels()` gives envs
    that skip rendering, for policies that never look at pixels (the random-policy floor,
    glamor_mini.floor).
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import itertools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glamor_mini.envs.goals import RolloutGoalsMixin
from glamor_mini.envs.registry import Suite, register_suite
from glamor_mini.envs.vec import SerialVecEnv, SubprocVecEnv, use_workers
from glamor_mini.options import register_options

FRAME_HEIGHT, FRAME_WIDTH = 80, 104
GRAY = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma weights


@dataclass(frozen=True)
class TaskSpec:
    """What the paper fixes per task: frame skip, scored observation keys, action set."""

    frame_skip: int
    label_keys: tuple[str, ...]
    diagonal: bool = False


TASKS: dict[str, TaskSpec] = {
    "ball_in_cup/catch": TaskSpec(1, ("position",)),
    "cartpole/balance": TaskSpec(1, ("position",)),
    "finger/spin": TaskSpec(1, ("position",)),
    "manipulator/bring_ball": TaskSpec(1, ("arm_pos", "hand_pos", "object_pos"), diagonal=True),
    "pendulum/swingup": TaskSpec(1, ("orientation",)),
    "point_mass/easy": TaskSpec(4, ("position",)),
    "reacher/hard": TaskSpec(1, ("position",)),
}


def cube_actions(n_dims: int) -> np.ndarray:
    """(3^A, A) float32: every combination of {-1, 0, +1}; row i is i written in base 3 with
    digits (0, 1, 2) -> (-1, 0, +1), most significant first (so the middle row is all zeros)."""
    return np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=n_dims)), dtype=np.float32)


def diagonal_actions(n_dims: int) -> np.ndarray:
    """(2A + 1, A) float32: zeros, then +e_1, -e_1, +e_2, -e_2, ... (manipulator's set)."""
    table = np.zeros((2 * n_dims + 1, n_dims), dtype=np.float32)
    for i in range(n_dims):
        table[1 + 2 * i, i] = 1.0
        table[2 + 2 * i, i] = -1.0
    return table


# ---------------------------------------------------------------------------- lazy dm_control
@functools.cache
def _suite() -> Any:
    """Import dm_control.suite with a headless GL backend (EGL, else OSMesa), or explain why not."""
    if importlib.util.find_spec("dm_control") is None:
        raise ImportError(
            "the 'dmc' suite needs dm-control and mujoco: pip install 'glamor-mini[dmc]' "
            "(pins mujoco>=3.17,<4, which dm-control 1.0.50 needs)"
        )
    user = os.environ.get("MUJOCO_GL")
    backends = [user] if user else ["egl", "osmesa"]
    errors = []
    for backend in backends:
        os.environ["MUJOCO_GL"] = backend
        if backend == "egl":  # render on the GPU CUDA_VISIBLE_DEVICES names (envs/egl.py)
            from glamor_mini.envs.egl import pin_egl_device

            pin_egl_device()
        try:
            from dm_control import suite

            suite.load("point_mass", "easy").physics.render(8, 8, camera_id=0)  # probe: GL works
            return suite
        except (ImportError, RuntimeError, AttributeError, OSError) as err:
            errors.append(f"MUJOCO_GL={backend}: {type(err).__name__}: {err}")
            for name in [m for m in sys.modules if m.startswith("dm_control")]:
                del sys.modules[name]  # the backend is chosen at import: import again
    if not user:
        del os.environ["MUJOCO_GL"]
    raise RuntimeError(
        "no headless OpenGL backend works for dm_control rendering; tried "
        + "; ".join(errors)
        + ". EGL needs libegl1 + libegl-mesa0 (CPU) or the NVIDIA driver; OSMesa needs the "
        "Debian/Ubuntu package libosmesa6. Set MUJOCO_GL to choose one explicitly."
    )


def _check_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise ValueError(f"task={name!r} is not accepted; choose one of {sorted(TASKS)}")
    return TASKS[name]


class DmcSuiteEnv:
    """One dm_control task as a SuiteEnv: discrete actions in, a grayscale frame + labels out.

    `reset(seed)` reseeds the task's initial-state sampler (reproducible starts); `reset(None)`
    continues its random stream. `render=False` returns no pixels (labels only); `state()` and
    `frame_of_state()` let goal building render only the states it keeps.
    """

    def __init__(self, task: str, shadows: bool = True, seed: int = 0):
        self.spec = _check_task(task)
        domain, name = task.split("/")
        self._env = _suite().load(domain, name, task_kwargs={"random": seed})
        self.physics = self._env.physics
        self.shadows = shadows
        n_dims = int(self._env.action_spec().shape[0])
        self.table = diagonal_actions(n_dims) if self.spec.diagonal else cube_actions(n_dims)
        self._camera = None
        self.render = True

    # -------------------------------------------------------------- pixels and labels
    def frame(self) -> np.ndarray:
        """(1, 80, 104) uint8 grayscale view of camera 0."""
        if not self.render:
            return np.zeros((1, FRAME_HEIGHT, FRAME_WIDTH), dtype=np.uint8)
        if self._camera is None:
            from dm_control.mujoco import Camera

            self._camera = Camera(self.physics, FRAME_HEIGHT, FRAME_WIDTH, camera_id=0)
        flags = None if self.shadows else {"shadow": False}
        rgb = self._camera.render(render_flag_overrides=flags)
        gray = rgb.astype(np.float32) @ GRAY
        return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[None]

    def _labels(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate(
            [np.asarray(obs[k], dtype=np.float32).ravel() for k in self.spec.label_keys]
        )

    def label_names(self) -> tuple[str, ...]:
        obs = self._env.task.get_observation(self.physics)
        names = []
        for k in self.spec.label_keys:
            names += [f"{k}_{i}" for i in range(np.asarray(obs[k]).size)]
        return tuple(names)

    # -------------------------------------------------------------- SuiteEnv
    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if seed is not None:
            self._env.task._random = np.random.RandomState(seed)
        ts = self._env.reset()
        return self.frame(), self._labels(ts.observation)

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        if not 0 <= int(action) < len(self.table):
            raise ValueError(f"action {action} is not in [0, {len(self.table)})")
        control = self.table[int(action)]
        for _ in range(self.spec.frame_skip):
            ts = self._env.step(control)
            if ts.last():
                break
        return self.frame(), self._labels(ts.observation), bool(ts.last())

    # -------------------------------------------------------------- goal building
    def state(self) -> np.ndarray:
        return self.physics.get_state().copy()

    def frame_of_state(self, state: np.ndarray) -> np.ndarray:
        with self.physics.reset_context():
            self.physics.set_state(state)
        render, self.render = self.render, True
        try:
            return self.frame()
        finally:
            self.render = render

    def close(self) -> None:
        if self._camera is not None:
            self._camera._scene.free()
            self._camera = None
        self._env.close()


class DmcTask(RolloutGoalsMixin):
    """GLAMOR's view of one dm_control task (see the module docstring)."""

    # Each env holds ~90 MB (MuJoCo model + software renderer): an evaluation of 30 goals x 3
    # episodes runs 30 episodes at a time on 30 envs (~2.7 GB, not ~8 GB for 90 at once), kept
    # for the next chunk and the next evaluation (a seeded reset restores the task's RNG, and
    # physics.reset() the simulator: tests/test_eval_envs.py).
    reuse_eval_envs = True
    eval_chunk = 30

    def __init__(
        self,
        task: str = "cartpole/balance",
        horizon: int = 100,
        frame_stack: int = 4,
        shadows: bool = True,
        n_train_goals: int = 1000,
        n_eval_goals: int = 30,
        goal_dir: str | Path | None = "runs/goals",
        seed: int = 0,
        range_rollouts: int = 500,
        eval_goal_rollouts: int = 200,
        train_goal_rollouts: int = 2000,
    ):
        self.spec = _check_task(task)
        self.task = task
        self.name = f"dmc/{task}"
        self.horizon, self.frame_stack, self.shadows = int(horizon), int(frame_stack), shadows
        self.frame_shape = (1, FRAME_HEIGHT, FRAME_WIDTH)
        self.n_train_goals, self.n_eval_goals = int(n_train_goals), int(n_eval_goals)
        self.goal_dir = None if goal_dir in (None, "") else Path(goal_dir)
        self.seed = int(seed)
        self.range_rollouts = int(range_rollouts)
        self.eval_goal_rollouts = int(eval_goal_rollouts)
        self.train_goal_rollouts = int(train_goal_rollouts)
        self.scored = None  # every label counts
        self._label_names: tuple[str, ...] | None = None
        self._n_actions: int | None = None
        self.pixels = True  # False: envs return blank frames (see `without_pixels`)

    # ------------------------------------------------------------------ cheap, lazy metadata
    def _probe(self) -> None:
        env = DmcSuiteEnv(self.task, self.shadows)
        env.render = False
        env.reset(seed=0)
        self._label_names, self._n_actions = env.label_names(), len(env.table)
        env.close()

    @property
    def label_names(self) -> tuple[str, ...]:
        if self._label_names is None:
            self._probe()
        return self._label_names  # type: ignore[return-value]

    @property
    def n_actions(self) -> int:
        if self._n_actions is None:
            self._probe()
        return self._n_actions  # type: ignore[return-value]

    def make_env(self) -> DmcSuiteEnv:
        env = DmcSuiteEnv(self.task, self.shadows)
        env.render = self.pixels
        return env

    def without_pixels(self) -> DmcTask:
        """A copy whose envs skip rendering and return blank frames (goal frames are still real).
        Only for policies that never look at observations, e.g. the uniform-random floor, where
        it removes the CPU bottleneck without changing any result."""
        blind = copy.copy(self)
        blind.pixels = False
        return blind

    def make_vec_env(self, n: int, seed: int = 0):
        """Subprocess workers when n > 1 and the run's CPU share is above 2 cores, else the envs in
        this process. Rendering is CPU-bound, but llvmpipe already spreads each frame over the
        cores, and on a 2-core machine bench/dmc_env.py measured no gain from workers."""
        if use_workers(n):
            return SubprocVecEnv(self.env_factory(), n)
        return SerialVecEnv([self.make_env() for _ in range(n)])

    def env_factory(self) -> functools.partial:
        """A picklable `make_env` for worker processes (as Atari's: a partial of a module-level
        function; keeps `without_pixels`' setting)."""
        return functools.partial(_make_env, self.task, self.shadows, self.pixels)

    # ------------------------------------------------------------------ goals (§4.4)
    def _goal_env(self) -> DmcSuiteEnv:
        env = self.make_env()
        env.render = False  # rollouts record physics states; chosen goals are rendered later
        return env

    @staticmethod
    def _keep(env: DmcSuiteEnv, frame: np.ndarray, reset_seed: int) -> tuple[np.ndarray, int]:
        return env.state(), reset_seed

    def _frames_of(self, payloads: list[tuple[np.ndarray, int]]) -> np.ndarray:
        """Frames of recorded physics states. Each state's episode is reset first: some tasks
        place their target in the model at reset (reacher, manipulator), and it must be in the
        goal picture."""
        env = self.make_env()
        frames = []
        for state, ep_seed in payloads:
            env.render = False
            env.reset(seed=int(ep_seed))
            frames.append(env.frame_of_state(state))
        env.close()
        return np.stack(frames)

    def _goal_stem(self) -> str:
        domain, name = self.task.split("/")
        shade = "" if self.shadows else "-noshadow"
        return f"dmc-{domain}-{name}-h{self.horizon}{shade}"


def _make_env(task: str, shadows: bool, pixels: bool) -> DmcSuiteEnv:
    """A worker's env (module level, so SubprocVecEnv can pickle a partial of it)."""
    env = DmcSuiteEnv(task, shadows)
    env.render = pixels
    return env


def task_from_config(cfg) -> DmcTask:
    return DmcTask(
        cfg.task,
        horizon=cfg.horizon,
        frame_stack=cfg.frame_stack,
        shadows=cfg.shadows,
        n_train_goals=cfg.train_goals,
        n_eval_goals=cfg.n_eval_goals,
        goal_dir=cfg.goal_dir,
        seed=cfg.seed,
        range_rollouts=cfg.range_rollouts,
        eval_goal_rollouts=cfg.eval_goal_rollouts,
        train_goal_rollouts=cfg.train_goal_rollouts,
    )


# Table 1 of the paper: goal achievement at 500k agent steps, mean over 3 seeds.
PAPER_TABLE1: dict[str, tuple[float, float, float]] = {
    # domain/task: (GLAMOR, DISCERN, GCSL)
    "ball_in_cup/catch": (0.20, 0.01, 0.03),
    "cartpole/balance": (0.97, 0.01, 0.09),
    "finger/spin": (0.09, 0.01, 0.03),
    "manipulator/bring_ball": (0.00, 0.00, 0.00),
    "pendulum/swingup": (0.83, 0.20, 0.14),
    "point_mass/easy": (0.76, 0.03, 0.82),
    "reacher/hard": (0.27, 0.08, 0.07),
}

register_options("DM Control", ("task", "shadows"))
register_suite(
    Suite(
        "dmc",
        task_from_config,
        title="DM Control",
        env_field="task",
        env_names=tuple(TASKS),
        paper_envs=tuple(PAPER_TABLE1),
        paper_table1={
            t: dict(zip(("glamor", "discern", "gcsl"), v, strict=True))
            for t, v in PAPER_TABLE1.items()
        },
        table1_scales={
            "paper": ("dmc", {}),
            # CPU-sized runs as measured in this project (docs/results.md: point_mass)
            "cpu": (
                "dmc",
                dict(
                    impala_channels="8,16,16",
                    state_size=256,
                    torch_threads=1,
                    eval_episodes=3,
                    log_every=1000,
                    shadows=False,
                    batch_size=32,
                    replay_ratio=2.0,
                    total_steps=30_000,
                    learning_starts=3_000,
                    eps_steps=10_000,
                    n_envs=4,
                    buffer_size=20_000,
                    eval_every=5_000,
                    checkpoint_every=2_500,
                ),
            ),
            "tiny": ("dmc-debug", {}),
        },
    )
)

__all__ = [
    "TASKS",
    "TaskSpec",
    "DmcSuiteEnv",
    "DmcTask",
    "cube_actions",
    "diagonal_actions",
    "task_from_config",
]
