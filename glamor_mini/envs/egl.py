"""DM Control's EGL rendering on the GPU that CUDA_VISIBLE_DEVICES names.

EGL numbers GPUs in its own order (eglQueryDevicesEXT), not CUDA's, and MuJoCo's EGL backend
takes MUJOCO_EGL_DEVICE_ID as an index into EGL's list; without it, it renders on the first EGL
device that initialises, whatever CUDA_VISIBLE_DEVICES says (a job given CUDA device 3 renders on
GPU 0, next to other jobs). NVIDIA's EGL_NV_device_cuda extension tells each EGL device's CUDA
ordinal (attribute EGL_CUDA_DEVICE_NV, read with eglQueryDeviceAttribEXT).

`pin_egl_device()` runs before dm_control is imported (envs/dmc.py): when MUJOCO_GL=egl,
CUDA_VISIBLE_DEVICES is set and MUJOCO_EGL_DEVICE_ID is not, it sets MUJOCO_EGL_DEVICE_ID to the
EGL device whose CUDA ordinal is the first visible CUDA device. Where that cannot be known (no
extension, a CUDA_VISIBLE_DEVICES entry that is a UUID or MIG name, no matching device) it sets
nothing and prints one line to stderr. The CUDA ordinals in CUDA_VISIBLE_DEVICES follow
CUDA_DEVICE_ORDER (FASTEST_FIRST unless set); the driver's EGL ordinals follow the driver's
order: with several different GPU models in one box, set CUDA_DEVICE_ORDER=PCI_BUS_ID or
MUJOCO_EGL_DEVICE_ID yourself.

The EGL calls go through ctypes on libEGL (loaded only when called); nothing of PyOpenGL or
MuJoCo is imported here, so the rendering backend dm_control chooses later is not disturbed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, MutableMapping, Sequence

EGL_CUDA_DEVICE_NV = 0x323A  # EGL_NV_device_cuda
EGL_EXTENSIONS = 0x3055
DEVICE_ENV = "MUJOCO_EGL_DEVICE_ID"
NOTED_ENV = "GLAMOR_EGL_NOTED"  # the stderr line is printed once, not again in worker processes

EglDevices = Sequence[tuple[int, int | None]]
"""(EGL device index, its CUDA ordinal or None when the device does not say) per EGL device."""


def egl_index_for_cuda(cuda_ordinal: int, devices: EglDevices) -> int | None:
    """The EGL index of the device whose CUDA ordinal is `cuda_ordinal`; None if none is."""
    for egl_index, cuda_id in devices:
        if cuda_id is not None and cuda_id == cuda_ordinal:
            return egl_index
    return None


def first_visible_cuda_ordinal(visible: str) -> int | None:
    """'2,3' -> 2; None for an entry that is not a device number ('GPU-8f1c...', 'MIG-...')."""
    first = visible.split(",")[0].strip()
    return int(first) if first.isdigit() else None


def choose_egl_device(
    environ: MutableMapping[str, str], query: Callable[[], EglDevices]
) -> tuple[str | None, str | None]:
    """(value for MUJOCO_EGL_DEVICE_ID or None, a note for stderr or None). Only asks `query`
    (the EGL devices) when MUJOCO_GL=egl, CUDA_VISIBLE_DEVICES is set and the user did not
    choose MUJOCO_EGL_DEVICE_ID."""
    visible = environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    if environ.get("MUJOCO_GL") != "egl" or DEVICE_ENV in environ or not visible:
        return None, None
    unpinned = f"MuJoCo's EGL renders on its first device (set {DEVICE_ENV} to choose)"
    ordinal = first_visible_cuda_ordinal(visible)
    if ordinal is None:
        return None, f"note: CUDA_VISIBLE_DEVICES={visible!r} is not a device number: {unpinned}"
    try:
        devices = list(query())
    except (OSError, AttributeError, TypeError, ValueError, RuntimeError) as err:
        return None, f"note: EGL devices not readable ({type(err).__name__}: {err}): {unpinned}"
    if all(cuda is None for _, cuda in devices):
        return None, f"note: EGL has no EGL_NV_device_cuda extension: {unpinned}"
    index = egl_index_for_cuda(ordinal, devices)
    if index is None:
        found = sorted(c for _, c in devices if c is not None)
        return None, f"note: no EGL device is CUDA device {ordinal} (EGL has {found}): {unpinned}"
    return str(index), None


def query_egl_cuda_ids() -> list[tuple[int, int | None]]:
    """Every EGL device (eglQueryDevicesEXT) with its EGL_CUDA_DEVICE_NV attribute, None where
    the device lacks EGL_NV_device_cuda. Raises OSError when libEGL or the device-query
    extensions are missing."""
    import ctypes
    import ctypes.util

    lib = ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
    lib.eglGetProcAddress.restype = ctypes.c_void_p
    lib.eglGetProcAddress.argtypes = [ctypes.c_char_p]

    def proc(name: str, restype, *argtypes):
        address = lib.eglGetProcAddress(name.encode())
        if not address:
            raise OSError(f"libEGL has no {name}")
        return ctypes.CFUNCTYPE(restype, *argtypes)(address)

    c_void_p, c_int = ctypes.c_void_p, ctypes.c_int32
    query_devices = proc(
        "eglQueryDevicesEXT", ctypes.c_uint32, c_int, ctypes.POINTER(c_void_p),
        ctypes.POINTER(c_int),
    )  # fmt: skip
    query_string = proc("eglQueryDeviceStringEXT", ctypes.c_char_p, c_void_p, c_int)
    query_attrib = proc(
        "eglQueryDeviceAttribEXT", ctypes.c_uint32, c_void_p, c_int,
        ctypes.POINTER(ctypes.c_ssize_t),
    )  # fmt: skip
    devices, count = (c_void_p * 32)(), c_int(0)
    if not query_devices(32, devices, ctypes.byref(count)):
        raise OSError("eglQueryDevicesEXT failed")
    out: list[tuple[int, int | None]] = []
    for i in range(count.value):
        extensions = (query_string(devices[i], EGL_EXTENSIONS) or b"").decode(errors="replace")
        value = ctypes.c_ssize_t(-1)
        has = "EGL_NV_device_cuda" in extensions.split()
        ok = has and query_attrib(devices[i], EGL_CUDA_DEVICE_NV, ctypes.byref(value))
        out.append((i, int(value.value) if ok else None))
    return out


def pin_egl_device(
    environ: MutableMapping[str, str] | None = None,
    query: Callable[[], EglDevices] = query_egl_cuda_ids,
) -> str | None:
    """Set MUJOCO_EGL_DEVICE_ID as `choose_egl_device` says (in os.environ by default); print
    its note once. Returns the value set, or None."""
    environ = os.environ if environ is None else environ
    value, note = choose_egl_device(environ, query)
    if value is not None:
        environ[DEVICE_ENV] = value
    if note and NOTED_ENV not in environ:
        environ[NOTED_ENV] = "1"
        print(note, file=sys.stderr, flush=True)
    return value


__all__ = [
    "choose_egl_device",
    "egl_index_for_cuda",
    "first_visible_cuda_ordinal",
    "pin_egl_device",
    "query_egl_cuda_ids",
]
