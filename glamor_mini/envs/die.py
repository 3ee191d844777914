"""The loaded die of Appendix A.1: a one-step MDP where GCSL's relabelling goes wrong.

States {1..n} (plus the start state "before the roll"), actions {roll the fair die, roll the
loaded die}. The fair die lands uniformly; the paper's loaded die always lands on 1. Goals are the
faces, uniformly. The optimal policy rolls the loaded die for goal 1 (success 1) and the fair die
otherwise (success 1/n). Here the loaded die is parameterised: `loaded` gives P(1), P(2), ... and
the remaining mass is spread evenly over the other faces (the paper's die: loaded = "1").

The exact quantities p(s = g | a) are `outcome_probs(n_faces, loaded)`, a (2, n) matrix (row 0:
fair, row 1: loaded); glamor_mini.appendix iterates on it the exact learning operators of four
agents (sampling / greedy GCSL, GLAMOR with and without the prior; Eq. 11-12) and finds their fixed
points. A die where dropping the prior fails from uniform: loaded = "0.5" (notebook 05).

GLAMOR sees the die through the Task interface: a frame is a one-hot (1, 1, n + 1) uint8 image of
the state (index 0 = before the roll, index f = face f; 255 on the hot entry), labels are (face,)
with face 0 before the roll, the horizon is T = 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from glamor_mini.envs.base import GoalSet, Task
from glamor_mini.envs.registry import Suite, register_suite
from glamor_mini.options import register_options

FAIR, LOADED = 0, 1
ACTION_NAMES = ("fair", "loaded")


def loaded_probs(n_faces: int, loaded: str | float | Sequence[float] = "1") -> np.ndarray:
    """The loaded die's outcome distribution over faces 1..n, shape (n,).

    `loaded`: P(face 1), P(face 2), ... as a sequence or a comma-separated string ("1", "0.3",
    "0.5,0.5"); the faces not listed share the remaining mass evenly.
    """
    if n_faces < 2:
        raise ValueError(f"die_faces={n_faces} must be >= 2")
    if isinstance(loaded, str):
        try:
            head = [float(x) for x in loaded.split(",") if x.strip()]
        except ValueError:
            raise ValueError(
                f"die_loaded={loaded!r}: expected comma-separated probabilities like '1' or "
                "'0.3' or '0.5,0.25'"
            ) from None
    else:
        head = [float(x) for x in np.atleast_1d(loaded)]
    total = sum(head)
    if not head or len(head) > n_faces or min(head) < 0 or total > 1 + 1e-9:
        raise ValueError(
            f"die_loaded={loaded!r}: give 1..{n_faces} non-negative probabilities summing to <= 1"
        )
    rest = n_faces - len(head)
    if rest == 0 and abs(total - 1) > 1e-6:
        raise ValueError(f"die_loaded={loaded!r}: probabilities of all faces must sum to 1")
    p = np.zeros(n_faces)
    p[: len(head)] = head
    if rest:
        p[len(head) :] = (1.0 - total) / rest
    return p / p.sum()


def outcome_probs(n_faces: int = 6, loaded: str | float | Sequence[float] = "1") -> np.ndarray:
    """p(s = g | a) for a in (fair, loaded) and g in faces 1..n: shape (2, n), rows sum to 1."""
    fair = np.full(n_faces, 1.0 / n_faces)
    return np.stack([fair, loaded_probs(n_faces, loaded)])


class LoadedDieEnv(gym.Env):
    """Roll a fair or a loaded die once; the goal is to land on a given face (Appendix A.1).

    ## Description
    A one-step MDP. The agent starts "before the roll" and picks a die; the die's face is the
    final state. The paper's loaded die always lands on 1 (`loaded="1"`).

    ## Action Space
    Discrete(2): 0 = roll the fair die, 1 = roll the loaded die.

    ## Observation
    Box(0, 255, (1, 1, n_faces + 1), uint8): one-hot of the state, index 0 = before the roll,
    index f = face f (value 255).

    ## Rewards
    1 when the face equals the goal, else 0. The goal is `options={"goal": g}` at reset, or drawn
    uniformly from 1..n_faces. `info` holds "face" (0 before the roll) and "goal".

    ## Termination
    After the single roll (terminated=True). Stepping a finished episode raises an error.
    """

    metadata = {"render_modes": []}

    def __init__(self, n_faces: int = 6, loaded: str | float | Sequence[float] = "1"):
        self.n_faces = int(n_faces)
        self.p = outcome_probs(self.n_faces, loaded)  # (2, n)
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(0, 255, (1, 1, self.n_faces + 1), np.uint8)
        self.face = 0
        self.goal = 1
        self._done = True

    def frame(self, face: int) -> np.ndarray:
        """The one-hot observation of a state (0 = before the roll)."""
        out = np.zeros((1, 1, self.n_faces + 1), dtype=np.uint8)
        out[0, 0, face] = 255
        return out

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        goal = (options or {}).get("goal")
        if goal is None:
            goal = int(self.np_random.integers(1, self.n_faces + 1))
        if not 1 <= int(goal) <= self.n_faces:
            raise ValueError(f"goal={goal} is not a face; accepted: 1..{self.n_faces}")
        self.goal, self.face, self._done = int(goal), 0, False
        return self.frame(0), {"face": 0, "goal": self.goal}

    def step(self, action):
        if self._done:
            raise RuntimeError("the die was already rolled: call reset() first")
        if int(action) not in (FAIR, LOADED) or int(action) != action:
            raise ValueError(f"action={action!r} is not accepted; choose 0 (fair) or 1 (loaded)")
        self.face = int(self.np_random.choice(self.n_faces, p=self.p[int(action)])) + 1
        self._done = True
        reward = float(self.face == self.goal)
        return self.frame(self.face), reward, True, False, {"face": self.face, "goal": self.goal}


class DieSuiteEnv:
    """A LoadedDieEnv seen through the SuiteEnv interface (labels = (face,))."""

    def __init__(self, n_faces: int, loaded: str | float | Sequence[float]):
        self.env = LoadedDieEnv(n_faces, loaded)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        frame, info = self.env.reset(seed=seed, options={"goal": 1})  # the goal lives in GLAMOR
        return frame, np.array([info["face"]], dtype=np.float32)

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool]:
        frame, _, term, trunc, info = self.env.step(int(action))
        return frame, np.array([info["face"]], dtype=np.float32), bool(term or trunc)


class DieTask(Task):
    """GLAMOR's view of the die: T = 1, goals = the faces 1..n (uniform), achieved = same face."""

    label_names = ("face",)
    frame_stack = 1
    n_actions = 2
    horizon = 1

    def __init__(self, n_faces: int = 6, loaded: str | float | Sequence[float] = "1"):
        self.n_faces = int(n_faces)
        self.loaded = loaded
        self.p_outcome = outcome_probs(self.n_faces, loaded)  # p(s = g | a), (2, n)
        self.goal_probs = np.full(self.n_faces, 1.0 / self.n_faces)
        self.frame_shape = (1, 1, self.n_faces + 1)
        self.name = f"die/{self.n_faces}"
        self._proto = LoadedDieEnv(self.n_faces, loaded)

    def make_env(self) -> DieSuiteEnv:
        return DieSuiteEnv(self.n_faces, self.loaded)

    def start_frame(self) -> np.ndarray:
        """The observation before the roll, (1, 1, n + 1) uint8."""
        return self._proto.frame(0)

    def goals(self) -> GoalSet:
        faces = np.arange(1, self.n_faces + 1)
        frames = np.stack([self._proto.frame(f) for f in faces])
        return GoalSet(frames, faces[:, None].astype(np.float32))

    def train_goals(self, seed: int = 0) -> GoalSet:
        return self.goals()

    def eval_goals(self, seed: int = 0) -> GoalSet:
        return self.goals()

    def achieved(self, labels: np.ndarray, goal_labels: np.ndarray) -> np.ndarray:
        return np.all(np.asarray(labels) == np.asarray(goal_labels), axis=-1)

    def optimal_steps(self, start_labels: np.ndarray, goal_labels: np.ndarray) -> None:
        return None  # every goal takes exactly one roll; success is a probability, not a path

    def optimal_success(self) -> np.ndarray:
        """max_a p(s = g | a) per goal face, (n,)."""
        return self.p_outcome.max(axis=0)


def task_from_config(cfg) -> DieTask:
    if cfg.horizon != 1:
        raise ValueError(
            f"horizon={cfg.horizon}: the die is a one-step MDP; use horizon=1 (preset 'die')"
        )
    return DieTask(cfg.die_faces, cfg.die_loaded)


register_options("loaded die", ("die_faces", "die_loaded"))
register_suite(Suite("die", task_from_config, title="loaded die"))

__all__ = [
    "ACTION_NAMES",
    "FAIR",
    "LOADED",
    "DieTask",
    "LoadedDieEnv",
    "loaded_probs",
    "outcome_probs",
    "task_from_config",
]
