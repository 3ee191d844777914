"""The one command line: `python -m glamor_mini.run PRESET | SUBCOMMAND ...`; the executor is
passed down as an argument, never set in a global."""

from __future__ import annotations

import subprocess
import sys

import pytest

import glamor_mini.experiments as experiments
import glamor_mini.experiments.executor as executor
from glamor_mini.presets import PRESETS
from glamor_mini.run import SUBCOMMANDS, main


def test_top_level_help_lists_every_preset_and_subcommand(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name in [*PRESETS, *SUBCOMMANDS]:
        assert any(line.startswith(f"  {name} ") for line in lines), name
    for name in ("sweep", "table1", "floor", "appendix", "curves", "gcsl-vs-glamor"):
        assert name in SUBCOMMANDS
    assert "gcsl-vs-glamor" in experiments.EXPERIMENTS


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_each_subcommand_has_its_own_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert f"python -m glamor_mini.run {name}" in capsys.readouterr().out


def test_unknown_first_word_names_presets_and_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["nosuch"])
    err = capsys.readouterr().err
    assert "unknown preset 'nosuch' (nor a sub-command)" in err and "table1" in err


def test_the_executor_is_an_argument_not_a_global(monkeypatch, tmp_path):
    assert not hasattr(executor, "DEFAULTS")
    seen = {}

    def fake(**kw):
        seen.update(kw)
        return []

    monkeypatch.setattr(experiments, "get_experiment", lambda name: fake)
    argv = ["sweep", "collection", "--scale", "small", "--root", str(tmp_path)]
    assert main([*argv, "--executor", "serial", "--address", "auto"]) == 0
    assert seen["executor"] == "serial" and seen["address"] == "auto"
    with pytest.raises(SystemExit):
        main([*argv, "--executor", "dask"])


def test_gcsl_vs_glamor_registered_run_passes_scale_and_executor(monkeypatch, tmp_path):
    from glamor_mini.experiments import gcsl_vs_glamor

    seen = {}
    monkeypatch.setattr(gcsl_vs_glamor, "compare", lambda *a, **kw: seen.update(a=a, kw=kw) or [])
    experiments.get_experiment("gcsl-vs-glamor")(
        root=tmp_path, figures=tmp_path, scale="small", seeds=[4], executor="ray"
    )
    assert seen["a"][0] == [4] and seen["kw"]["executor"] == "ray"
    assert seen["kw"]["total_steps"] == 3_000


@pytest.mark.parametrize("module", ["glamor_mini.floor", "glamor_mini.experiments.gcsl_vs_glamor"])
def test_old_module_entry_points_still_work(module):
    res = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "usage:" in res.stdout
