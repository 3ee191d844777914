"""What besides the Config decides a run's experiment (rundir.py checks it on resume): the
goal sets it was trained and evaluated on, and a grid layout file's contents."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def goals_sha256(goals: Any) -> str:
    """A digest of a GoalSet's frames and labels (which goals a run was trained/evaluated on)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(goals.frames).tobytes())
    h.update(np.ascontiguousarray(goals.labels, dtype=np.float32).tobytes())
    return h.hexdigest()


def provenance(cfg: Any, train_goals: Any, eval_goals: Any) -> dict[str, str]:
    """What besides the Config decides the experiment: a layout file's contents and the goals."""
    out = {"train_goals": goals_sha256(train_goals), "eval_goals": goals_sha256(eval_goals)}
    if cfg.suite == "gridworld" and Path(cfg.layout).is_file():
        out["layout_file"] = str(Path(cfg.layout).resolve())
        out["layout_sha256"] = file_sha256(cfg.layout)
    return out


__all__ = ["file_sha256", "goals_sha256", "provenance"]
