"""Writing parsed records: Parquet (through pyarrow) or CSV, and the table of templates beside.

Columns, in this order, for both: `file`, `line_no`, `timestamp`, `template_id`, `template`,
`parameters`, then the format's header fields (`Date`, `Level`, ...). Parquet: `timestamp` is a
UTC timestamp (null when the line has none), `template` is dictionary-encoded, `parameters` a list
of strings; one row group per parsed block. CSV: `timestamp` in seconds since the epoch (empty
when none) and `parameters` a JSON array (a space-joined string is ambiguous).

Beside `X.parquet` goes `X.templates.parquet`, beside `X.csv` `X.templates.csv`: `template_id`,
`template`, `alias_of` (the live id an absorbed id stands for; empty for a live one), `lines`.

Every row carries the final id and template of its line, and parameters against that template:
rows are written as blocks are parsed, to a temporary file beside the output; when a later block
changed a template an earlier block used (a merge, a generalisation), the rows of those blocks are
brought up to date from the temporary file at the end (the input is never read twice), then the
file is renamed into place (a reader never sees a half-written output).
"""

from __future__ import annotations

import array
import collections
import contextlib
import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

from logad.errors import InputError, InvalidParameterError
from logad.parsing.base import apply_recipe, recipe
from logad.parsing.files import FinalTemplates, ParsedBlock

try:  # the optional compiled core writes CSV rows; csv.writer gives the same bytes
    from logad import _core  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the build
    _core = None

FIXED = ["file", "line_no", "timestamp", "template_id", "template", "parameters"]


def output_kind(path: str | Path) -> str:
    """'parquet' or 'csv' from an output name; InvalidParameterError otherwise."""
    name = str(path).lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    raise InvalidParameterError(f"`--out` must end in .parquet or .csv, got {str(path)!r}")


def templates_path(out: str | Path) -> Path:
    """`X.templates.parquet` beside `X.parquet`, `X.templates.csv` beside `X.csv`."""
    p = Path(out)
    suffix = ".parquet" if output_kind(p) == "parquet" else ".csv"
    return p.with_name(p.name[: -len(p.suffix)] + ".templates" + suffix)


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_outputs(inputs: list[str | Path], out: str | Path, state: str | Path | None = None,
                  *, overwrite: bool = False) -> Path:
    """Refuse outputs that would overwrite an input, the parser state or each other, and a
    templates table that another run left (present without its output). Returns the path of the
    templates table."""
    out_p = Path(out)
    table = templates_path(out_p)
    written = [("--out", out_p), ("the templates table", table)]
    for what, p in written:
        for i in inputs:
            if _same(p, Path(i)):
                raise InvalidParameterError(f"{what} {str(p)!r} is an input file; it would be overwritten")
        if state is not None and _same(p, Path(state)):
            raise InvalidParameterError(f"{what} {str(p)!r} is the parser state (--state); choose another name")
    if state is not None:
        for i in inputs:
            if _same(Path(state), Path(i)):
                raise InvalidParameterError(f"--state {str(state)!r} is an input file; it would be overwritten")
    if table.exists() and not out_p.exists() and not overwrite:
        raise InputError(f"{str(table)!r} exists but {str(out_p)!r} does not: it belongs to another run; "
                         "remove it, choose another --out, or pass --overwrite")
    if out_p.exists() and out_p.is_dir():
        raise InvalidParameterError(f"--out {str(out_p)!r} is a directory")
    return table


class _Temp:
    """A temporary file beside `path`, renamed over it on `commit`, removed otherwise."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        self.tmp = Path(name)

    def commit(self) -> None:
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


class ParsedWriter:
    """Writes the blocks of a parse run to `out` (Parquet or CSV by its name), then, on `close`,
    brings stale blocks up to date and writes the templates table.

    The last blocks are held in memory up to `hold_bytes` before they are written: a template that
    changes while its rows are still held is fixed there, so rewriting the file at the end is
    needed only for changes later than that (memory stays bounded by the window)."""

    def __init__(self, out: str | Path, fields: list[str], parser, *, table: Path | None = None,
                 hold_bytes: int = 64 << 20) -> None:
        self.out = Path(out)
        self.kind = output_kind(self.out)
        self.fields = [f for f in fields if f != "Content"]
        self.parser = parser
        self.table = table or templates_path(self.out)
        self.final = FinalTemplates(parser)
        self.sizes: list[int] = []  # rows per block, in order
        self.rows = 0
        self._temp = _Temp(self.out)
        self._closed = False
        self.hold_bytes = hold_bytes
        self._held: collections.deque = collections.deque()
        self._held_bytes = 0
        if self.kind == "parquet":
            self._open_parquet()
        else:
            self._fh = open(self._temp.tmp, "wb")  # noqa: SIM115
            head = io.StringIO()
            csv.writer(head).writerow(FIXED + self.fields)
            self._fh.write(head.getvalue().encode("utf-8"))

    # ------------------------------------------------------------------ writing
    def write(self, block: ParsedBlock) -> None:
        self.sizes.append(len(block))
        self.rows += len(block)
        if self.kind == "parquet":
            item = self._table(block)
            size = item.nbytes
        else:
            item = block
            size = sum(map(len, block.contents)) + 64 * len(block)
        self._held.append((block.index, item, block.templates, size))
        self._held_bytes += size
        while self._held_bytes > self.hold_bytes and len(self._held) > 1:
            self._flush_one()

    def _flush_one(self) -> None:
        index, item, templates, size = self._held.popleft()
        self._held_bytes -= size
        changed = self.final.changed(templates)
        if changed:  # a template of these rows changed while they were held: fix them here
            templates = {r: t for r, t in (self.final.final(tid) for tid in templates)}
        self.final.note_as(index, templates)
        if self.kind == "parquet":
            if changed:
                import numpy as np

                item = self._refresh_table(item, changed, self._pa, np)
            self._writer.write_table(item, row_group_size=max(1, item.num_rows))
        else:
            self._fh.write(self._csv_bytes(item, changed))

    def close(self) -> None:
        """Finish: fix stale blocks, rename into place, write the templates table."""
        if self._closed:
            return
        self._closed = True
        try:
            while self._held:
                self._flush_one()
            if self.kind == "parquet":
                self._writer.close()
            else:
                self._fh.close()
            stale = self.final.stale()
            if stale:
                self._refresh(stale)
            self._temp.commit()
        except BaseException:
            self._temp.discard()
            raise
        self.write_templates()

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                (self._writer.close() if self.kind == "parquet" else self._fh.close())
            self._temp.discard()

    # ------------------------------------------------------------------ Parquet
    def _open_parquet(self) -> None:
        pa, pq = pyarrow()
        self._pa, self._pq = pa, pq
        self.schema = pa.schema(
            [("file", pa.dictionary(pa.int32(), pa.string())), ("line_no", pa.int64()),
             ("timestamp", pa.timestamp("us", tz="UTC")), ("template_id", pa.int64()),
             ("template", pa.dictionary(pa.int32(), pa.string())), ("parameters", pa.list_(pa.string()))]
            + [(f, pa.string()) for f in self.fields],
            metadata={"logad": json.dumps({"templates": self.table.name, "parser": self.parser.mode})},
        )
        self._writer = pq.ParquetWriter(str(self._temp.tmp), self.schema, **self._options())

    def _options(self) -> dict:
        """Dictionary pages for the repetitive columns, statistics for the ordered ones (what
        readers filter on); not for parameters, where both cost time and buy little."""
        return {"use_dictionary": ["file", "template", *self.fields],
                "write_statistics": ["line_no", "timestamp", "template_id"]}

    def _table(self, block: ParsedBlock):
        import numpy as np

        from logad.formats.columns import to_arrow

        pa = self._pa
        n = len(block)
        ids = np.asarray(block.template_ids, dtype=np.int64)
        texts = block.templates
        uniq = np.asarray(sorted(texts), dtype=np.int64)
        pos = np.searchsorted(uniq, ids).astype(np.int32) if len(uniq) else np.zeros(n, np.int32)
        unknown = ids == 0
        tpl = pa.DictionaryArray.from_arrays(_np(pa, pos, pa.int32(), unknown),
                                             pa.array([texts[int(t)] for t in uniq], pa.string()))
        params = block.parameters
        if params is None:
            par = pa.nulls(n, pa.list_(pa.string()))
        else:
            if params.buffers is not None:  # the compiled core's UTF-8 buffers: no conversion
                data, voff = params.buffers
                values = pa.Array.from_buffers(pa.string(), len(voff) // 4 - 1, [None, pa.py_buffer(voff), pa.py_buffer(data)])
            else:
                values = pa.array(params.values, pa.string())
            par = pa.ListArray.from_arrays(_np(pa, np.asarray(params.offsets, dtype=np.int32), pa.int32()), values)
        t = np.asarray(block.timestamps, dtype=np.float64)
        nan = np.isnan(t)
        us = np.where(nan, 0.0, np.round(t * 1e6)).astype(np.int64)
        ts = _np(pa, us, pa.timestamp("us", tz="UTC"), nan)
        cols = [pa.DictionaryArray.from_arrays(_np(pa, np.zeros(n, np.int32), pa.int32()), pa.array([block.path])),
                _np(pa, np.asarray(block.line_nos, dtype=np.int64), pa.int64()), ts, _np(pa, ids, pa.int64()), tpl, par]
        cols += [to_arrow(block.fields[f]) for f in self.fields]
        return pa.Table.from_arrays(cols, schema=self.schema)

    # ------------------------------------------------------------------ CSV
    def _csv_bytes(self, block: ParsedBlock, changed: dict[int, str] | None = None) -> bytes:
        """The CSV rows of a block (the compiled core writes them; csv.writer otherwise), with the
        ids and parameters of `changed` templates brought up to date first."""
        ids = list(block.template_ids)
        texts = dict(block.templates)
        params = block.parameters
        if changed:
            import numpy as np

            for tid in changed:
                r, text, _ = self._recipe(tid, changed[tid])
                texts[r] = text
            if params is None:
                ids = [self._recipe(t, changed[t])[0] if t in changed else t for t in ids]
            else:
                # the Parquet writer's index arithmetic (no per-row Python), then one gather of the values
                from logad.parsing.base import Parameters

                values = params.values
                new_ids, new_offs, take, extra = self._remap(
                    np.asarray(ids, dtype=np.int64), np.asarray(params.offsets, dtype=np.int64), changed,
                    len(values), values.__getitem__, np)
                pool = np.empty(len(values) + len(extra), dtype=object)
                pool[:len(values)] = values
                pool[len(values):] = extra
                ids = new_ids.tolist()
                params = Parameters(pool[take].tolist(), array.array("i", new_offs.tolist()))
        cols = [block.fields[f] for f in self.fields]
        times = [float(t) for t in block.timestamps]
        if _core is not None and hasattr(_core, "csv_block"):
            from logad.formats.columns import StrColumn

            core_cols = [(c.values, c.offsets) if isinstance(c, StrColumn) else list(c) for c in cols]
            if params is not None:
                offs = params.offsets if isinstance(params.offsets, memoryview) else array.array("i", params.offsets)
                return _core.csv_block(block.path, list(block.line_nos), times, ids, texts, list(params.values), offs,
                                       core_cols)
            return _core.csv_block(block.path, list(block.line_nos), times, ids, texts, None, b"", core_cols)
        out = io.StringIO()
        w = csv.writer(out)
        cols = [list(c) for c in cols]
        dumps = json.dumps
        for i, (line_no, tid, t) in enumerate(zip(block.line_nos, ids, times)):
            p = dumps(list(params[i]), ensure_ascii=False) if params is not None else ""
            w.writerow([block.path, line_no, "" if t != t else repr(t), tid, texts.get(tid, ""), p, *(c[i] for c in cols)])
        return out.getvalue().encode("utf-8")

    # ------------------------------------------------------------------ bringing stale blocks up to date
    def _refresh(self, stale: dict[int, dict[int, str]]) -> None:
        fixed = _Temp(self.out)
        try:
            if self.kind == "parquet":
                self._refresh_parquet(stale, fixed.tmp)
            else:
                self._refresh_csv(stale, fixed.tmp)
            os.replace(fixed.tmp, self._temp.tmp)
        except BaseException:
            fixed.discard()
            raise

    def _recipe(self, tid: int, old_text: str):
        """(live id, final text, recipe of its parameters) for rows of a stale id (cached)."""
        cache = self.__dict__.setdefault("_recipes", {})
        key = (tid, old_text)
        got = cache.get(key)
        if got is None:
            r, text = self.final.final(tid)
            got = cache[key] = (r, text, recipe(old_text, text, self.parser.placeholders))
        return got

    def _refresh_parquet(self, stale, dest: Path) -> None:
        import numpy as np

        pa, pq = self._pa, self._pq
        src = pq.ParquetFile(str(self._temp.tmp))
        writer = pq.ParquetWriter(str(dest), self.schema, **self._options())
        try:
            for g in range(src.num_row_groups):
                table = src.read_row_group(g)
                changed = stale.get(g)
                if changed:
                    table = self._refresh_table(table, changed, pa, np)
                writer.write_table(table, row_group_size=max(1, table.num_rows))
        finally:
            writer.close()

    def _refresh_table(self, table, changed: dict[int, str], pa, np):
        """One row group brought up to date, column-wise: ids through the alias table, texts
        final, parameters rebuilt by each stale template's recipe with one gather (over the
        string buffers: no per-row Python)."""
        ids = table.column("template_id").to_numpy().copy()
        par = table.column("parameters").combine_chunks()
        offs = np.asarray(par.offsets, dtype=np.int64)
        data, voffs = _string_buffers(par.values, np)  # offs index into .values (no slicing, no compute)
        ids, new_offs, take, extra = self._remap(ids, offs, changed, len(voffs) - 1,
                                                 lambda i: _value(data, voffs, i), np)
        if extra:
            blob = "".join(extra).encode("utf-8")
            el = np.fromiter((len(e.encode("utf-8")) for e in extra), dtype=np.int64, count=len(extra))
            data = np.concatenate([data, np.frombuffer(blob, dtype=np.uint8)])
            voffs = np.concatenate([voffs, voffs[-1] + np.cumsum(el)])
        new_values = _gather_strings(data, voffs, take, pa, np)
        new_par = pa.ListArray.from_arrays(_np(pa, new_offs.astype(np.int32), pa.int32()), new_values)
        texts = {int(t): self.final.final(int(t))[1] for t in np.unique(ids) if t}
        uniq = np.asarray(sorted(texts), dtype=np.int64)
        pos = np.searchsorted(uniq, ids).astype(np.int32)
        unknown = ids == 0
        tpl = pa.DictionaryArray.from_arrays(_np(pa, pos, pa.int32(), unknown),
                                             pa.array([texts[int(t)] for t in uniq], pa.string()))
        table = table.set_column(3, "template_id", _np(pa, ids, pa.int64()))
        table = table.set_column(4, "template", tpl)
        return table.set_column(5, "parameters", new_par)

    def _remap(self, ids, offs, changed: dict[int, str], n_values: int, value_at, np):
        """Rows of `changed` templates brought up to date, as index arithmetic over the flat
        parameter values (row i's are values[offs[i]:offs[i + 1]]): (live ids, new row offsets,
        `take`: for each new value the index of the old one it is, or n_values + k for extra[k],
        the texts no old value holds: constants, Drain mode's filled tokens). Rows whose values
        do not fit their recipe keep theirs. `value_at(i)`: old value i (for filled tokens)."""
        ids = ids.copy()
        lens = np.diff(offs)
        new_lens = lens.copy()
        plans = []
        for tid, old in changed.items():
            rows = np.nonzero(ids == tid)[0]
            if not len(rows):
                continue
            r, _, rec = self._recipe(tid, old)
            ok = rows if rec is None else rows[lens[rows] == rec[1]]
            if rec is not None and len(ok):
                new_lens[ok] = len(rec[0])
                plans.append((ok, rec))
            ids[rows] = r
        new_offs = np.concatenate([[0], np.cumsum(new_lens)]).astype(np.int64)
        take = np.empty(int(new_offs[-1]), dtype=np.int64)
        touched = np.zeros(len(ids), dtype=bool)
        extra: list[str] = []
        for rows, (items, _) in plans:
            touched[rows] = True
            for k, (kind, arg) in enumerate(items):
                at = new_offs[rows] + k
                if kind == "p":
                    take[at] = offs[rows] + arg
                elif kind == "c":
                    take[at] = n_values + len(extra)
                    extra.append(arg)
                else:  # a token holding slots, filled per row (Drain mode)
                    take[at] = n_values + len(extra) + np.arange(len(rows))
                    old_vals = [[value_at(int(offs[r] + x)) if not isinstance(x, str) else x for x in arg]
                                for r in rows]
                    extra.extend("".join(parts) for parts in old_vals)
        keep = np.nonzero(~touched)[0]
        if len(keep):
            counts = lens[keep]
            total = int(counts.sum())
            if total:
                shift = np.cumsum(np.concatenate([[0], counts[:-1]]))
                k = np.arange(total)
                take[np.repeat(new_offs[keep] - shift, counts) + k] = np.repeat(offs[keep] - shift, counts) + k
        return ids, new_offs, take, extra

    def _refresh_csv(self, stale, dest: Path) -> None:
        with open(self._temp.tmp, encoding="utf-8", newline="") as src, \
                open(dest, "w", encoding="utf-8", newline="") as out:
            out.write(src.readline())  # the header
            w = csv.writer(out)
            for g, size in enumerate(self.sizes):
                changed = stale.get(g)
                lines = [src.readline() for _ in range(size)]
                if not changed:
                    out.writelines(lines)
                    continue
                for row in csv.reader(lines):
                    old = changed.get(int(row[3]))
                    if old is not None:
                        r, text, rec = self._recipe(int(row[3]), old)
                        row[3], row[4] = str(r), text
                        new = apply_recipe(rec, json.loads(row[5])) if rec is not None and row[5] else None
                        if new is not None:
                            row[5] = json.dumps(list(new), ensure_ascii=False)
                    w.writerow(row)

    # ------------------------------------------------------------------ the templates table
    def write_templates(self) -> None:
        write_templates(self.table, self.parser)


def _np(pa, a, typ, mask=None):
    """An Arrow array over a contiguous numpy array's buffer (pa.array on an ndarray imports
    numpy.ma; this does not). `mask`: True where null."""
    import numpy as np

    a = np.ascontiguousarray(a)
    validity = None
    nulls = 0
    if mask is not None and mask.any():
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little").tobytes())
        nulls = int(mask.sum())
    return pa.Array.from_buffers(typ, len(a), [validity, pa.py_buffer(a)], null_count=nulls)


def _string_buffers(arr, np):
    """(UTF-8 bytes as uint8, int64 offsets from 0) of an Arrow string array."""
    n = len(arr)
    bufs = arr.buffers()
    off = np.frombuffer(bufs[1], dtype=np.int32, count=arr.offset + n + 1)[arr.offset:].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None and off[-1] > 0 else np.zeros(0, np.uint8)
    return data[off[0]:off[-1]] if off[0] else data[:off[-1]], off - off[0]


def _value(data, offs, i: int) -> str:
    return bytes(data[offs[i]:offs[i + 1]]).decode("utf-8")


def _gather_strings(data, offs, take, pa, np):
    """The strings `take` names, as a new Arrow string array (one byte gather; in the compiled
    core when it is built: numpy's repeat-and-index over every byte was 10% of `logad parse`)."""
    if _core is not None and hasattr(_core, "gather_strings"):
        blob, new_offs = _core.gather_strings(np.ascontiguousarray(data, dtype=np.uint8),
                                              np.ascontiguousarray(offs, dtype=np.int64),
                                              np.ascontiguousarray(take, dtype=np.int64))
        return pa.Array.from_buffers(pa.string(), len(take), [None, pa.py_buffer(new_offs), pa.py_buffer(blob)])
    lens = (offs[1:] - offs[:-1])[take]
    new_offs = np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)
    total = int(new_offs[-1])
    if total:
        shift = np.cumsum(np.concatenate([[0], lens[:-1]]))
        k = np.arange(total)
        new_data = data[np.repeat(offs[:-1][take] - shift, lens) + k]
    else:
        new_data = np.zeros(0, np.uint8)
    return pa.Array.from_buffers(pa.string(), len(take), [None, pa.py_buffer(new_offs.tobytes()),
                                                          pa.py_buffer(new_data.tobytes())])


def pyarrow():
    """(pyarrow, pyarrow.parquet), imported on first use: `import logad` never loads them."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency of logad
        from logad.errors import MissingDependencyError

        raise MissingDependencyError(f"pyarrow is needed for Parquet files: pip install pyarrow ({exc})") from exc
    return pa, pq


def _mask_zero(ids):
    import numpy as np

    a = np.asarray(ids)
    return a == 0 if (a == 0).any() else None


def write_templates(path: str | Path, parser) -> None:
    """The templates table (Parquet or CSV by the name): every id with its final text, the live id
    it stands for when it was merged into another (`alias_of`), and its line count."""
    path = Path(path)
    sizes = parser.sizes()
    rows = []
    for tid, text in parser.templates.items():
        r = parser.resolve(tid)
        rows.append((tid, text, r if r != tid else None, sizes.get(tid, 0) if r == tid else 0))
    tmp = _Temp(path)
    try:
        if path.name.endswith((".parquet", ".pq")):
            pa, pq = pyarrow()
            t = pa.table({"template_id": pa.array([r[0] for r in rows], pa.int64()),
                          "template": pa.array([r[1] for r in rows], pa.string()),
                          "alias_of": pa.array([r[2] for r in rows], pa.int64()),
                          "lines": pa.array([r[3] for r in rows], pa.int64())})
            pq.write_table(t, str(tmp.tmp))
        else:
            with open(tmp.tmp, "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["template_id", "template", "alias_of", "lines"])
                for tid, text, alias, n in rows:
                    w.writerow([tid, text, "" if alias is None else alias, n])
        tmp.commit()
    except BaseException:
        tmp.discard()
        raise


def read_parsed(path: str | Path):
    """A parsed output (Parquet or CSV) as a pyarrow Table with `parameters` as lists of strings
    (a round trip of what `ParsedWriter` wrote)."""
    pa, pq = pyarrow()
    path = Path(path)
    if output_kind(path) == "parquet":
        return pq.read_table(str(path))
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols = list(rows[0]) if rows else FIXED
    data = {c: [r[c] for r in rows] for c in cols}
    data["line_no"] = [int(v) for v in data.get("line_no", [])]
    data["template_id"] = [int(v) for v in data.get("template_id", [])]
    data["timestamp"] = [float(v) if v else math.nan for v in data.get("timestamp", [])]
    data["parameters"] = [json.loads(v) if v else None for v in data.get("parameters", [])]
    return pa.table(data)
