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

import contextlib
import csv
import json
import math
import os
import tempfile
from pathlib import Path

from logad.errors import InputError, InvalidParameterError
from logad.parsing.base import reparameterise
from logad.parsing.files import FinalTemplates, ParsedBlock

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
    brings stale blocks up to date and writes the templates table."""

    def __init__(self, out: str | Path, fields: list[str], parser, *, table: Path | None = None) -> None:
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
        if self.kind == "parquet":
            self._open_parquet()
        else:
            self._fh = open(self._temp.tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._csv = csv.writer(self._fh)
            self._csv.writerow(FIXED + self.fields)

    # ------------------------------------------------------------------ writing
    def write(self, block: ParsedBlock) -> None:
        self.final.note(block)
        self.sizes.append(len(block))
        self.rows += len(block)
        if self.kind == "parquet":
            self._writer.write_table(self._table(block))
        else:
            self._csv.writerows(self._csv_rows(block))

    def close(self) -> None:
        """Finish: fix stale blocks, rename into place, write the templates table."""
        if self._closed:
            return
        self._closed = True
        try:
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
        self._writer = pq.ParquetWriter(str(self._temp.tmp), self.schema)

    def _table(self, block: ParsedBlock):
        pa = self._pa
        n = len(block)
        ids = block.template_ids
        texts = block.templates
        uniq = sorted(texts)
        pos = {t: i for i, t in enumerate(uniq)}
        tpl = pa.DictionaryArray.from_arrays(pa.array([pos.get(t, -1) for t in ids], pa.int32(),
                                                       mask=_mask_zero(ids)),
                                             pa.array([texts[t] for t in uniq], pa.string()))
        params = block.parameters
        if params is None:
            par = pa.nulls(n, pa.list_(pa.string()))
        else:
            par = pa.ListArray.from_arrays(pa.array(params.offsets, pa.int32()), pa.array(params.values, pa.string()))
        import numpy as np

        t = np.asarray(block.timestamps, dtype=np.float64)
        nan = np.isnan(t)
        us = np.where(nan, 0.0, np.round(t * 1e6)).astype(np.int64)
        ts = pa.array(us, pa.timestamp("us", tz="UTC"), mask=nan if nan.any() else None)
        cols = [pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int32()), pa.array([block.path])),
                pa.array(block.line_nos, pa.int64()), ts, pa.array(ids, pa.int64()), tpl, par]
        cols += [pa.array(block.fields[f], pa.string()) for f in self.fields]
        return pa.Table.from_arrays(cols, schema=self.schema)

    # ------------------------------------------------------------------ CSV
    def _csv_rows(self, block: ParsedBlock):
        texts = block.templates
        params = block.parameters
        dumps = json.dumps
        cols = [block.fields[f] for f in self.fields]
        path = block.path
        for i, (line_no, tid, t) in enumerate(zip(block.line_nos, block.template_ids, block.timestamps)):
            p = dumps(list(params[i]), ensure_ascii=False) if params is not None else ""
            yield [path, line_no, "" if t != t else repr(t), tid, texts.get(tid, ""), p, *(c[i] for c in cols)]

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

    def _new(self, tid: int, params, old_text: str):
        """(live id, final text, parameters against it) for a row of a stale id."""
        r, text = self.final.final(tid)
        new = reparameterise(old_text, text, params, self.parser.placeholders) if params is not None else None
        return r, text, new

    def _refresh_parquet(self, stale, dest: Path) -> None:
        pa, pq = self._pa, self._pq
        src = pq.ParquetFile(str(self._temp.tmp))
        writer = pq.ParquetWriter(str(dest), self.schema)
        try:
            for g in range(src.num_row_groups):
                table = src.read_row_group(g)
                changed = stale.get(g)
                if changed:
                    ids = table.column("template_id").to_pylist()
                    tpls = table.column("template").to_pylist()
                    params = table.column("parameters").to_pylist()
                    for i, tid in enumerate(ids):
                        old = changed.get(tid)
                        if old is not None:
                            r, text, new = self._new(tid, params[i], old)
                            ids[i], tpls[i] = r, text
                            params[i] = list(new) if new is not None else params[i]
                    table = table.set_column(3, "template_id", pa.array(ids, pa.int64()))
                    table = table.set_column(4, "template", pa.array(tpls, pa.string()).dictionary_encode())
                    table = table.set_column(5, "parameters", pa.array(params, pa.list_(pa.string())))
                writer.write_table(table)
        finally:
            writer.close()

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
                        r, text, new = self._new(int(row[3]), json.loads(row[5]) if row[5] else None, old)
                        row[3], row[4] = str(r), text
                        if new is not None:
                            row[5] = json.dumps(list(new), ensure_ascii=False)
                    w.writerow(row)

    # ------------------------------------------------------------------ the templates table
    def write_templates(self) -> None:
        write_templates(self.table, self.parser)


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
