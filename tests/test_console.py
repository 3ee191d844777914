"""What a person reads while a run trains (console.py): one plain line per log interval, a note
when a run resumes, no rate or epsilon for a re-evaluation, 143 for SIGTERM and 130 for Ctrl-C."""

from __future__ import annotations

import io
from pathlib import Path

from glamor_mini.config import field_docs
from glamor_mini.console import ConsoleLog, Interrupted, Terminated, exit_code
from glamor_mini.resolve import make_config
from glamor_mini.train import train


def test_a_resumed_run_says_from_which_step_and_a_reevaluation_prints_no_rate(tmp_path, capsys):
    out = tmp_path / "run"
    train(make_config("debug", total_steps=400, log_every=200), out)
    capsys.readouterr()
    train(make_config("debug", total_steps=800, log_every=200), out)
    text = capsys.readouterr().out
    assert f"resuming {out} from step 400" in text, text
    train(make_config("debug", total_steps=800, log_every=200), out, reevaluate=True)
    text = capsys.readouterr().out
    assert f"re-evaluating {out} from step 800" in text
    assert "eval at step 800: goal achievement" in text
    assert "steps/s" not in text and "eps 1.00" not in text, text


def test_console_prints_no_progress_line_for_a_step_it_did_not_train():
    stream = io.StringIO()
    log = ConsoleLog("GLAMOR grid seed 0", 800, 800, True, stream=stream)
    log.row({"agent_steps": 800, "eps": 1.0, "steps_per_second": 0.0, "eval_goal_achievement": 1})
    log.close()
    assert stream.getvalue() == "GLAMOR grid seed 0 eval at step 800: goal achievement 1.000\n"
    stream = io.StringIO()
    log = ConsoleLog("x", 800, 0, True, stream=stream)
    log.row({"agent_steps": 400, "eps": 0.5, "steps_per_second": 0.0})
    log.row({"agent_steps": 800, "eps": 0.1, "steps_per_second": 120.0})
    log.line("hidden")
    quiet = ConsoleLog("x", 800, 0, False, stream=stream)
    quiet.line("shown", always=True)
    quiet.line("hidden")
    assert stream.getvalue().splitlines() == [
        "x step 400/800 | eps 0.50",  # no rate measured: none shown (not "0 steps/s")
        "x step 800/800 | eps 0.10 | 120 steps/s",
        "hidden",
        "shown",
    ]


def test_exit_codes_follow_the_shell_convention():
    assert exit_code(Terminated()) == 143 and exit_code(KeyboardInterrupt()) == 130
    assert Interrupted(5, Path("r"), 143).exit_code == 143
    assert "rerun the same command to resume (r)" in str(Interrupted(5, Path("r")))


def test_save_replay_help_promises_no_exact_resume():
    doc = field_docs()["save_replay"]
    assert "not bit-identical" in doc and "exact" not in doc.lower()
