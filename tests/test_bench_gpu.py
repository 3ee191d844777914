"""bench/gpu.py --device cpu --quick runs in the test suite, so the on-device script cannot rot
before a GPU is lent: every section runs and writes the JSON the issue asks for."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_bench_quick_on_cpu_writes_every_section(tmp_path):
    bench = load_bench()
    result = bench.main([str(tmp_path), "--device", "cpu", "--quick", "--threads", "1"])
    saved = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert saved["device"]["device"] == "cpu" and saved["quick"] is True
    planner = saved["planner"]
    assert all(planner[f"device_ms_N{n}"] > 0 for n in (8, 16, 32))
    updates = saved["updates"]
    assert updates["updates_per_s"] > 0
    assert updates["syncs_loss_backward_clip"] == 0, "the loss must not read the device"
    assert isinstance(updates["agent_update_reads"], int)
    if "skipped" in saved["collection"]:
        pytest.skip(saved["collection"]["skipped"])
    assert saved["collection"]["closed_loop_agent_steps_per_s"] > 0
    run = saved["run"]
    assert run["agent_steps"] > 0 and run["updates"] > 0
    shares = [run[k] for k in run if k.startswith("share_")]
    assert 0.5 < sum(shares) <= 1.01
    assert result["run"]["agent_steps"] == run["agent_steps"]
    # the estimate says how it differs from a default run, with that run's settings
    differs = " | ".join(run["differs_from_default_run"])
    assert "learning_starts=32" in differs and "no evaluation" in differs, differs
    assert run["amp"] is False, "the preset's float32 unless --amp"
    assert run["eval_upper_bound_minutes"] > 0 and run["default_ring_gib"] > 0
