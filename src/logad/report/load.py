"""Which logad output a file is, read by its content (not its name), refused in one clear line when
it is none."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from logad.errors import InputError

KINDS = ("evaluate", "bench", "transfer", "tune", "detect", "parse")
DETECT_COLUMNS = ("sequence_id", "score", "alarm")
PARSE_COLUMNS = ("line_no", "template_id", "template")


def _kind_of_json(data, path: Path) -> str:
    if not isinstance(data, dict):
        raise InputError(f"{path} holds a JSON {type(data).__name__}, not a logad result")
    kind = data.get("kind")
    if kind in ("logad-tune-trials", "logad-tune-best"):
        return "tune"
    if kind == "logad-detect-summary":
        return "detect"
    if isinstance(data.get("results"), list) and all(isinstance(r, dict) and "metrics" in r for r in data["results"]):
        if not data["results"]:
            raise InputError(f"{path}: a bench result with no result in it")
        return "bench"
    if "method" in data and ("baselines" in data or "setup" in data) and "metrics" in data:
        return "transfer"
    if isinstance(data.get("metrics"), dict) and "threshold" in data and "detector" in data:
        return "evaluate"
    keys = ", ".join(sorted(data)[:8]) or "none"
    raise InputError(f"{path} is JSON but not a logad result (keys: {keys}); give the output of logad evaluate, "
                     "bench, transfer, tune (trials.json / best.json), or a detect or parse CSV")


def csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            return next(csv.reader(fh), [])
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from exc


def read_result(path: str | Path) -> tuple[str, object]:
    """(kind, content) of a logad output: the parsed JSON for evaluate / bench / transfer / tune,
    the path for a detect or parse output (read as it is drawn, they can be large)."""
    p = Path(path)
    if p.is_dir():
        if (p / "trials.json").is_file():
            p = p / "trials.json"
        else:
            raise InputError(f"{p} is a folder; give a result file (or a `logad tune --out` folder)")
    if not p.exists():
        raise InputError(f"{p}: no such file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(f"{p}: {exc.strerror or exc}") from exc
    if not head.strip():
        raise InputError(f"{p} is empty")
    if head.startswith(b"PAR1"):
        return "parse", p
    if head.lstrip()[:1] in (b"{", b"["):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{p} is not valid JSON: {exc}") from exc
        return _kind_of_json(data, p), data
    header = [h.strip() for h in csv_header(p)]
    if all(c in header for c in DETECT_COLUMNS):
        return "detect", p
    if all(c in header for c in PARSE_COLUMNS):
        return "parse", p
    shown = ", ".join(header[:8]) or "none"
    raise InputError(f"{p} is neither a logad result JSON nor a detect or parse CSV: its columns are {shown}; a detect "
                     f"CSV has {', '.join(DETECT_COLUMNS)}, a parse CSV {', '.join(PARSE_COLUMNS)}")
