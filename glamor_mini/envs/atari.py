"""The paper's Atari benchmark (§4.1, §4.4) as a GLAMOR task: ale-py with RAM labels.

Description
    One of 14 Atari 2600 games (``GAMES``) emulated by ale-py (ROMs ship with it), loaded through
    Gymnasium (``gymnasium.make("ALE/<Game>-v5")``) and stepped through its ALE interface so that
    the raw frames of each frame skip can be max-pooled. Goals are single frames of states reached
    by a uniform-random policy; whether a goal was reached is judged from RAM bytes (entity
    positions, ``atari_labels.py``) with the 10% feasible-range rule on the *scored* labels.

Action Space
    The game's minimal action set (``Discrete(n)``, n = 3..18).

Observation
    One frame per step: (1, 104, 80) uint8 grayscale, the pixel-wise max of the last two raw
    frames of the frame skip, down-scaled from 210x160 by a 2x2 area average (cv2 INTER_AREA)
    after dropping the screen's first and last row (blank borders): 208 -> 104 rows is then an
    exact halving, ~20x faster than INTER_AREA's general 210 -> 104 path (10 us vs 230 us).
    The agent's observation is the 4 most recent frames (``frame_stack``, stacked by the
    collector/evaluator); a goal is ONE frame.

Dynamics (paper §4.1; docs/atari.md)
    * frame skip 4: each agent action is repeated for 4 raw frames;
    * sticky actions: ALE repeats the previous raw action with probability 0.25 (every raw frame);
    * reset: a new game, then a random number of raw no-op frames, uniform in 0..30 (MsPacman:
      200..230, because its start screen is static for ~200 frames);
    * every ``reset`` starts a NEW GAME (our choice; the paper does not say). A trajectory that
      ended on a life loss is therefore never continued: training trajectories, goal rollouts and
      evaluation episodes all start from the same distribution of start states.

Termination
    ``step`` returns ended=True when a life is lost or the game is over (the authors ended a
    trajectory on life loss). The horizon T (50) is enforced by the collector/evaluator.

Labels
    ``label_names``: the scored labels first (``n_scored`` of them), then the other RAM fields.
    Goals and ranges follow the authors' protocol (glamor_mini.envs.goals): ranges from the final
    states of 500 random rollouts of random length 1..T; goals are final states of full-length
    random rollouts (1000 training goals from 2000 rollouts, 30 evaluation goals from 200),
    diverse in the scored labels. Each rollout keeps only its final frame (8 KB) and labels: a
    frame costs ~10 us next to ~0.5 ms of emulation per step, so storing it is cheaper and exact,
    where ALE's cloneState would need the last two raw screens replayed. Both sets are saved
    with their ranges, one file per game, seed and kind (``Config.goal_dir``).

Vectorised collection
    ``make_vec_env`` returns a ``SubprocVecEnv`` (worker processes stepped in parallel, one per
    core of the run's CPU share but one: ``vec.env_workers``) when the share is above 2 cores,
    else a ``SerialVecEnv``: an agent step costs ~0.5 ms of
    emulation, so on 2 cores processes would only add pickling. ale-py's threaded
    ``AtariVectorEnv`` cannot be used: it returns pixels only (no RAM, so no labels to judge goals
    by), offers ``noop_max`` but no minimum number of no-ops (MsPacman), and stacks frames itself.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from glamor_mini.envs.atari_labels import ATARI_LABELS, GAMES
from glamor_mini.envs.goals import RolloutGoalsMixin
from glamor_mini.envs.registry import Suite, register_suite
from glamor_mini.envs.vec import SerialVecEnv, SubprocVecEnv, use_workers
from glamor_mini.options import register_options

FRAME_SHAPE = (1, 104, 80)
FRAME_SKIP = 4
STICKY = 0.25
NOOP_MAX = 30
MIN_NOOPS = {"MsPacman": 200}


def _require_ale():
    """Import the optional Atari dependencies, or say which extra installs them."""
    try:
        import ale_py
        import cv2
        import gymnasium as gym
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"the Atari suite needs ale-py and opencv ({err.name} is missing); install the "
            "extra with: pip install 'glamor-mini[atari]'"
        ) from err
    gym.register_envs(ale_py)
    return gym, cv2


def check_game(game: str) -> str:
    if game not in ATARI_LABELS:
        raise ValueError(f"unknown Atari game {game!r}; supported: {', '.join(GAMES)}")
    return game


class AtariSuiteEnv:
    """One ALE game with the paper's preprocessing, seen through the SuiteEnv interface.

    reset(seed) -> frame (1, 104, 80) uint8, labels (L,) float32
    step(action) -> frame, labels, ended (life lost or game over)
    """

    def __init__(
        self,
        game: str,
        sticky: float = STICKY,
        frame_skip: int = FRAME_SKIP,
        noop_max: int = NOOP_MAX,
        min_noops: int | None = None,
        seed: int = 0,
    ):
        gym, self._cv2 = _require_ale()
        self.game = check_game(game)
        self._env = gym.make(
            f"ALE/{game}-v5",
            obs_type="grayscale",
            frameskip=1,
            repeat_action_probability=sticky,
            full_action_space=False,
        ).unwrapped
        self.ale = self._env.ale
        self.action_set = list(self._env._action_set)
        self.n_actions = len(self.action_set)
        if frame_skip < 2:
            raise ValueError(f"frame_skip={frame_skip}: must be >= 2 (the last two are pooled)")
        self.frame_skip = frame_skip
        self.min_noops = MIN_NOOPS.get(game, 0) if min_noops is None else min_noops
        self.noop_max = noop_max
        spec = ATARI_LABELS[game]
        self.label_names = spec.names
        self._ram_index = np.array(spec.ram_index, dtype=np.intp)
        self._screens = np.zeros((2, 210, 160), dtype=np.uint8)  # the last two raw frames
        self._pooled = np.zeros((208, 160), dtype=np.uint8)
        self._area = self._cv2.INTER_AREA
        self._ram = np.zeros(128, dtype=np.uint8)
        self._noop = self.action_set[0]  # NOOP is always first in ALE's minimal action sets
        self.rng = np.random.default_rng(seed)
        self._lives = 0
        self._seeded = False

    # ------------------------------------------------------------------ observation
    def _raw_frame(self, slot: int) -> None:
        self.ale.getScreenGrayscale(self._screens[slot])

    def _observe(self) -> tuple[np.ndarray, np.ndarray]:
        # rows 1..208 only (see Observation above); np.maximum into a preallocated buffer
        pooled = np.maximum(self._screens[0, 1:209], self._screens[1, 1:209], out=self._pooled)
        frame = self._cv2.resize(pooled, (80, 104), interpolation=self._area)
        self.ale.getRAM(self._ram)
        return frame[None], self._ram[self._ram_index].astype(np.float32)

    # ------------------------------------------------------------------ SuiteEnv
    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A new game, then min_noops + U{0..noop_max} raw no-op frames.

        A seeded reset re-seeds ALE (sticky actions) and reloads the ROM (~0.15-0.3 s), so an
        env replays a fresh env's episode whatever it played before. Restoring an ALE snapshot
        taken after the reload (`cloneState(include_rng=True)`, ~0.5 ms) does not: on Qbert a
        restored game's frames differ from the first step and its RAM from step ~35, depending
        on what the env played before, and Pong runs evaluated on restored games moved by one or
        two episodes of 90 when evaluated again on reloaded ones (tests/test_eval_envs.py)."""
        if seed is not None or not self._seeded:
            s = 0 if seed is None else int(seed)
            self._env.reset(seed=s)
            self.rng = np.random.default_rng(s)
            self._seeded = True
        else:
            self.ale.reset_game()
        n = self.min_noops + int(self.rng.integers(self.noop_max + 1))
        self._raw_frame(0)
        self._screens[1] = self._screens[0]
        for i in range(n):
            self.ale.act(self._noop)
            if self.ale.game_over():  # cannot happen in practice; be safe
                self.ale.reset_game()
            if i >= n - 2:
                self._raw_frame(i - (n - 2))
        self._lives = self.ale.lives()
        return self._observe()

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        # the hot path (bench/atari_env.py): plain locals, no per-step allocation but the frame
        act, a, screens = self.ale.act, self.action_set[action], self._screens
        for _ in range(self.frame_skip - 2):
            act(a)  # as in Gymnasium's AtariEnv, a game over does not cut the skip short
        act(a)
        self.ale.getScreenGrayscale(screens[0])
        act(a)
        self.ale.getScreenGrayscale(screens[1])
        lives = self.ale.lives()
        ended = lives < self._lives or self.ale.game_over()
        self._lives = lives
        frame, labels = self._observe()
        return frame, labels, ended

    def close(self) -> None:
        self._env.close()


class AtariTask(RolloutGoalsMixin):
    """GLAMOR's view of one Atari game (the Task protocol of envs/base.py).

    Goal sets, ranges and the 10% rule come from `RolloutGoalsMixin` (envs/goals.py): built
    lazily on first use, saved to ``goal_dir`` with their feasible ranges and reused on rerun.
    ``achieved`` judges by the ranges it is given (a goal set's own), else by ``self.seed``'s.
    """

    frame_shape = FRAME_SHAPE
    reseed_rollouts = False
    """Goal rollouts seed only their first reset: a seeded reset reloads the ROM (~0.5 s, vs
    ~30 ms for an unseeded one, measured on a shared 2-core CPU)."""
    reuse_eval_envs = True
    """Every evaluation reuses its envs (building one loads the ROM); each episode begins with a
    seeded reset, which reloads the ROM with that seed, so nothing carries over."""

    def __init__(
        self,
        game: str = "Pong",
        horizon: int = 50,
        frame_stack: int = 4,
        seed: int = 0,
        n_train_goals: int = 1000,
        n_eval_goals: int = 30,
        goal_dir: str | Path | None = "runs/goals",
        sticky: float = STICKY,
        range_rollouts: int = 500,
        eval_goal_rollouts: int = 200,
        train_goal_rollouts: int = 2000,
    ):
        _require_ale()
        self.game = check_game(game)
        self.name = f"atari/{game}"
        self.horizon = int(horizon)
        self.frame_stack = int(frame_stack)
        self.seed = int(seed)
        self.n_train_goals, self.n_eval_goals = int(n_train_goals), int(n_eval_goals)
        self.goal_dir = Path(goal_dir) if goal_dir else None
        self.sticky = sticky
        self.range_rollouts = int(range_rollouts)
        self.eval_goal_rollouts = int(eval_goal_rollouts)
        self.train_goal_rollouts = int(train_goal_rollouts)
        spec = ATARI_LABELS[game]
        self.label_names = spec.names
        self.n_scored = spec.n_scored
        self.scored = np.arange(self.n_scored)
        probe = AtariSuiteEnv(game, sticky=sticky)
        self.n_actions = probe.n_actions
        probe.close()

    # ------------------------------------------------------------------ envs
    def make_env(self) -> AtariSuiteEnv:
        return AtariSuiteEnv(self.game, sticky=self.sticky)

    def make_vec_env(self, n: int, seed: int = 0) -> SerialVecEnv | SubprocVecEnv:
        """n envs: in subprocesses when the run's CPU share is above 2 cores, else in this process
        (see the module docstring for why not AtariVectorEnv). The collector seeds each slot's
        first reset; `seed` only seeds the no-op generators."""
        makers = [
            functools.partial(AtariSuiteEnv, self.game, sticky=self.sticky, seed=seed * 1000 + i)
            for i in range(n)
        ]
        if use_workers(n):
            return SubprocVecEnv(makers, n)
        return SerialVecEnv([make() for make in makers])

    # ------------------------------------------------------------------ goals (§4.4)
    def _goal_env(self) -> AtariSuiteEnv:
        return self.make_env()

    @staticmethod
    def _keep(env: AtariSuiteEnv, frame: np.ndarray, reset_seed: int | None) -> np.ndarray:
        return frame.copy()  # (1, 104, 80): the final frame itself (see Labels above)

    @staticmethod
    def _frames_of(payloads: list[np.ndarray]) -> np.ndarray:
        return np.stack(payloads)

    def _goal_stem(self) -> str:
        sticky = "" if self.sticky == STICKY else f"-sticky{self.sticky:g}"
        return f"atari-{self.game}-h{self.horizon}{sticky}"

    # ------------------------------------------------------------------ pictures
    episode_gif = True

    def save_goal_gif(
        self, goal_frame: np.ndarray, frames: np.ndarray, path: str | Path, achieved=None
    ) -> None:
        """One episode as a GIF, the goal beside the agent's view (run dirs' episode.gif)."""
        save_goal_gif(goal_frame, frames, path, achieved=achieved)


def save_goal_gif(
    goal_frame: np.ndarray,
    frames: np.ndarray,
    path: str | Path,
    achieved: bool | None = None,
    scale: int = 3,
    fps: int = 10,
) -> None:
    """Animated GIF: the goal (left) beside each frame the agent saw (right).

    goal_frame: (1, H, W) uint8; frames: (n, 1, H, W) uint8. The last frame gets a green (goal
    achieved) or red (missed) border when `achieved` is given. Written atomically.
    """
    from PIL import Image

    goal = goal_frame[-1]
    h, w = goal.shape
    gap = np.full((h, 4), 255, np.uint8)
    images = []
    for i, f in enumerate(frames):
        rgb = np.repeat(np.concatenate([goal, gap, f[-1]], axis=1)[..., None], 3, axis=2)
        if achieved is not None and i == len(frames) - 1:
            color = (0, 200, 0) if achieved else (220, 0, 0)
            x0 = w + 4
            rgb[:2, x0:], rgb[-2:, x0:] = color, color
            rgb[:, x0 : x0 + 2], rgb[:, -2:] = color, color
        img = Image.fromarray(rgb).resize((rgb.shape[1] * scale, h * scale), Image.NEAREST)
        images.append(img)
    durations = [1000 // fps] * (len(images) - 1) + [1500]  # hold the final frame
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    images[0].save(
        tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0
    )
    tmp.replace(path)


def task_from_config(cfg) -> AtariTask:
    return AtariTask(
        cfg.game,
        horizon=cfg.horizon,
        frame_stack=cfg.frame_stack,
        seed=cfg.seed,
        n_train_goals=cfg.train_goals,
        n_eval_goals=cfg.n_eval_goals,
        goal_dir=cfg.goal_dir or None,
        range_rollouts=cfg.range_rollouts,
        eval_goal_rollouts=cfg.eval_goal_rollouts,
        train_goal_rollouts=cfg.train_goal_rollouts,
    )


# Table 1 of the paper: goal achievement at 500k agent steps, mean over 3 seeds.
PAPER_TABLE1: dict[str, tuple[float, float, float]] = {
    # game: (GLAMOR, DISCERN, GCSL)
    "Bowling": (0.14, 0.11, 0.21),
    "Boxing": (0.06, 0.01, 0.01),
    "Breakout": (0.12, 0.02, 0.04),
    "Frostbite": (0.35, 0.04, 0.20),
    "MontezumaRevenge": (0.13, 0.03, 0.30),
    "MsPacman": (0.28, 0.04, 0.30),
    "Pitfall": (0.40, 0.07, 0.26),
    "Pong": (0.44, 0.21, 0.28),
    "PrivateEye": (0.26, 0.04, 0.16),
    "Qbert": (0.83, 0.26, 0.56),
    "Riverraid": (0.80, 0.27, 0.79),
    "Seaquest": (0.57, 0.04, 0.48),
    "Skiing": (0.30, 0.02, 0.38),
    "Tennis": (0.10, 0.00, 0.05),
}

register_options("Atari", ("game",))
register_suite(
    Suite(
        "atari",
        task_from_config,
        title="Atari",
        env_field="game",
        env_names=GAMES,
        paper_envs=tuple(PAPER_TABLE1),
        paper_table1={
            g: dict(zip(("glamor", "discern", "gcsl"), v, strict=True))
            for g, v in PAPER_TABLE1.items()
        },
        table1_scales={
            "paper": ("atari", {}),
            # CPU-sized runs as measured in this project (docs/results.md: Riverraid)
            "cpu": (
                "atari",
                dict(
                    impala_channels="8,16,16",
                    state_size=256,
                    torch_threads=1,
                    eval_episodes=3,
                    log_every=1000,
                    batch_size=64,
                    total_steps=60_000,
                    learning_starts=4_000,
                    eps_steps=12_000,
                    buffer_size=30_000,
                    eval_every=10_000,
                    checkpoint_every=4_000,
                ),
            ),
            "tiny": ("atari-debug", {}),
        },
    )
)

__all__ = ["AtariSuiteEnv", "AtariTask", "GAMES", "save_goal_gif", "task_from_config"]
