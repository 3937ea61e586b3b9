"""The worker protocol: framed messages of a JSON header and raw array bytes.

    frame = MAGIC (4 bytes) | header length (uint32, little-endian) | payload length (uint64)
            | header (UTF-8 JSON) | payload (the arrays' bytes, one after another)

The header is a JSON object; its "arrays" entry lists each array's name, dtype, shape and
byte count, in payload order. Only plain numeric dtypes are accepted and nothing is ever
unpickled, so a message from another process (or machine) can carry data, never code.
Standard library and numpy only: the Slicer module uses this before torch exists.
"""
from __future__ import annotations

import json
import struct

import numpy as np

MAGIC = b"ISG1"
_PREFIX = struct.Struct("<4sIQ")
MAX_HEADER_BYTES = 16 << 20
MAX_PAYLOAD_BYTES = 8 << 30
DTYPES = ("bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "float32", "float64")


class ProtocolError(ValueError):
    """A malformed frame: the connection cannot be trusted any more and is closed."""


def encode(header: dict, arrays: dict | None = None) -> bytes:
    """One frame of `header` (JSON-serialisable) and named numpy arrays."""
    parts, described = [], []
    for name, array in (arrays or {}).items():
        array = np.ascontiguousarray(array)
        if array.dtype.name not in DTYPES:
            raise ProtocolError(f"Array {name!r} has dtype {array.dtype}, which the protocol does not carry.")
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        described.append({"name": name, "dtype": array.dtype.name, "shape": list(array.shape), "nbytes": len(data)})
        parts.append(data)
    text = json.dumps(dict(header, arrays=described)).encode()
    payload = b"".join(parts)
    return _PREFIX.pack(MAGIC, len(text), len(payload)) + text + payload


class FrameReader:
    """Turns a byte stream, fed in pieces of any size, into (header, arrays) messages."""

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list:
        self._buffer += data
        messages = []
        while True:
            message = self._next()
            if message is None:
                return messages
            messages.append(message)

    def _next(self):
        if len(self._buffer) < _PREFIX.size:
            return None
        magic, header_bytes, payload_bytes = _PREFIX.unpack_from(self._buffer)
        if magic != MAGIC:
            raise ProtocolError("Not an InteractiveSeg worker frame (wrong magic bytes).")
        if header_bytes > MAX_HEADER_BYTES or payload_bytes > MAX_PAYLOAD_BYTES:
            raise ProtocolError(f"Frame too large: header {header_bytes} B, payload {payload_bytes} B.")
        total = _PREFIX.size + header_bytes + payload_bytes
        if len(self._buffer) < total:
            return None
        frame = bytes(self._buffer[:total])
        del self._buffer[:total]
        return decode(frame[_PREFIX.size:_PREFIX.size + header_bytes], frame[_PREFIX.size + header_bytes:])


def decode(header_bytes: bytes, payload: bytes) -> tuple:
    try:
        header = json.loads(header_bytes.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"Frame header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ProtocolError("Frame header must be a JSON object.")
    arrays, offset = {}, 0
    for entry in header.pop("arrays", []):
        try:
            name, dtype, shape, nbytes = entry["name"], entry["dtype"], tuple(entry["shape"]), int(entry["nbytes"])
        except (KeyError, TypeError, ValueError):
            raise ProtocolError(f"Bad array entry in frame header: {entry!r}") from None
        if dtype not in DTYPES or any(not isinstance(n, int) or n < 0 for n in shape):
            raise ProtocolError(f"Array {name!r}: dtype {dtype!r} or shape {shape} not allowed.")
        expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if nbytes != expected or offset + nbytes > len(payload):
            raise ProtocolError(f"Array {name!r}: {nbytes} bytes do not match its shape {shape} and dtype {dtype}.")
        arrays[name] = np.frombuffer(payload, dtype=np.dtype(dtype).newbyteorder("<"), count=int(np.prod(shape)),
                                     offset=offset).reshape(shape).astype(dtype)
        offset += nbytes
    if offset != len(payload):
        raise ProtocolError("Frame payload is longer than its arrays.")
    return header, arrays


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """A sparse boolean (k, j, i) mask as the (N, 3) int32 indices of its set voxels (strokes are sparse)."""
    return np.argwhere(np.asarray(mask, dtype=bool)).astype(np.int32)


def unpack_mask(indices: np.ndarray, shape: tuple) -> np.ndarray:
    indices = np.asarray(indices)
    mask = np.zeros(shape, dtype=bool)
    if indices.size:
        if indices.ndim != 2 or indices.shape[1] != 3 or indices.min() < 0 or (indices.max(0) >= np.array(shape)).any():
            raise ProtocolError(f"Mask indices do not fit a volume of shape {tuple(shape)}.")
        mask[tuple(indices.T)] = True
    return mask
