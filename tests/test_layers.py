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
