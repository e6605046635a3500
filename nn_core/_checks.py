"""Input validation shared by every layer, activation and loss.

Every public entry point of :mod:`nn_core` validates its inputs with these
helpers so that a mistake is reported as a ``ValueError`` that names *where*
(the layer or function) and *what* (the array, its shape and dtype) instead of
a NumPy traceback from deep inside a matmul.

The checks are O(size) at most and are kept off the inner loops: a layer
checks its input once per call.
"""
from __future__ import annotations

import contextlib

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)

#: Inside :func:`validated_input`, arrays passed between layers come from the
#: core itself, so the O(size) finiteness scan is skipped (dtype and shape
#: checks, which are O(1), still run).
_inner = [False]


@contextlib.contextmanager
def validated_input():
    """Run a network's layers on an input that was already checked once."""
    old = _inner[0]
    _inner[0] = True
    try:
        yield
    finally:
        _inner[0] = old


def as_float_array(x, where: str, name: str = "input", *, dtype=None,
                   finite: bool = True) -> np.ndarray:
    """Return ``x`` as a float32/float64 ndarray, or raise a clear ValueError.

    * Python lists, tuples and scalars are accepted and become float64.
    * Integer and bool arrays are promoted to float64.
    * float16, complex, object, string arrays are rejected.
    * NaN or ±inf entries are rejected when ``finite`` is true.
    """
    if type(x) is np.ndarray and x.dtype.type in FLOAT_DTYPES and (
            dtype is None or x.dtype == dtype):
        # the common case inside a training step: nothing to convert
        if finite and not _inner[0] and not _all_finite(x):
            bad = "NaN" if np.isnan(x).any() else "inf"
            raise ValueError(f"{where}: {name} of shape {x.shape} contains {bad}")
        return x
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged lists, weird objects
            raise ValueError(f"{where}: {name} could not be read as an array ({exc})") from None
    kind = arr.dtype.kind
    if kind in "biu":
        arr = arr.astype(np.float64)
    elif kind == "f":
        if arr.dtype.type not in FLOAT_DTYPES:
            raise ValueError(f"{where}: {name} has dtype {arr.dtype}; "
                             f"use float32 or float64")
    else:
        raise ValueError(f"{where}: {name} has dtype {arr.dtype} (shape {arr.shape}); "
                         f"a real float32/float64 array is required")
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    if finite and not _inner[0] and not _all_finite(arr):
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise ValueError(f"{where}: {name} of shape {arr.shape} contains {bad}")
    return arr


def _all_finite(arr: np.ndarray) -> bool:
    """True when no entry is NaN or ±inf.

    A sum is finite exactly when every term is — unless finite terms
    overflow, so only a non-finite sum pays for the elementwise test. The
    sum is a single reduction with no temporary array, which keeps the check
    off the profile of a training step.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(arr, axis=None)):
            return True
    return bool(np.isfinite(arr).all())


def check_ndim(arr: np.ndarray, ndims, where: str, name: str = "input",
               layout: str = "") -> None:
    """Raise unless ``arr.ndim`` is one of ``ndims`` (an int or a tuple)."""
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        hint = f" {layout}" if layout else ""
        raise ValueError(f"{where}: {name} must be {want}{hint}, got shape {arr.shape}")


def check_last_dim(arr: np.ndarray, size: int, where: str, name: str = "input") -> None:
    """Raise unless the trailing (feature) axis has ``size`` entries."""
    if arr.shape[-1] != size:
        raise ValueError(f"{where}: {name} has shape {arr.shape} but {size} features "
                         f"are expected on the last axis")


def check_same_shape(a: np.ndarray, b: np.ndarray, where: str,
                     names=("prediction", "target")) -> None:
    """Raise unless two arrays have equal shapes."""
    if a.shape != b.shape:
        raise ValueError(f"{where}: {names[0]} shape {a.shape} does not match "
                         f"{names[1]} shape {b.shape}")


def check_dout(dout, shape: tuple, where: str) -> np.ndarray:
    """The upstream gradient of a layer's backward as an array (floating
    point; integers become float64) of the forward output's ``shape``."""
    dout = np.asarray(dout)
    if dout.dtype.kind != "f":
        dout = dout.astype(np.float64)
    if dout.shape != tuple(shape):
        raise ValueError(f"{where}.backward: upstream gradient shape {dout.shape} does not "
                         f"match the output shape {tuple(shape)}")
    return dout
