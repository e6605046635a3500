"""Plain data between the grader and the sandboxed child: JSON + ``.npy``.

A *frame* is ``b"NNG1"``, the header length (4 bytes, little endian), the
number of blobs (4 bytes), the UTF-8 JSON header, then each blob as an
8-byte length and its bytes.  Arrays travel as blobs in NumPy's ``.npy``
format (version 1.0, little-endian float64), written with
``allow_pickle=False``; in JSON an array is ``{"$a": index of its blob}``.

Reading is written for **hostile** input (the child runs student code and
can write anything into its end of the pipe): :class:`FrameReader` bounds
the header and blob sizes and the total, :func:`load_npy` parses the
``.npy`` header itself (``ast.literal_eval`` through NumPy's reader) and
accepts only a float64 array whose byte length matches its shape — it never
allocates from a size the data does not actually hold — and
:func:`decode` turns ``{"$a": k}`` back into arrays only where asked.
Nothing is ever unpickled or evaluated.
"""
from __future__ import annotations

import io
import json
import math
import struct
from typing import Any

import numpy as np

__all__ = ["MAGIC", "WireError", "encode_frame", "FrameReader", "dump_npy", "load_npy",
           "encode", "decode", "MAX_ARRAY_ELEMENTS"]

MAGIC = b"NNG1"
_HEAD = struct.Struct("<4sII")
_BLOB = struct.Struct("<Q")

#: the largest array accepted from the child (entries)
MAX_ARRAY_ELEMENTS = 1 << 22
#: the largest JSON header accepted from the child (bytes)
MAX_HEADER_BYTES = 8 << 20
#: the most blobs in one frame
MAX_BLOBS = 4096


class WireError(ValueError):
    """Data from the child that does not follow the protocol."""


def dump_npy(arr: np.ndarray) -> bytes:
    """``arr`` as ``.npy`` bytes (float64, little endian, no pickle)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr, dtype="<f8", order="C"),
                              version=(1, 0),
                              allow_pickle=False)
    return buf.getvalue()


def load_npy(blob: bytes, max_elements: int = MAX_ARRAY_ELEMENTS) -> np.ndarray:
    """A fresh float64 array from ``.npy`` bytes, or :class:`WireError`."""
    if type(blob) is not bytes:
        raise WireError("array blob is not bytes")
    f = io.BytesIO(blob)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=4096)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=4096)
        else:
            raise WireError(f"unsupported .npy version {version}")
    except WireError:
        raise
    except Exception as exc:  # noqa: BLE001 — any malformed header
        raise WireError(f"malformed .npy header ({type(exc).__name__})") from None
    if dtype != np.dtype("<f8"):
        raise WireError(f"array dtype {dtype} is not float64")
    if type(shape) is not tuple or len(shape) > 32 or \
            any(type(n) is not int or n < 0 for n in shape):
        raise WireError("malformed array shape")
    count = math.prod(shape)
    if count > max_elements:
        raise WireError(f"array of {count} entries is too large (limit {max_elements})")
    offset = f.tell()
    if len(blob) - offset != count * 8:
        raise WireError("array data does not match its shape")
    arr = np.frombuffer(blob, dtype="<f8", count=count, offset=offset)
    arr = arr.reshape(shape, order="F" if fortran else "C")
    return np.array(arr, dtype=np.float64, order="C")     # a fresh, writable copy


def encode(value: Any, blobs: list[bytes]) -> Any:
    """JSON-safe form of plain data: arrays become ``{"$a": k}`` (their
    ``.npy`` bytes appended to ``blobs``), tuples become lists."""
    if type(value) is np.ndarray:
        blobs.append(dump_npy(value))
        return {"$a": len(blobs) - 1}
    if type(value) in (list, tuple):
        return [encode(v, blobs) for v in value]
    if type(value) is dict:
        return {str(k): encode(v, blobs) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode(value: Any, blobs: list[bytes], max_elements: int = MAX_ARRAY_ELEMENTS,
           depth: int = 0) -> Any:
    """The inverse of :func:`encode` (arrays validated by :func:`load_npy`)."""
    if depth > 64:
        raise WireError("data nested too deeply")
    if type(value) is dict:
        if set(value) == {"$a"}:
            k = value["$a"]
            if type(k) is not int or not 0 <= k < len(blobs):
                raise WireError("bad array reference")
            return load_npy(blobs[k], max_elements)
        return {k: decode(v, blobs, max_elements, depth + 1) for k, v in value.items()}
    if type(value) is list:
        return [decode(v, blobs, max_elements, depth + 1) for v in value]
    return value


def encode_frame(header: dict, blobs: list[bytes] = ()) -> bytes:
    """One frame: ``header`` (JSON) and its blobs."""
    head = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    parts = [_HEAD.pack(MAGIC, len(head), len(blobs)), head]
    for b in blobs:
        parts.append(_BLOB.pack(len(b)))
        parts.append(b)
    return b"".join(parts)


class FrameReader:
    """Incremental parser of frames from untrusted bytes.

    ``feed(data)`` returns the complete frames as ``(header dict, blobs)``;
    at a violation it returns the frames before it and sets ``broken`` to
    the reason (the reader then stays broken; a later ``feed`` raises
    :class:`WireError`).
    ``limit`` bounds the total bytes accepted.
    """

    def __init__(self, limit: int = 256 << 20, max_header: int = MAX_HEADER_BYTES,
                 max_blob: int = 8 * MAX_ARRAY_ELEMENTS + 4096, max_frames: int = 1 << 20):
        self.buf = bytearray()
        self.total = 0
        self.frames = 0
        self.limit = limit
        self.max_header = max_header
        self.max_blob = max_blob
        self.max_frames = max_frames
        self.broken: str | None = None

    def feed(self, data: bytes) -> list[tuple[dict, list[bytes]]]:
        if self.broken:
            raise WireError(self.broken)
        self.total += len(data)
        if self.total > self.limit:
            self.broken = f"the child sent more than {self.limit} bytes"
            return []
        self.buf += data
        frames = []
        start = 0
        try:
            while True:
                frame = self._one(start)
                if frame is None:
                    break
                start = frame[2]
                frames.append(frame[:2])
                self.frames += 1
                if self.frames > self.max_frames:
                    raise WireError(f"more than {self.max_frames} messages")
        except WireError as exc:
            self.broken = str(exc)
            self.buf.clear()
            return frames
        del self.buf[:start]              # once per feed: no quadratic copying
        return frames

    def _one(self, start: int):
        buf = self.buf
        if len(buf) - start < _HEAD.size:
            return None
        magic, hlen, nblobs = _HEAD.unpack_from(buf, start)
        if magic != MAGIC:
            raise WireError("bad frame marker")
        if hlen > self.max_header:
            raise WireError(f"frame header of {hlen} bytes is too large")
        if nblobs > MAX_BLOBS:
            raise WireError(f"frame with {nblobs} arrays")
        pos = start + _HEAD.size + hlen
        if len(buf) < pos:
            return None
        spans = []
        for _ in range(nblobs):
            if len(buf) < pos + _BLOB.size:
                return None
            (n,) = _BLOB.unpack_from(buf, pos)
            if n > self.max_blob:
                raise WireError(f"array blob of {n} bytes is too large")
            pos += _BLOB.size
            if len(buf) < pos + n:
                return None
            spans.append((pos, pos + n))
            pos += n
        try:
            header = json.loads(bytes(buf[start + _HEAD.size:start + _HEAD.size + hlen])
                                .decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise WireError(f"frame header is not JSON ({type(exc).__name__})") from None
        if type(header) is not dict:
            raise WireError("frame header is not a JSON object")
        blobs = [bytes(buf[a:b]) for a, b in spans]
        return header, blobs, pos
