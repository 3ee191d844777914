"""The run directory: one experiment, resumable, safe to share.

    RUN/config.json     the resolved Config (what `python -m glamor_mini.run` used)
    RUN/ckpt.pt         the latest checkpoint (checkpoint.py): config, provenance, the agent's
                        state_dict, counters, RNG states and (save_replay) the replay buffer
    RUN/progress.csv    one row per log interval and evaluation (the x-axis is agent_steps)
    RUN/events.*        the same rows for TensorBoard (charts/, losses/, eval/)
    RUN/eval.json       the final evaluation (its presence marks the run finished)
    RUN/eval.png        per-goal outcomes (grid) or goal frames above final frames (pixels)
    RUN/episode.gif     Atari: one evaluation episode, goal beside the agent's view

Guarantees (each tested in tests/test_rundir.py):
  * a directory holds ONE experiment: config.json, the checkpoint's own config and a provenance
    record (the layout file's contents, the goal sets) must agree with the run being started;
    only `RESUMABLE_FIELDS` may change; any mismatch is one error naming the differing fields;
  * results are never overwritten by a run that cannot be shown to be theirs: a directory with
    eval.json but no ckpt.pt, or with a run's files but neither config.json nor ckpt.pt, is
    refused, and so is a non-empty directory that is not a run;
  * writes are atomic (temp file, fsync, rename); temp files left by a killed write are removed at
    start; progress rows never repeat or go backwards after a resume.
Checkpoint files themselves (weights-only, atomic, RNG states) are checkpoint.py's; what a person
sees while a run trains is console.py's.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import torch

from glamor_mini.artefacts import write_eval_artefacts
from glamor_mini.checkpoint import (
    CKPT_FORMAT,
    CheckpointError,
    Counters,
    read_checkpoint,
    restore_generators,
    save_checkpoint,
)
from glamor_mini.provenance import file_sha256, goals_sha256, provenance  # noqa: F401
from glamor_mini.utils import atomic_write_text

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

RUN_FILES = (
    "config.json",
    "ckpt.pt",
    "progress.csv",
    "eval.json",
    "eval.png",
    "episode.gif",
)
"""The files a run writes into its directory (besides TensorBoard's events.out.tfevents.*)."""

TB_GROUPS = {
    **dict.fromkeys(("loss", "inverse_nll", "prior_nll", "q_loss", "reward_loss"), "losses"),
    **dict.fromkeys(
        ("q_mean", "xi_accuracy", "reward_commanded", "reward_decoy", "eps", "steps_per_second"),
        "charts",
    ),
    **dict.fromkeys(("train_goal_visited", "updates", "episodes"), "charts"),
}
"""TensorBoard's group of each progress.csv column (the eval_* columns go to eval/)."""


class RunDirError(ValueError):
    """A run directory that cannot be used for this run (wrong place, another experiment)."""


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


def progress_row(
    counters: Counters,
    steps_per_second: float,
    eps: float,
    stats: list[dict[str, torch.Tensor]],
    visited: float | None,
    eval_fields: dict[str, Any],
) -> dict[str, Any]:
    """One row of progress.csv: the counters, the rate, epsilon, the mean of each logged loss
    over the updates since the last row (`stats`, one dict per update), the share of episodes
    that visited their training goal and the evaluation's eval_* columns."""
    row: dict[str, Any] = {
        "agent_steps": counters.agent_steps,
        "updates": counters.updates,
        "episodes": counters.episodes,
        "wall_seconds": round(counters.wall_seconds, 2),
        "steps_per_second": round(steps_per_second, 1),
        "eps": round(eps, 4),
    }
    for k in stats[0] if stats else ():
        if k in CSV_COLUMNS:
            row[k] = round(torch.stack([s[k] for s in stats]).mean().item(), 5)
    if visited is not None:
        row["train_goal_visited"] = round(visited, 4)
    row.update(eval_fields)
    return row


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
    """One run's directory (the module docstring's files): checked before anything is written
    (`check_usable`, `open`), then written row by row (`start`, `log_row`, `save_checkpoint`,
    `write_results`)."""

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

    def open(
        self,
        cfg_dict: dict,
        prov: dict,
        total_steps: int,
        defaults: dict | None = None,
        ignore: frozenset[str] = frozenset(),
    ) -> tuple[dict | None, dict | None]:
        """Every check before a run reads or writes here, in order: the checkpoint (read
        weights-only), that the files are this run's (`check_results_are_ours`), that it is the
        same experiment (`check_same_experiment`). Returns (checkpoint or None, eval.json's
        contents when the run is finished at >= total_steps, else None). `ignore`: fields this
        run does not use (another algorithm's options: agents.fields_not_used_by)."""
        state = self.load_checkpoint()
        self.check_results_are_ours(state is not None)
        self.check_same_experiment(cfg_dict, prov, state, defaults=defaults, ignore=ignore)
        return state, self.finished_eval(state, total_steps)

    def check_results_are_ours(self, has_checkpoint: bool) -> None:
        """Refuse a directory whose files a fresh start would overwrite although nothing shows
        they belong to this run: eval.json without ckpt.pt (a finished run's results; training
        would start from zero and replace them), a run's files without config.json or ckpt.pt
        (whose run?), or files that are not a run's at all."""
        if has_checkpoint or not self.path.is_dir():
            return
        names = sorted(p.name for p in self.path.iterdir() if not p.name.startswith("."))
        if not names:
            return
        if self.eval_json.exists():
            lost = "ckpt.pt is" if self.config_json.exists() else "ckpt.pt and config.json are"
            raise RunDirError(
                f"{self.path} holds a finished run's results (eval.json) but its {lost} "
                "missing, so nothing shows they are this run's, and training would start from "
                "zero and overwrite them. Restore ckpt.pt to resume or --reevaluate, move "
                "eval.json away to retrain here, or choose another --out"
            )
        if self.config_json.exists():  # killed before its first checkpoint: config.json decides
            return
        ours = [n for n in names if n in RUN_FILES or n.startswith("events.out.tfevents")]
        if ours:
            raise RunDirError(
                f"{self.path} holds another run's results ({', '.join(ours)}) without its "
                "config.json or ckpt.pt, so they cannot be checked against this run; move them "
                "away or choose another --out"
            )
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise RunDirError(
            f"--out {self.path} is not empty and not a run directory (it holds {shown}); a run "
            f"directory holds only {', '.join(RUN_FILES)} and TensorBoard events. Choose a new "
            "or empty directory"
        )

    def load_checkpoint(self) -> dict | None:
        """The checkpoint's contents (weights-only), or None when there is none."""
        if not self.ckpt.exists():
            return None
        return read_checkpoint(self.ckpt)

    def check_same_experiment(
        self,
        cfg_dict: dict,
        prov: dict,
        state: dict | None,
        defaults: dict | None = None,
        ignore: frozenset[str] = frozenset(),
    ) -> None:
        """Raise RunDirError unless config.json, the checkpoint's config and provenance match.
        `defaults`: the Config defaults, for fields an older version did not write; `ignore`:
        fields the run does not use (they may differ)."""
        problems: list[str] = []
        skip = RESUMABLE_FIELDS | ignore
        if self.config_json.exists():
            try:
                old = json.loads(self.config_json.read_text())
            except json.JSONDecodeError as err:
                raise RunDirError(
                    f"{self.config_json} is not valid JSON ({err}); choose another --out or "
                    "repair it"
                ) from err
            problems += config_diff(old, cfg_dict, skip, defaults=defaults)
        if state is not None:
            problems += [
                f"{p} (in ckpt.pt)"
                for p in config_diff(state.get("config", {}), cfg_dict, skip, defaults=defaults)
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
        """Append a row to progress.csv and TensorBoard. A row at the last logged step (a
        finished run evaluated again, --reevaluate) replaces that row's eval_* columns and keeps
        its training columns, so the CSV keeps one row per step and its last evaluation is the
        one in eval.json."""
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
        elif step == self.last_logged_step():
            self._replace_last_row(row)
        tb = self._tb()
        for k, v in row.items():
            if k.startswith("eval_"):
                tb.add_scalar(f"eval/{k[5:]}", v, step)
            elif k in TB_GROUPS:
                tb.add_scalar(f"{TB_GROUPS[k]}/{k}", v, step)
        tb.flush()

    def _replace_last_row(self, row: dict[str, Any]) -> None:
        with self.progress_csv.open() as fh:
            lines = fh.read().splitlines()
        header = next(csv.reader(lines[:1]))
        last = dict(zip(header, next(csv.reader(lines[-1:])), strict=False))
        for k in CSV_COLUMNS:
            if k.startswith("eval_"):
                last[k] = row.get(k, "")
        out = io.StringIO()
        csv.DictWriter(out, CSV_COLUMNS, lineterminator="", extrasaction="ignore").writerow(last)
        atomic_write_text(self.progress_csv, "\n".join(lines[:-1] + [out.getvalue()]) + "\n")

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

    def write_results(
        self, result: Any, counters: Counters, task: Any, goals: Any, agent: Any, seed: int
    ) -> None:
        """eval.json (the summary, how far the run got, how the agent acts, per-goal outcomes),
        then eval.png / episode.gif (artefacts.py; `seed`: the episode the gif shows)."""
        summary = {
            **result.summary(),
            "agent_steps": counters.agent_steps,
            "updates": counters.updates,
            "wall_seconds": round(counters.wall_seconds, 2),
            "env": task.name,
            "algo": agent.name,
            **agent.acting,
            "per_goal": result.per_goal,
        }
        self.write_eval(summary)
        write_eval_artefacts(self.path, task, result, goals, agent, seed)

    def finished_message(self, ev: dict) -> str:
        """What a rerun of a finished run says (it trains nothing)."""
        return (
            f"{self.path} already finished (eval.json: goal achievement "
            f"{ev.get('goal_achievement')} at {ev.get('agent_steps')} agent steps); nothing to "
            "do. Pass --reevaluate to evaluate it again, or raise --total_steps to train on."
        )


__all__ = [
    "CKPT_FORMAT",
    "CSV_COLUMNS",
    "CheckpointError",
    "RESUMABLE_FIELDS",
    "RUN_FILES",
    "RunDir",
    "RunDirError",
    "config_diff",
    "file_sha256",
    "goals_sha256",
    "provenance",
    "read_checkpoint",
    "restore_generators",
    "run_finished",
    "save_checkpoint",
]
