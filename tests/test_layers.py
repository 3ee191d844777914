"""The layers of docs/design.md: config.py at the bottom imports nothing of the package."""

from __future__ import annotations

import subprocess
import sys


def test_config_imports_neither_the_package_nor_torch():
    code = (
        "import sys, glamor_mini.config as c; "
        "assert 'torch' not in sys.modules, 'torch'; "
        "mods = sorted(m for m in sys.modules if m.startswith('glamor_mini.')); "
        "assert mods == ['glamor_mini.config'], mods; "
        "c.Config().validate()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_presets_import_only_the_config_and_no_torch():
    code = (
        "import sys, glamor_mini.presets as p; "
        "assert 'torch' not in sys.modules, 'torch'; "
        "mods = sorted(m for m in sys.modules if m.startswith('glamor_mini.')); "
        "assert mods == ['glamor_mini.config', 'glamor_mini.presets'], mods; "
        "p.preset_config('gridworld'); p.preset_config('atari')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_modules_and_functions_read_in_one_sitting():
    """No module over ~450 lines; no function over ~80 unless it is a paper algorithm that reads
    best in one piece (its docstring says so)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "glamor_mini"
    in_one_piece = {("planner.py", "plan")}  # Eq. 8's random shooting
    long_modules, long_functions = [], []
    for path in sorted(root.rglob("*.py")):
        src = path.read_text()
        if src.count("\n") > 460:
            long_modules.append(f"{path.relative_to(root)}: {src.count(chr(10))} lines")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > 80 and (path.name, node.name) not in in_one_piece:
                    long_functions.append(f"{path.relative_to(root)}:{node.name} {n} lines")
    assert not long_modules and not long_functions, long_modules + long_functions


def test_train_holds_the_loop_and_the_run_directory_its_plumbing():
    """Algorithm 1 in train.py; checkpoint IO and RNG capture in checkpoint.py, result files in
    rundir.py, the console and signals in console.py."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "glamor_mini"
    train_src = (root / "train.py").read_text()
    assert train_src.count("\n") <= 310
    for plumbing in ("get_state", "bit_generator", "torch.save", "json.dumps", "signal.", "tqdm"):
        assert plumbing not in train_src, plumbing
    assert "def save_checkpoint" in (root / "checkpoint.py").read_text()
    assert "def capture_rngs" in (root / "checkpoint.py").read_text()
    assert "class ConsoleLog" in (root / "console.py").read_text()
    assert "def write_results" in (root / "rundir.py").read_text()
