"""Request header fields: case-insensitive, multi-valued, in arrival order.

The engine hands over the raw bytes it parsed; nothing is decoded until a
handler looks. Values are decoded as ISO-8859-1, as RFC 9110 section 5.5
describes for the octets of a field value; names are ASCII tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["Headers"]


class Headers:
    """The fields of one request.

    ``headers["content-type"]`` is the first value (KeyError if absent),
    ``headers.get(name, default)`` likewise without the error,
    ``headers.get_all(name)`` every value in order. Iterating yields names
    as sent, ``items()`` every (name, value) pair in order, ``raw`` the
    undecoded byte pairs.
    """

    __slots__ = ("_raw", "_pairs", "_index")

    def __init__(self, fields: list[tuple[str, str]] | None = None) -> None:
        self._raw: list[bytes] | None = None
        self._pairs: list[tuple[str, str]] | None = list(fields or ())
        self._index: dict[str, list[str]] | None = None

    @classmethod
    def _from_raw(cls, raw: list[bytes]) -> Headers:
        headers = cls.__new__(cls)
        headers._raw = raw
        headers._pairs = None
        headers._index = None
        return headers

    def _decoded(self) -> list[tuple[str, str]]:
        if self._pairs is None:
            raw = self._raw or []
            # Whitespace around a value is not part of it (RFC 9110
            # section 5.5); llhttp strips only the leading.
            self._pairs = [
                (raw[i].decode("latin-1"), raw[i + 1].decode("latin-1").rstrip(" \t"))
                for i in range(0, len(raw), 2)
            ]
        return self._pairs

    def _lookup(self) -> dict[str, list[str]]:
        if self._index is None:
            index: dict[str, list[str]] = {}
            for name, value in self._decoded():
                index.setdefault(name.lower(), []).append(value)
            self._index = index
        return self._index

    def __getitem__(self, name: str) -> str:
        return self._lookup()[name.lower()][0]

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._lookup().get(name.lower())
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return list(self._lookup().get(name.lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def keys(self) -> list[str]:
        return [name for name, _ in self._decoded()]

    def values(self) -> list[str]:
        return [value for _, value in self._decoded()]

    def items(self) -> list[tuple[str, str]]:
        return list(self._decoded())

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        if self._raw is None:
            return [(n.encode("latin-1"), v.encode("latin-1"))
                    for n, v in self._decoded()]
        raw = self._raw
        return [(raw[i], raw[i + 1]) for i in range(0, len(raw), 2)]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self.items() == other.items()
        return NotImplemented

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"
