"""What a person sees of a run and how they stop it: the progress bar or plain lines, Ctrl-C and
SIGTERM.

A terminal gets a tqdm bar; pipes, Ray workers and CI logs get one plain line per log interval
and one per evaluation. Ctrl-C and SIGTERM (what clusters and Ray send on preemption) both end
the training loop through KeyboardInterrupt, so the trainer writes a checkpoint first; the
command line then exits 130 (Ctrl-C) or 143 (SIGTERM), the shell's 128 + signal number.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as a KeyboardInterrupt so that it takes Ctrl-C's path."""


def exit_code(err: BaseException) -> int:
    """128 + the signal number: 143 for SIGTERM, 130 for Ctrl-C (SIGINT)."""
    return 128 + (signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: a checkpoint was written; rerun the same command to resume.
    `exit_code` is what the command line returns (130 or 143)."""

    def __init__(self, agent_steps: int, run_dir: Path, exit_code: int = 130):
        self.agent_steps, self.run_dir, self.exit_code = agent_steps, run_dir, exit_code
        super().__init__(
            f"interrupted at step {agent_steps}; rerun the same command to resume ({run_dir})"
        )


class sigterm_as_interrupt:
    """Within the block, SIGTERM raises `Terminated` (a KeyboardInterrupt), so it writes a
    checkpoint like Ctrl-C. Main thread only."""

    def __enter__(self):
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise Terminated

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)
        return False


class ConsoleLog:
    """What a person reads: a tqdm bar on a terminal, plain lines otherwise (pipes, Ray
    workers, CI logs), one per log interval and one per evaluation. A row at a step this
    session did not train past (a re-evaluation) prints its evaluation line only."""

    def __init__(self, name: str, total: int, initial: int, enabled: bool, stream=None):
        from tqdm import tqdm

        self.stream = stream if stream is not None else sys.stdout
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.name, self.total, self.initial = name, total, initial
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

    def line(self, text: str, always: bool = False) -> None:
        """Print `text` (above the bar on a terminal); `always`: even with progress off."""
        if not (self.enabled or always):
            return
        if self.tty:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def row(self, row: dict[str, Any]) -> None:
        keys = ("loss", "eval_goal_achievement")
        if self.tty:
            self.bar.set_postfix({k: row[k] for k in keys if k in row})
        trained = row["agent_steps"] > self.initial  # not a re-evaluation
        if not self.tty and trained and row["agent_steps"] != self.last_step:
            self.line(self.progress_text(row))  # (a terminal has the bar)
        self.last_step = row["agent_steps"]
        if row.get("eval_goal_achievement") not in (None, ""):
            ev = f"{self.name} eval at step {row['agent_steps']}: goal achievement "
            ev += f"{row['eval_goal_achievement']:.3f}"
            if row.get("eval_optimal_path_rate") not in (None, ""):
                ev += f", optimal paths {row['eval_optimal_path_rate']:.3f}"
            self.line(ev)

    def progress_text(self, row: dict[str, Any]) -> str:
        """'NAME step N/TOTAL | eps .. | loss .. | ... | R steps/s' (no rate when none was
        measured: the final evaluation's row)."""
        parts = [f"{self.name} step {row['agent_steps']}/{self.total}"]
        for k, fmt in (
            ("eps", "eps {:.2f}"),
            ("loss", "loss {:.4g}"),
            ("q_loss", "q_loss {:.4g}"),
            ("train_goal_visited", "visited {:.2f}"),
            ("steps_per_second", "{:.0f} steps/s"),
        ):
            if row.get(k) not in (None, "") and not (k == "steps_per_second" and not row[k]):
                parts.append(fmt.format(row[k]))
        return " | ".join(parts)

    def close(self) -> None:
        self.bar.close()


class Stage:
    """A long phase outside the training loop (goal-set rollouts, floors): a tqdm bar on a
    terminal; in a pipe, one line when it starts and one with its wall time when it ends.

        with Stage("Pong seed 0: evaluation goals", total=90) as stage:
            for ...: stage.update()
    """

    def __init__(self, desc: str, total: int | None = None, stream=None, unit: str = "rollout"):
        self.desc, self.total, self.unit = desc, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar: Any = None

    def __enter__(self) -> Stage:
        self.t0 = time.perf_counter()
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total, desc=self.desc, unit=self.unit, leave=False, file=self.stream
            )
        else:
            size = f": {self.total} {self.unit}s" if self.total else ""
            print(f"{self.desc}{size} ...", file=self.stream, flush=True)
        return self

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, exc_type, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
        if exc_type is None:
            took = time.perf_counter() - self.t0
            print(f"{self.desc}: done in {took:.1f} s", file=self.stream, flush=True)


__all__ = ["ConsoleLog", "Stage", "Interrupted", "Terminated", "exit_code", "sigterm_as_interrupt"]
