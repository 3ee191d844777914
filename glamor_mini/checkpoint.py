"""Checkpoint IO: atomic, weights-only files that hold everything a run needs to resume.

    ckpt.pt = {format, config, provenance, agent: {modules, optimizers, extra},
               counters: {agent_steps, updates, episodes, wall_seconds},
               rng: {generators, torch, numpy}, replay: the buffer or None}

Guarantees (tests/test_rundir.py, tests/test_train.py):
  * a checkpoint never executes code: it holds tensors, numbers, strings, lists and dicts and is
    read with ``torch.load(weights_only=True)``; anything else is refused with one clear line;
  * writes are atomic (temp file, fsync, rename);
  * every random stream of the run is saved and restored (Algorithm 1 resumes seeded; episodes in
    flight are not saved, so a resumed run is reproducible but not bit-identical);
  * a file that cannot be used (corrupt, incomplete, another model's weights) stops the run with
    one line naming the file, what is wrong with it and what to do.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

CKPT_FORMAT = "glamor-mini/ckpt/2"
REQUIRED = ("config", "agent", "counters", "rng")
"""Top-level entries every checkpoint (format 2) holds besides `format`."""

MOVE_AWAY = "move it away to start afresh, or choose another --out"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not belong to this run."""


@dataclass
class Counters:
    """How far a run got (Algorithm 1's counters), saved with every checkpoint."""

    agent_steps: int = 0
    updates: int = 0
    episodes: int = 0
    wall_seconds: float = 0.0


def one_line(err: BaseException, limit: int = 600) -> str:
    """An exception's message on one line, whole sentences only: torch's multi-line messages
    ("Error(s) in loading state_dict ...:\\n\\tsize mismatch for w: ... torch.Size([4, 3]) ...")
    keep their details; past `limit` characters the rest is counted, not cut mid-word."""
    parts = [p.strip() for p in str(err).splitlines() if p.strip()]
    text = " ".join(parts) or type(err).__name__
    if len(text) <= limit:
        return text
    # cut at the last sentence or list boundary before the limit
    cut = max(text.rfind(sep, 0, limit) for sep in (". ", "; ", ", "))
    cut = cut if cut > limit // 2 else text.rfind(" ", 0, limit)
    return f"{text[:cut].rstrip(',;. ')} ... ({len(text) - cut} more characters)"


# ---------------------------------------------------------------------------------- files
def save_checkpoint(state: dict, path: str | Path) -> None:
    """Atomic: temp file beside `path`, fsync, rename over it, fsync the directory."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def read_checkpoint(path: str | Path) -> dict:
    """torch.load(weights_only=True) with one-line errors; upgrades format 1 to 2 and checks that
    the entries a resume reads are there."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - every failure means an unusable file
        found = re.search(r"unsupported (global|class)\s+(\S+)", str(err), re.IGNORECASE)
        if found is not None:
            raise CheckpointError(
                f"{path} holds objects other than tensors, numbers, strings, lists and dicts "
                f"({found.group(1).upper()} {found.group(2)}; it may have been crafted to run "
                "code), so it was NOT loaded; move it away to start afresh"
            ) from None
        detail = one_line(err, limit=300)
        if "Weights only load failed" in detail:  # torch's advice to disable the check: no
            detail = "not a readable pickle"
        raise CheckpointError(
            f"cannot load {path}: the file is corrupt or not a checkpoint ({type(err).__name__}: "
            f"{detail}); move it away to start afresh"
        ) from None
    if not isinstance(state, dict) or state.get("format") not in (
        CKPT_FORMAT,
        "glamor-mini/ckpt/1",
    ):
        raise CheckpointError(f"{path} is not a glamor-mini checkpoint; {MOVE_AWAY}")
    if state["format"] == "glamor-mini/ckpt/1":
        state = _upgrade_format_1(state, path)
    missing = [k for k in REQUIRED if k not in state]
    missing += [f"counters.{k}" for k in asdict(Counters()) if k not in state.get("counters", {})]
    if missing:
        raise CheckpointError(
            f"{path} is incomplete: it has no {', '.join(missing)} entry (a checkpoint holds "
            f"{', '.join(REQUIRED)} and counters {', '.join(asdict(Counters()))}); {MOVE_AWAY}"
        )
    return state


def _upgrade_format_1(state: dict, path: Path) -> dict:
    """Format 1 kept one network and one optimiser at the top level."""
    try:
        return {
            **state,
            "format": CKPT_FORMAT,
            "agent": {
                "modules": {"model": state["model"]},
                "optimizers": {"optimizer": state["optimizer"]},
                "extra": {},
            },
            "counters": {k: state[k] for k in asdict(Counters())},
            "provenance": {},
        }
    except KeyError as err:
        raise CheckpointError(
            f"{path} is incomplete: it has no {err.args[0]!r} entry; {MOVE_AWAY}"
        ) from None


# ---------------------------------------------------------------------------------- RNG states
def generator_states(gens: dict[str, torch.Generator]) -> dict[str, dict]:
    """Generator states tagged with their device type (CPU and CUDA states differ in size)."""
    return {k: {"device": g.device.type, "state": g.get_state()} for k, g in gens.items()}


def restore_generators(
    gens: dict[str, torch.Generator], saved: dict, reseed: int, warn=print
) -> None:
    """Load saved states; a state saved on another device type (a run started on a laptop,
    resumed on a GPU box) cannot be loaded, so that generator is re-seeded from `reseed`
    (deterministic, but not the stream the uninterrupted run would have used) with a warning."""
    for i, (name, g) in enumerate(sorted(gens.items())):
        item = saved.get(name)
        if item is None:
            continue
        state = item["state"] if isinstance(item, dict) else item
        device = item.get("device", "cpu") if isinstance(item, dict) else "cpu"
        if device == g.device.type:
            try:
                g.set_state(state)
                continue
            except RuntimeError:
                pass
        g.manual_seed(reseed + 1000 * i)
        warn(
            f"note: generator {name!r} was saved on {device} and this run uses "
            f"{g.device.type}; it was re-seeded (results stay seeded but differ from an "
            "uninterrupted run)"
        )


def capture_rngs(gens: dict[str, torch.Generator], numpy_rngs: dict[str, Any]) -> dict:
    """Every random stream of a run, for its checkpoint: the torch generators (tagged with their
    device), torch's global generator and the numpy generators."""
    return {
        "generators": generator_states(gens),
        "torch": torch.get_rng_state(),
        "numpy": {k: r.bit_generator.state for k, r in numpy_rngs.items()},
    }


def restore_rngs(
    rng: dict, gens: dict[str, torch.Generator], numpy_rngs: dict[str, Any], reseed: int, warn=print
) -> None:
    """The inverse of `capture_rngs` (also reads checkpoint format 1, which kept the generators
    under "torch")."""
    saved = rng.get("generators", rng.get("torch", {}))
    restore_generators(gens, saved, reseed=reseed, warn=warn)
    global_state = rng["torch"]
    if isinstance(global_state, dict):  # format 1
        global_state = global_state["torch"]
    torch.set_rng_state(global_state)
    for name, r in numpy_rngs.items():
        if name in rng["numpy"]:
            r.bit_generator.state = rng["numpy"][name]


# ---------------------------------------------------------------------------------- a run's state
def numpy_rngs(collector: Any, policy: Any) -> dict[str, Any]:
    """The numpy generators of the collector, its policy and the policies that one wraps."""
    rngs = {"collector": collector.rng}
    depth = 0
    while policy is not None:
        if hasattr(policy, "rng"):
            rngs[f"policy{depth}"] = policy.rng
        policy, depth = getattr(policy, "policy", None), depth + 1
    return rngs


def run_state(
    cfg_dict: dict,
    provenance: dict,
    agent: Any,
    replay: Any,
    collector: Any,
    policy: Any,
    counters: Counters,
    save_replay: bool,
) -> dict:
    """What ckpt.pt holds: the module docstring's layout, from the run's parts."""
    gens = {**agent.generators, "replay": replay.generator}
    return {
        "format": CKPT_FORMAT,
        "config": cfg_dict,
        "provenance": provenance,
        "agent": agent.state_dict(),
        "counters": asdict(counters),
        "rng": capture_rngs(gens, numpy_rngs(collector, policy)),
        "replay": replay.state_dict() if save_replay else None,
    }


def restore_run_state(
    state: dict,
    path: str | Path,
    agent: Any,
    replay: Any,
    collector: Any,
    policy: Any,
    seed: int,
    warn=print,
) -> Counters:
    """Load `state` (read by `read_checkpoint` from `path`) into the run's parts; return its
    counters. Generators saved on another device type are re-seeded from seed + agent_steps."""
    try:
        agent.load_state_dict(state["agent"])
    except (KeyError, ValueError, RuntimeError) as err:
        raise CheckpointError(
            f"cannot resume from {path}: {type(err).__name__}: {one_line(err)}. The file is "
            f"from another model; {MOVE_AWAY}"
        ) from None
    try:
        c = state["counters"]
        counters = Counters(
            int(c["agent_steps"]), int(c["updates"]), int(c["episodes"]), float(c["wall_seconds"])
        )
        gens = {**agent.generators, "replay": replay.generator}
        reseed = seed + counters.agent_steps
        restore_rngs(state["rng"], gens, numpy_rngs(collector, policy), reseed, warn=warn)
        if state.get("replay") is not None:
            replay.load_state_dict(state["replay"])
    except KeyError as err:
        raise CheckpointError(
            f"cannot resume from {path}: it is incomplete (no {err.args[0]!r} entry); {MOVE_AWAY}"
        ) from None
    except (ValueError, RuntimeError, TypeError) as err:
        raise CheckpointError(
            f"cannot resume from {path}: {type(err).__name__}: {one_line(err)}; {MOVE_AWAY}"
        ) from None
    collector.episodes = counters.episodes
    return counters


__all__ = [
    "CKPT_FORMAT",
    "CheckpointError",
    "Counters",
    "capture_rngs",
    "generator_states",
    "numpy_rngs",
    "one_line",
    "read_checkpoint",
    "restore_generators",
    "restore_rngs",
    "restore_run_state",
    "run_state",
    "save_checkpoint",
]
