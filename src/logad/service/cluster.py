"""`logad detect --engine ray`: many files parsed and scored in parallel on a Ray cluster, with
exactly the output of one process.

What runs where:
1. one task per file parses it with the model (format split, read-only `match`, session ids or
   entity, line values when the detector reads them) into compact event rows, and counts its lines;
2. the driver puts the files' events one after the other (line numbers continued across files as
   one process numbers them) and groups them with the model's grouping: sessions may span files,
   so this step sees every file, in order, as `logad detect` does;
3. the sequences are scored in chunks, one task each; scores do not depend on the chunk (each
   sequence is scored on its own), so they are those of one process;
4. the driver writes the CSV with `TrainedModel.write_results`, the code `logad detect` uses
   (explanations of the alarms included).

The model folder travels as bytes through Ray's object store and is loaded from a temporary copy
once per worker process (no pickle of the model); the log files are read by path, so every node
must see them at the same path (shared storage), as the model does not need to be. `address`:
"auto" (or None) joins a running cluster (`ray start --head`) and starts a local one when none
runs; "local" always starts a local one; "ray://host:10001" or "host:6379" joins that cluster.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from logad.errors import InvalidParameterError, require
from logad.progress import SILENT, Progress

CHUNK_SEQUENCES = 2000
_MODELS: dict[str, object] = {}  # per worker process: model digest -> TrainedModel


def _pack(directory: str | Path) -> tuple[str, bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(directory), arcname="model")
    data = buf.getvalue()
    return hashlib.sha256(data).hexdigest(), data


def _model(digest: str, data: bytes):
    m = _MODELS.get(digest)
    if m is None:
        from logad.model import TrainedModel

        tmp = Path(tempfile.mkdtemp(prefix="logad-model-"))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp, filter="data")
        m = _MODELS[digest] = TrainedModel.load(tmp / "model")
    return m


def parse_file(digest: str, data: bytes, path: str) -> tuple[list[tuple], int, dict]:
    """(event rows with line numbers counted in this file, lines in the file, read report)."""
    import dataclasses

    from logad.formats.registry import get_format
    from logad.pipeline.logs import parse_events

    model = _model(digest, data)
    fmt = get_format(model.format_name)
    if model.multiline is not None:
        fmt = fmt.with_multiline(model.multiline)
    grouping = model._grouping()
    if grouping.kind == "entity" and not grouping.entity_field:  # as load_logs names it
        grouping = dataclasses.replace(grouping, entity_field=fmt.entity_field)
    reports: list = []
    rows = [(e.line_no, e.template_id, e.timestamp, e.label, e.keys, e.values, e.source)
            for e in parse_events([Path(path)], fmt, model.parser, grouping, reports=reports, learn=False,
                                  with_values=model.detector.needs_line_values())]
    report = reports[0]
    return rows, report.lines_total, report.as_dict()


def score_chunk(digest: str, data: bytes, sequences: list) -> np.ndarray:
    return _model(digest, data).detector.score(sequences)


def detect_on_ray(model, model_dir: str | Path, files: list[str], out: str | Path, *, address: str | None = "auto",
                  progress: Progress = SILENT, chunk: int = CHUNK_SEQUENCES, rollup: str | None = None,
                  summary: bool = True) -> dict:
    """`model.detect(files, out)` on a Ray cluster (see the module docstring); the same CSV."""
    if model.structured:
        raise InvalidParameterError("--engine ray reads raw log files; this model was trained on structured CSVs")
    ray = require("ray", "distributed")
    from logad.pipeline.logs import resolve_sequences
    from logad.windowing.grouping import LineEvent, group_events

    started = not ray.is_initialized()
    if started:
        if address in (None, "auto"):
            try:
                ray.init(address="auto", log_to_driver=False, logging_level="ERROR")
            except (ConnectionError, RuntimeError):
                ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        elif address == "local":
            ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        else:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    try:
        digest, data = _pack(model_dir)
        ref = ray.put(data)
        parse = ray.remote(parse_file)
        score = ray.remote(score_chunk)
        progress.stage(f"parsing {len(files)} files on Ray ({int(ray.cluster_resources().get('CPU', 0))} CPUs)")
        parsed = ray.get([parse.remote(digest, ref, str(f)) for f in files])
        events: list[LineEvent] = []
        offset = 0
        for rows, lines_total, _report in parsed:
            events.extend(LineEvent(offset + r[0], r[1], r[2], r[3], tuple(r[4]), r[5], r[6]) for r in rows)
            offset += lines_total
        grouping = model._grouping()
        seqs = group_events(events, grouping)
        seqs = resolve_sequences(seqs, model.parser)
        del events
        progress.stage(f"scoring {len(seqs)} sequences in chunks of {chunk}")
        parts = [score.remote(digest, ref, seqs[i:i + chunk]) for i in range(0, len(seqs), chunk)]
        scores = np.concatenate(ray.get(parts)) if parts else np.zeros(0)
        files_lines = [(str(f), lines_total) for f, (_, lines_total, _) in zip(files, parsed)]
        return model.write_results(seqs, scores, model.parser.templates, out, files=[str(f) for f in files],
                                   files_lines=files_lines, rollup=rollup, summary=summary, progress=progress)
    finally:
        if started:
            ray.shutdown()
