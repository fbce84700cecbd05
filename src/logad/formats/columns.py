"""A column of strings as the compiled core hands it back: UTF-8 `values` and int32 `offsets`
(n + 1 of them; string i is ``values[offsets[i]:offsets[i + 1]]``), the layout of an Arrow string
array. Indexing and iteration give `str`; `to_arrow` wraps the buffers without copying them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


class StrColumn(Sequence):
    __slots__ = ("values", "offsets", "_list")

    def __init__(self, values: bytes, offsets: bytes) -> None:
        self.values = values
        self.offsets = offsets
        self._list: list[str] | None = None

    def __len__(self) -> int:
        return len(self.offsets) // 4 - 1

    def to_list(self) -> list[str]:
        if self._list is None:
            from logad import _core  # type: ignore[attr-defined]

            self._list = _core.strings(self.values, self.offsets)
        return self._list

    def __getitem__(self, i):  # type: ignore[override]
        return self.to_list()[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_list())

    def to_arrow(self):
        import pyarrow as pa

        return pa.Array.from_buffers(pa.string(), len(self), [None, pa.py_buffer(self.offsets), pa.py_buffer(self.values)])


def to_arrow(column):
    """An Arrow string array of a StrColumn (no copy) or of a list of str."""
    if isinstance(column, StrColumn):
        return column.to_arrow()
    import pyarrow as pa

    return pa.array(column, pa.string())
