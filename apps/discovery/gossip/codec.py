"""The big-endian codec of the discovery protocol (records, claims and wire messages), and the
domain-separated signatures they carry."""

from __future__ import annotations

from typing import NoReturn, TypeVar

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

T = TypeVar("T")


def uint(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


def prefixed(data: bytes, width: int) -> bytes:
    """DATA after its length in WIDTH bytes."""
    return uint(len(data), width) + data


class ByteReader:
    """Reads big-endian fields off the front of untrusted bytes. Any shortfall raises ERROR
    naming WHAT is read and the field, so a bad peer gets a precise refusal, never an
    IndexError."""

    def __init__(self, data: bytes, *, what: str, error: type[ValueError]) -> None:
        self._data = data
        self._at = 0
        self._what = what
        self._error = error

    def take(self, size: int, field: str) -> bytes:
        end = self._at + size
        if end > len(self._data):
            self._fail(
                f"{field} needs {size} bytes at byte {self._at}, "
                f"only {len(self._data) - self._at} left"
            )
        data, self._at = self._data[self._at : end], end
        return bytes(data)

    def uint(self, width: int, field: str) -> int:
        return int.from_bytes(self.take(width, field), "big")

    def prefixed(self, width: int, field: str) -> bytes:
        """Bytes after their length in WIDTH bytes."""
        return self.take(self.uint(width, f"length of {field}"), field)

    def text(self, width: int, field: str, *, encoding: str = "utf-8") -> str:
        data = self.prefixed(width, field)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            self._fail(f"{field} is not valid {encoding}")

    def done(self, value: T) -> T:
        """VALUE, once every byte has been read: trailing bytes are refused."""
        if self._at != len(self._data):
            self._fail(f"{len(self._data) - self._at} trailing bytes")
        return value

    def _fail(self, problem: str) -> NoReturn:
        raise self._error(f"{self._what}: {problem}")


def signable(domain: bytes, content: bytes) -> bytes:
    """What a signature covers. Both parts are length-prefixed, so bytes signed under one domain
    can never be read as bytes signed under another (libp2p RFC 0002)."""
    return prefixed(domain, 1) + prefixed(content, 4)


def signature_is_valid(public_key: bytes, domain: bytes, content: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public_key).verify(signable(domain, content), signature)
    except CryptoError:
        return False
    return True
