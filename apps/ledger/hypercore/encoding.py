"""The compact-encoding primitives Hypercore uses in keys and signatures."""

from __future__ import annotations

import struct

from .errors import DecodeError

_U64 = struct.Struct("<Q")


def u64(value: int) -> bytes:
    return _U64.pack(value)


def encode_uint(value: int) -> bytes:
    """compact-encoding `uint`: one byte up to 0xFC, else a marker and 2, 4 or 8 LE bytes."""
    if value < 0:
        raise ValueError("uint cannot be negative")
    if value <= 0xFC:
        return bytes((value,))
    if value <= 0xFFFF:
        return b"\xfd" + value.to_bytes(2, "little")
    if value <= 0xFFFFFFFF:
        return b"\xfe" + value.to_bytes(4, "little")
    if value <= 0xFFFFFFFFFFFFFFFF:
        return b"\xff" + value.to_bytes(8, "little")
    raise ValueError("uint does not fit in 64 bits")


def decode_uint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Decode a `uint` at OFFSET; return it and the offset after it."""
    if offset >= len(data):
        raise DecodeError(f"expected a uint at byte {offset}, got end of data")
    first = data[offset]
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}.get(first, 0)
    if width == 0:
        return first, offset + 1
    end = offset + 1 + width
    if end > len(data):
        raise DecodeError(f"uint at byte {offset} is cut short")
    return int.from_bytes(data[offset + 1 : end], "little"), end


def decode_fixed(data: bytes, offset: int, size: int) -> tuple[bytes, int]:
    end = offset + size
    if end > len(data):
        raise DecodeError(f"expected {size} bytes at byte {offset}, got {len(data) - offset}")
    return bytes(data[offset:end]), end
