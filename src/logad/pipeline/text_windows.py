"""Stored windows of messages (LogLLM style): one row per window, its messages joined by ' ;-; ',
a JSON list of per-message labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from logad.errors import InputError
from logad.pipeline.system_data import TEXT_WINDOW_SEPARATOR, EntryData, SystemData
from logad.progress import Progress
from logad.records import Sequence


def read_text_windows(info, folder: Path, progress: Progress) -> SystemData:
    """Stored windows of messages (`Content` joined by ' ;-; ', `item_Label` per message)."""
    import csv
    import io
    import json

    from logad.datasets.local import raw_log_path
    from logad.formats.reader import open_binary
    from logad.parsing import parser_for

    path = raw_log_path(info, folder)
    with open_binary(path) as fh:
        text = fh.read().decode("utf-8", errors="replace")
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "Content" not in rows[0] or "item_Label" not in rows[0]:
        raise InputError(f"{path}: expected columns Content,Label,item_Label (a text-windows CSV)")
    texts: list[str] = []
    labels: list[int] = []
    blocks: list[int] = []
    sequences: list[Sequence] = []
    parser = parser_for(info.format)
    for w, row in enumerate(rows):
        messages = row["Content"].split(TEXT_WINDOW_SEPARATOR)
        try:
            item = [int(x) for x in json.loads(row["item_Label"])]
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path} row {w + 2}: item_Label is not a list of 0/1 ({exc})") from exc
        if len(item) != len(messages):
            raise InputError(f"{path} row {w + 2}: {len(messages)} messages but {len(item)} item labels")
        ids = tuple(parser.add(m, len(texts) + j + 1).template_id for j, m in enumerate(messages))
        sequences.append(Sequence(
            sequence_id=f"window{w}", template_ids=ids,
            line_nos=tuple(range(len(texts) + 1, len(texts) + len(messages) + 1)),
            line_labels=tuple(item), label=int(any(item)),
        ))
        texts.extend(messages)
        labels.extend(item)
        blocks.extend([w] * len(messages))
    progress.stage(f"{info.name}: {len(rows)} stored windows, {len(texts)} entries")
    return SystemData(
        name=info.name,
        system=info.format,
        sequences=sequences,
        templates=dict(parser.templates),
        ordered_by="file order (no timestamps)",
        source=str(path),
        entries=EntryData(texts=texts, labels=np.asarray(labels, dtype=np.int64), blocks=np.asarray(blocks)),
        details={"grouping": "stored windows"},
    )
