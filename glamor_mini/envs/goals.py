"""Goal sets and the achievement rule for the pixel suites (paper §4.4; DISCERN's goal buffer).

* Candidate goals are states reached by a uniform-random policy (`random_states`).
* `diverse_goal_buffer` keeps a fixed-size set of them: a candidate replaces a random member only
  if its nearest-neighbour distance (label space, in units of each label's feasible range) is
  larger than that member's (Warde-Farley et al. 2019). Used for the 1000 training goals and the
  30 fixed evaluation goals per environment and seed.
* `feasible_ranges`: max - min of each label over random-policy states; ~0 ranges count as 1.
* `within_tolerance`: a goal is achieved when EVERY scored label is within 10% of its feasible
  range of the goal's label (strict <), judged at t = T or when the agent ends the episode.
* `load_or_build_goals`: evaluation goals are saved once (frames + labels + ranges, .npz written
  atomically) and reused on rerun, so every evaluation of a seed uses the same goals.

A goal's frame and labels always come from the SAME state (the authors' code paired a frame with
the next state's labels; see reference/atari.md).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from glamor_mini.envs.base import GoalSet, Task
from glamor_mini.utils import atomic_write_bytes

TOLERANCE = 0.1


def feasible_ranges(labels: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """(M, L) labels of random-policy states -> (L,) max - min, with ~0 ranges replaced by 1."""
    labels = np.asarray(labels, dtype=np.float64)
    r = labels.max(axis=0) - labels.min(axis=0)
    return np.where(r < eps, 1.0, r).astype(np.float32)


def within_tolerance(
    labels: np.ndarray,
    goal_labels: np.ndarray,
    ranges: np.ndarray,
    scored: np.ndarray | None = None,
    tol: float = TOLERANCE,
) -> np.ndarray:
    """The 10% rule. labels, goal_labels: (B, L); ranges: (L,); scored: indices or bool mask of
    the labels that count (default all). -> (B,) bool."""
    ok = per_label_within(labels, goal_labels, ranges, tol)
    if scored is not None:
        ok = ok[:, scored]
    return ok.all(axis=1)


def per_label_within(
    labels: np.ndarray, goal_labels: np.ndarray, ranges: np.ndarray, tol: float = TOLERANCE
) -> np.ndarray:
    """(B, L) bool: each label within tol * range of the goal's (for per-label rates)."""
    diff = np.abs(np.asarray(labels, np.float64) - np.asarray(goal_labels, np.float64))
    return diff < tol * np.asarray(ranges, np.float64)


def random_states(
    task: Task, n_episodes: int, seed: int = 0, horizon: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every state of `n_episodes` uniform-random episodes of length <= T.

    -> frames (M, c, H, W) uint8, labels (M, L) float32, each row from one state.
    """
    rng = np.random.default_rng(seed)
    T = task.horizon if horizon is None else horizon
    env = task.make_env()
    frames, labels = [], []
    for ep in range(n_episodes):
        f, lab = env.reset(seed=int(seed * 100_003 + ep))
        frames.append(f)
        labels.append(lab)
        for _ in range(T):
            f, lab, ended = env.step(int(rng.integers(task.n_actions)))
            frames.append(f)
            labels.append(lab)
            if ended:
                break
    return np.stack(frames), np.stack(labels).astype(np.float32)


def diverse_goal_buffer(
    labels: np.ndarray, size: int, ranges: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """Indices of `size` diverse rows of `labels` (M, L), chosen in a random candidate order.

    Distances are Euclidean in label units scaled by the feasible ranges.
    """
    labels = np.asarray(labels, dtype=np.float64)
    M = labels.shape[0]
    if M < size:
        raise ValueError(f"need at least {size} candidate states for the goal buffer, got {M}")
    ranges = feasible_ranges(labels) if ranges is None else np.asarray(ranges, np.float64)
    x = labels / ranges
    rng = np.random.default_rng(seed)
    order = rng.permutation(M)
    buf = order[:size].copy()
    pts = x[buf]

    def nn_dist(p: np.ndarray, skip: int) -> float:
        d = np.sqrt(((pts - p) ** 2).sum(axis=1))
        d[skip] = np.inf
        return float(d.min())

    for cand in order[size:]:
        j = int(rng.integers(size))
        if nn_dist(x[cand], j) > nn_dist(pts[j], j):
            buf[j] = cand
            pts[j] = x[cand]
    return buf


def build_goal_set(
    frames: np.ndarray, labels: np.ndarray, size: int, ranges: np.ndarray, seed: int = 0
) -> GoalSet:
    idx = diverse_goal_buffer(labels, size, ranges, seed)
    return GoalSet(frames[idx].copy(), labels[idx].copy())


def save_goals(path: str | Path, goals: GoalSet, ranges: np.ndarray, **meta: str) -> None:
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        frames=goals.frames,
        labels=goals.labels,
        ranges=ranges,
        **{f"meta_{k}": np.array(v) for k, v in meta.items()},
    )
    atomic_write_bytes(path, buf.getvalue())


def load_goals(path: str | Path) -> tuple[GoalSet, np.ndarray]:
    try:
        with np.load(path) as data:
            return GoalSet(data["frames"], data["labels"]), data["ranges"]
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"goal file {path} is unreadable ({err}); delete it to rebuild") from err


def load_or_build_goals(
    path: str | Path | None, build: Callable[[], tuple[GoalSet, np.ndarray]]
) -> tuple[GoalSet, np.ndarray]:
    """Load saved goals (and ranges) from `path`, or build, save and return them."""
    if path is not None and Path(path).exists():
        return load_goals(path)
    goals, ranges = build()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_goals(path, goals, ranges)
    return goals, ranges


def plot_goal_grid(
    goal_frames: np.ndarray,
    final_frames: np.ndarray,
    achieved: np.ndarray,
    path: str | Path,
    max_goals: int = 10,
    title: str | None = None,
) -> None:
    """Paper Fig. 11/12: goal frames (top row) above the agent's final frames (bottom row), a green
    or red border telling whether the goal was achieved. Frames: (G, c, H, W) uint8; c = 1
    (grayscale) or 3 (RGB); only the last frame of a stack is shown."""
    from matplotlib.figure import Figure  # no pyplot: leaves the caller's backend alone

    n = min(max_goals, len(goal_frames))
    fig = Figure(figsize=(1.6 * n, 3.6))
    axes = fig.subplots(2, n, squeeze=False)

    def show(ax, frame):
        img = frame[-3:].transpose(1, 2, 0) if frame.shape[0] % 3 == 0 else frame[-1]
        ax.imshow(img, cmap=None if img.ndim == 3 else "gray", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])

    for i in range(n):
        show(axes[0, i], goal_frames[i])
        show(axes[1, i], final_frames[i])
        color = "tab:green" if achieved[i] else "tab:red"
        for side in axes[1, i].spines.values():
            side.set_edgecolor(color)
            side.set_linewidth(3)
    axes[0, 0].set_ylabel("goal")
    axes[1, 0].set_ylabel("achieved")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    tmp.replace(path)
