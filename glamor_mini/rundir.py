"""The run directory: one experiment, resumable, safe to share.

    RUN/config.json     the resolved Config (what `python -m glamor_mini.run` used)
    RUN/ckpt.pt         the latest checkpoint: config, provenance, the agent's state_dict, counters,
                        RNG states and (save_replay) the replay buffer
    RUN/progress.csv    one row per log interval and evaluation (the x-axis is agent_steps)
    RUN/events.*        the same rows for TensorBoard (charts/, losses/, eval/)
    RUN/eval.json       the final evaluation (its presence marks the run finished)
    RUN/eval.png        per-goal outcomes (grid) or goal frames above final frames (pixels)
    RUN/episode.gif     Atari: one evaluation episode, goal beside the agent's view

Guarantees (each tested in tests/test_rundir.py):
  * a checkpoint never executes code: it holds tensors, numbers, strings, lists and dicts and is
    read with ``torch.load(weights_only=True)``; anything else is refused with one clear line;
  * a directory holds ONE experiment: config.json, the checkpoint's own config and a provenance
    record (the layout file's contents, the goal sets) must agree with the run being started;
    only `RESUMABLE_FIELDS` may change; any mismatch is one error naming the differing fields;
  * writes are atomic (temp file, fsync, rename); temp files left by a killed write are removed at
    start; progress rows never repeat or go backwards after a resume.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from glamor_mini.utils import atomic_write_text

CKPT_FORMAT = "glamor-mini/ckpt/2"

RESUMABLE_FIELDS = {
    "total_steps",
    "eval_every",
    "log_every",
    "checkpoint_every",
    "progress",
    "device",
    "eval_episodes",
    "save_replay",
    "torch_threads",
    "amp",
}
"""Config fields that may differ between a run and its resumption (they do not change the
experiment's data or model)."""

CSV_COLUMNS = [
    "agent_steps",
    "updates",
    "episodes",
    "wall_seconds",
    "steps_per_second",
    "eps",
    "loss",
    "inverse_nll",
    "prior_nll",
    "q_loss",
    "reward_loss",
    "q_mean",
    "xi_accuracy",
    "reward_commanded",
    "reward_decoy",
    "train_goal_visited",
    "eval_goal_achievement",
    "eval_optimal_path_rate",
    "eval_mean_extra_steps",
    "eval_beyond_start",
]
"""progress.csv's columns. A run resumed from an older version gets its file rewritten with these
(missing columns left empty)."""

TB_GROUPS = {
    "loss": "losses",
    "inverse_nll": "losses",
    "prior_nll": "losses",
    "q_loss": "losses",
    "reward_loss": "losses",
    "q_mean": "charts",
    "xi_accuracy": "charts",
    "reward_commanded": "charts",
    "reward_decoy": "charts",
    "eps": "charts",
    "steps_per_second": "charts",
    "train_goal_visited": "charts",
    "updates": "charts",
    "episodes": "charts",
}


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not belong to this run."""


class RunDirError(ValueError):
    """A run directory that cannot be used for this run (wrong place, another experiment)."""


# ---------------------------------------------------------------------------------- provenance
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


def config_diff(
    old: dict,
    new: dict,
    resumable: set[str] = RESUMABLE_FIELDS,
    defaults: dict | None = None,
) -> list[str]:
    """'field: old -> new' for every field that differs and may not change on resume. A field
    the old config does not have (written by an older version) counts as its default."""
    defaults = defaults or {}
    keys = sorted((set(old) | set(new)) - resumable)
    out = []
    for k in keys:
        before = old.get(k, defaults.get(k))
        if before != new.get(k):
            out.append(f"{k}: {before!r} -> {new.get(k)!r}")
    return out


# ---------------------------------------------------------------------------------- the directory
def run_finished(run_dir: str | Path, total_steps: int | None = None) -> bool:
    """Whether train() finished the run in `run_dir`: its eval.json exists and, when
    `total_steps` is given, was written at >= total_steps agent steps (so a larger total_steps
    trains a finished run on). The one test the sweeps and the Table 1 harness share."""
    try:
        ev = json.loads((Path(run_dir) / "eval.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    return total_steps is None or int(ev.get("agent_steps", 0)) >= int(total_steps)


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.ckpt = self.path / "ckpt.pt"
        self.config_json = self.path / "config.json"
        self.progress_csv = self.path / "progress.csv"
        self.eval_json = self.path / "eval.json"
        self._writer = None
        self._last_step: int | None = None  # last step in progress.csv, once read

    # ------------------------------------------------------------------ before anything is written
    def check_usable(self) -> None:
        """Clear errors for a run directory that cannot be one (a file, under a file, read-only)."""
        d = self.path
        for parent in [d, *d.parents]:
            if parent.exists() and not parent.is_dir():
                what = "is a file" if parent == d else f"is under {parent}, which is a file"
                raise RunDirError(f"--out {d} {what}; choose a directory path")
            if parent.exists():
                if not os.access(parent, os.W_OK | os.X_OK):
                    raise RunDirError(f"--out {d}: {parent} is not writable; choose another --out")
                break

    def remove_stale_temp_files(self) -> list[Path]:
        """Temp files of writes that a kill interrupted (`.ckpt.pt.*.tmp`, ...)."""
        if not self.path.is_dir():
            return []
        stale = [p for p in self.path.glob(".*.tmp") if p.is_file()]
        stale += [p for p in self.path.glob(".*.tmp.png") if p.is_file()]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    def load_checkpoint(self) -> dict | None:
        """The checkpoint's contents (weights-only), or None when there is none."""
        if not self.ckpt.exists():
            return None
        return read_checkpoint(self.ckpt)

    def check_same_experiment(
        self, cfg_dict: dict, prov: dict, state: dict | None, defaults: dict | None = None
    ) -> None:
        """Raise RunDirError unless config.json, the checkpoint's config and provenance match.
        `defaults`: the Config defaults, for fields an older version did not write."""
        problems: list[str] = []
        if self.config_json.exists():
            try:
                old = json.loads(self.config_json.read_text())
            except json.JSONDecodeError as err:
                raise RunDirError(
                    f"{self.config_json} is not valid JSON ({err}); choose another --out or "
                    "repair it"
                ) from err
            problems += config_diff(old, cfg_dict, defaults=defaults)
        if state is not None:
            problems += [
                f"{p} (in ckpt.pt)"
                for p in config_diff(state.get("config", {}), cfg_dict, defaults=defaults)
                if p not in problems
            ]
            old_prov = state.get("provenance", {})
            for k in sorted(set(old_prov) & set(prov)):
                if old_prov[k] != prov[k]:
                    what = {
                        "layout_sha256": "the layout file's contents changed",
                        "layout_file": "the layout file is another file",
                        "train_goals": "the training goal set differs",
                        "eval_goals": "the evaluation goal set differs",
                    }.get(k, k)
                    problems.append(f"{k}: {what}")
        if problems:
            raise RunDirError(
                f"{self.path} holds another experiment ({'; '.join(problems)}). Resume it with "
                f"the same settings (only {', '.join(sorted(RESUMABLE_FIELDS))} may change) or "
                "choose another --out"
            )

    def finished_eval(self, state: dict | None, total_steps: int) -> dict | None:
        """eval.json's contents when the run is finished (evaluated at >= total_steps)."""
        if state is None or not self.eval_json.is_file():
            return None
        if int(state["counters"]["agent_steps"]) < total_steps:
            return None
        try:
            return json.loads(self.eval_json.read_text())
        except json.JSONDecodeError:
            return None

    # ------------------------------------------------------------------ writing
    def start(self, cfg_dict: dict, agent_steps: int) -> None:
        """Create the directory, write config.json, drop progress rows after `agent_steps`."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config_json, json.dumps(cfg_dict, indent=2) + "\n")
        self._truncate_progress(agent_steps)
        self._last_step = None
        self._purge_step = agent_steps + 1 if agent_steps > 0 else 0

    def _truncate_progress(self, agent_steps: int) -> None:
        """Keep only rows at or before the step we resume from (none on a fresh start), so rows
        never repeat or go backwards; bring an older header up to CSV_COLUMNS."""
        path = self.progress_csv
        if not path.exists():
            return
        with path.open() as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = list(reader.fieldnames or [])
        keep = [r for r in rows if 0 < int(float(r["agent_steps"])) <= agent_steps]
        if len(keep) != len(rows) or header != CSV_COLUMNS:
            lines = [",".join(CSV_COLUMNS)] + [
                ",".join(r.get(c) or "" for c in CSV_COLUMNS) for r in keep
            ]
            atomic_write_text(path, "\n".join(lines) + "\n")

    def last_logged_step(self) -> int:
        """The last step in progress.csv (read once, then tracked as rows are written)."""
        if self._last_step is None:
            self._last_step = -1
            if self.progress_csv.exists():
                with self.progress_csv.open() as fh:
                    rows = list(csv.DictReader(fh))
                if rows:
                    self._last_step = int(float(rows[-1]["agent_steps"]))
        return self._last_step

    def log_row(self, row: dict[str, Any]) -> None:
        """Append a row to progress.csv and TensorBoard (a row at an already-logged step is
        merged into TensorBoard only: the CSV keeps one row per step)."""
        new = not self.progress_csv.exists()
        step = int(row["agent_steps"])
        if new or step > self.last_logged_step():
            with self.progress_csv.open("a", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
                if new:
                    w.writeheader()
                w.writerow(row)
                fh.flush()
            self._last_step = step
        tb = self._tb()
        for k, v in row.items():
            if k.startswith("eval_"):
                tb.add_scalar(f"eval/{k[5:]}", v, step)
            elif k in TB_GROUPS:
                tb.add_scalar(f"{TB_GROUPS[k]}/{k}", v, step)
        tb.flush()

    def _tb(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step hides events a killed session logged after the step we resume from
            purge = getattr(self, "_purge_step", None)
            self._writer = SummaryWriter(str(self.path), purge_step=purge)
        return self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def save_checkpoint(self, state: dict) -> None:
        """Atomic: temp file in the run dir, fsync, rename over ckpt.pt."""
        save_checkpoint(state, self.ckpt)

    def write_eval(self, summary: dict) -> None:
        atomic_write_text(self.eval_json, json.dumps(summary, indent=2) + "\n")


# ---------------------------------------------------------------------------------- checkpoints
def save_checkpoint(state: dict, path: str | Path) -> None:
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
    """torch.load(weights_only=True) with one-line errors; upgrades format 1 to 2."""
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
        first = (str(err).splitlines() or [""])[0][:200]
        if "Weights only load failed" in first:  # torch's advice to disable the check: no
            first = "not a readable pickle"
        raise CheckpointError(
            f"cannot load {path}: the file is corrupt or not a checkpoint ({type(err).__name__}: "
            f"{first}); move it away to start afresh"
        ) from None
    if not isinstance(state, dict) or state.get("format") not in (
        CKPT_FORMAT,
        "glamor-mini/ckpt/1",
    ):
        raise CheckpointError(f"{path} is not a glamor-mini checkpoint")
    if state["format"] == "glamor-mini/ckpt/1":  # one network + one optimiser at the top level
        state = {
            **state,
            "format": CKPT_FORMAT,
            "agent": {
                "modules": {"model": state["model"]},
                "optimizers": {"optimizer": state["optimizer"]},
                "extra": {},
            },
            "counters": {
                k: state[k] for k in ("agent_steps", "updates", "episodes", "wall_seconds")
            },
            "provenance": {},
        }
    return state


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


class sigterm_as_interrupt:
    """Within the block, SIGTERM (what clusters and Ray send on preemption) raises
    KeyboardInterrupt, so it writes a checkpoint like Ctrl-C. Main thread only."""

    def __enter__(self):
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)
        return False


# ---------------------------------------------------------------------------------- console
class ConsoleLog:
    """What a person reads: a tqdm bar on a terminal, plain lines otherwise (pipes, Ray
    workers, CI logs), one per log interval and one per evaluation."""

    def __init__(self, name: str, total: int, initial: int, enabled: bool, stream=None):
        from tqdm import tqdm

        self.stream = stream if stream is not None else sys.stdout
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.name, self.total = name, total
        self.bar = tqdm(
            total=total,
            initial=min(initial, total),
            disable=not self.tty,
            mininterval=1.0,
            desc=name,
            unit="step",
            dynamic_ncols=True,
            file=self.stream,
        )
        self.t0 = time.perf_counter()
        self.last_step = -1

    def advance(self, n: int) -> None:
        self.bar.update(n)

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def row(self, row: dict[str, Any]) -> None:
        keys = ("loss", "eval_goal_achievement")
        if self.tty:
            self.bar.set_postfix({k: row[k] for k in keys if k in row})
        parts = [f"{self.name} step {row['agent_steps']}/{self.total}"]
        for k, fmt in (
            ("eps", "eps {:.2f}"),
            ("loss", "loss {:.4g}"),
            ("q_loss", "q_loss {:.4g}"),
            ("train_goal_visited", "visited {:.2f}"),
            ("steps_per_second", "{:.0f} steps/s"),
        ):
            if row.get(k) not in (None, ""):
                parts.append(fmt.format(row[k]))
        if not self.tty and row["agent_steps"] != self.last_step:  # a terminal has the bar
            self.line(" | ".join(parts))
        self.last_step = row["agent_steps"]
        if row.get("eval_goal_achievement") not in (None, ""):
            ev = f"{self.name} eval at step {row['agent_steps']}: goal achievement "
            ev += f"{row['eval_goal_achievement']:.3f}"
            if row.get("eval_optimal_path_rate") not in (None, ""):
                ev += f", optimal paths {row['eval_optimal_path_rate']:.3f}"
            self.line(ev)

    def close(self) -> None:
        self.bar.close()


__all__ = [
    "CKPT_FORMAT",
    "CSV_COLUMNS",
    "CheckpointError",
    "ConsoleLog",
    "RESUMABLE_FIELDS",
    "RunDir",
    "RunDirError",
    "config_diff",
    "file_sha256",
    "generator_states",
    "goals_sha256",
    "provenance",
    "read_checkpoint",
    "restore_generators",
    "save_checkpoint",
]
