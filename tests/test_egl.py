"""envs/egl.py: DM Control's EGL rendering follows CUDA_VISIBLE_DEVICES (EGL ids are not CUDA
ids), with the device query replaced by a fake list of (EGL index, CUDA ordinal)."""

from __future__ import annotations

import pytest

from glamor_mini.envs.egl import (
    choose_egl_device,
    egl_index_for_cuda,
    first_visible_cuda_ordinal,
    pin_egl_device,
    query_egl_cuda_ids,
)

# EGL lists the GPUs in another order than CUDA, plus a software device with no CUDA id
DEVICES = [(0, 2), (1, 0), (2, 3), (3, 1), (4, None)]


@pytest.mark.parametrize(("cuda", "egl"), [(0, 1), (1, 3), (2, 0), (3, 2), (7, None)])
def test_egl_index_is_the_device_with_that_cuda_ordinal(cuda, egl):
    assert egl_index_for_cuda(cuda, DEVICES) == egl


def test_first_visible_ordinal():
    assert first_visible_cuda_ordinal("3") == 3
    assert first_visible_cuda_ordinal(" 2, 0") == 2
    assert first_visible_cuda_ordinal("GPU-8f1c2d3e-aaaa") is None
    assert first_visible_cuda_ordinal("MIG-GPU-1/2/0") is None


def env(**kw) -> dict[str, str]:
    return {"MUJOCO_GL": "egl", **kw}


def test_pins_the_egl_device_of_the_first_visible_cuda_device():
    environ = env(CUDA_VISIBLE_DEVICES="3,0")
    assert pin_egl_device(environ, lambda: DEVICES) == "2"
    assert environ["MUJOCO_EGL_DEVICE_ID"] == "2"


def fail() -> list:
    raise AssertionError("the EGL devices must not be queried")


@pytest.mark.parametrize(
    "environ",
    [
        env(CUDA_VISIBLE_DEVICES="1", MUJOCO_EGL_DEVICE_ID="0"),  # the user chose
        env(),  # every GPU visible: MuJoCo's default (the first) is CUDA's too
        env(CUDA_VISIBLE_DEVICES=""),
        {"MUJOCO_GL": "osmesa", "CUDA_VISIBLE_DEVICES": "1"},
        {"CUDA_VISIBLE_DEVICES": "1"},
    ],
)
def test_leaves_alone_what_it_should_not_decide(environ):
    before = dict(environ)
    assert choose_egl_device(environ, fail) == (None, None)
    assert pin_egl_device(environ, fail) is None and environ == before


@pytest.mark.parametrize(
    ("visible", "devices", "says"),
    [
        ("1", [(0, None), (1, None)], "no EGL_NV_device_cuda"),
        ("5", DEVICES, "no EGL device is CUDA device 5"),
        ("GPU-8f1c2d3e", DEVICES, "not a device number"),
    ],
)
def test_falls_back_with_one_stderr_line(capsys, visible, devices, says):
    environ = env(CUDA_VISIBLE_DEVICES=visible)
    assert pin_egl_device(environ, lambda: devices) is None
    assert "MUJOCO_EGL_DEVICE_ID" not in environ
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "MUJOCO_EGL_DEVICE_ID" in err
    pin_egl_device(environ, lambda: devices)  # a worker process inherits the environment
    assert capsys.readouterr().err == "", "the note is printed once"


def test_an_unreadable_egl_is_a_note_not_an_error(capsys):
    def broken():
        raise OSError("libEGL.so.1: cannot open shared object file")

    assert pin_egl_device(env(CUDA_VISIBLE_DEVICES="0"), broken) is None
    assert "EGL devices not readable (OSError: libEGL" in capsys.readouterr().err


def test_the_real_query_lists_devices_or_raises_oserror():
    try:
        devices = query_egl_cuda_ids()
    except OSError:
        pytest.skip("no libEGL with device enumeration here")
    assert [i for i, _ in devices] == list(range(len(devices)))
    assert all(c is None or c >= 0 for _, c in devices)
