"""A trained model for a user's own logs: parser state + grouping + detector + threshold.

`logad train` learns from a period of normal operation; `logad detect` flags new logs with it.
The folder holds JSON and the detector's own non-pickle files, so loading runs no foreign code.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from logad.errors import InputError, InvalidParameterError
from logad.progress import SILENT, Progress

MODEL_KIND = "logad-model"
MODEL_VERSION = 1


@dataclass
class TrainedModel:
    format_name: str
    grouping: dict
    detector: object
    parser: object
    threshold: float
    threshold_info: dict
    event_ids: dict[str, int] | None = None  # models trained on structured CSVs (no parser)

    @property
    def structured(self) -> bool:
        return self.parser is None

    def save(self, directory: str | Path) -> None:
        from logad import __version__
        from logad.io import atomic_write_text

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.parser is not None:
            self.parser.save(directory / "parser.json")
        else:
            atomic_write_text(directory / "event_ids.json", json.dumps(self.event_ids or {}) + "\n")
        self.detector.save(directory / "detector")
        meta = {
            "kind": MODEL_KIND,
            "version": MODEL_VERSION,
            "logad_version": __version__,
            "format": self.format_name,
            "grouping": self.grouping,
            "detector": self.detector.name,
            "threshold": self.threshold,
            "threshold_info": self.threshold_info,
        }
        atomic_write_text(directory / "model.json", json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> TrainedModel:
        from logad.detectors.registry import detector_class
        from logad.parsing import load_parser

        directory = Path(directory)
        meta_path = directory / "model.json"
        if not meta_path.is_file():
            raise InputError(f"{directory} is not a logad model folder (no model.json)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{meta_path} is corrupt: {exc}") from exc
        if meta.get("kind") != MODEL_KIND:
            raise InputError(f"{directory} holds a {meta.get('kind')!r} folder, not a {MODEL_KIND}")
        if meta.get("version") != MODEL_VERSION:
            raise InputError(f"{directory} is a version {meta.get('version')} model; this logad reads version {MODEL_VERSION}")
        detector = detector_class(meta["detector"]).load(directory / "detector")
        detector.threshold_ = float(meta["threshold"])
        if meta["format"] == "structured":
            try:
                event_ids = json.loads((directory / "event_ids.json").read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise InputError(f"{directory}: event_ids.json is missing or corrupt ({exc})") from exc
            return cls("structured", meta["grouping"], detector, None, float(meta["threshold"]), meta["threshold_info"],
                       {str(k): int(v) for k, v in event_ids.items()})
        parser = load_parser(directory / "parser.json")
        return cls(meta["format"], meta["grouping"], detector, parser, float(meta["threshold"]), meta["threshold_info"])

    def _grouping(self):
        from logad.pipeline import Grouping

        g = dict(self.grouping)
        kind = g.pop("kind")
        return Grouping(
            kind=kind,
            size=g.get("size"),
            step=g.get("step"),
            session_regex=g.get("session_regex"),
            entity_field=g.get("entity_field"),
        )

    def detect(self, files: list[str], out: str | Path, progress: Progress = SILENT) -> dict:
        """Score every sequence of the new logs; write all of them with an `alarm` column."""
        from logad.io import atomic_writer
        from logad.pipeline import load_logs, load_structured

        if self.structured:
            loaded = load_structured(files, grouping=self._grouping(), event_ids=self.event_ids, learn=False, progress=progress)
            id_to_event = {v: k for k, v in (self.event_ids or {}).items()}
            templates = loaded.templates
        else:
            loaded = load_logs(
                files, format=self.format_name, grouping=self._grouping(), parser=self.parser, learn=False,
                progress=progress, with_values=bool(getattr(self.detector, "uses_line_values", False)),
            )
            templates = self.parser.templates
        seqs = loaded.sequences
        scores = self.detector.score(seqs) if seqs else np.zeros(0)
        alarms = scores > self.threshold
        unknown = sum(1 for s in seqs for t in s.template_ids if t == 0)
        with atomic_writer(out) as fh:
            w = csv.writer(fh)
            header = ["sequence_id", "start_time", "end_time", "first_line", "last_line", "lines", "score", "alarm", "explanation"]
            localise = getattr(self.detector, "localise", None)  # detectors that point at lines
            if localise is not None:
                header.append("anomalous_lines")
            w2v_ids = getattr(self.detector, "w2v_event_ids", None) if self.structured else None
            if self.structured:  # the columns of the Morpheus/InterpretableSAD inference output
                header += ["Label", "EventId", "Key_label"] + (["W2V_EventId"] if w2v_ids else []) + ["prediction"]
            w.writerow(header)
            for s, sc, a in zip(seqs, scores, alarms):
                explanation = ""
                if a and hasattr(self.detector, "explain"):
                    try:
                        top = self.detector.explain(s)[:3]
                        explanation = "; ".join(
                            f"{templates.get(t, 'unseen template') if t else 'unseen template'} ({w_:.3g})"
                            for t, w_ in top
                        )
                    except NotImplementedError:
                        explanation = ""
                extra = []
                if localise is not None:  # line numbers (LineId for structured CSVs) of an alarm
                    extra.append(" ".join(str(s.line_nos[j]) for j in localise(s)) if a and s.line_nos else "")
                if self.structured:
                    extra += [
                        "" if s.label is None else s.label,
                        " ".join(id_to_event.get(t, "unseen") for t in s.template_ids),
                        " ".join(str(x) for x in (s.line_labels or ())),
                    ]
                    if w2v_ids:
                        extra.append(" ".join(str(i) for i in w2v_ids(s)))
                    extra.append(int(a))
                w.writerow([
                    s.sequence_id,
                    s.start_time if s.start_time is not None else "",
                    s.end_time if s.end_time is not None else "",
                    min(s.line_nos) if s.line_nos else "",
                    max(s.line_nos) if s.line_nos else "",
                    len(s),
                    f"{sc:.6g}",
                    int(a),
                    explanation,
                    *extra,
                ])
        return {"sequences": len(seqs), "alarms": int(alarms.sum()), "unknown_template_lines": unknown}


def train_model(
    loaded,
    *,
    detector: str,
    params: dict | None = None,
    quantile: float = 0.999,
    format_name: str,
    progress: Progress = SILENT,
) -> TrainedModel:
    """Fit on the first 90% (by time) of the normal sequences, threshold on the last 10%."""
    from logad.detectors.registry import get_detector
    from logad.detectors.thresholds import TrainQuantile

    if not 0 < quantile <= 1:
        raise InvalidParameterError(f"`quantile` must be in (0, 1], got {quantile}")
    det = get_detector(detector, **(params or {}))
    if getattr(det, "supervised", False):
        raise InvalidParameterError(
            f"detector {detector!r} is supervised; `logad train` learns from normal operation only "
            "(use a semi-supervised detector such as knn, pca, new-template)"
        )
    seqs = [s for s in loaded.sequences if s.label != 1]
    if len(seqs) < 2:
        raise InvalidParameterError(f"training needs at least 2 sequences, got {len(seqs)}")
    order = sorted(range(len(seqs)), key=lambda i: (seqs[i].start_time is None, seqs[i].start_time or 0))
    seqs = [seqs[i] for i in order]
    n_fit = max(1, int(round(len(seqs) * 0.9)))
    fit, held = seqs[:n_fit], seqs[n_fit:] or seqs[:n_fit]
    progress.stage(f"fitting {detector} on {len(fit)} sequences, threshold from {len(held)} held-out ones")
    from logad.evaluation.runner import give_templates

    give_templates(det, loaded.templates)
    det.fit(fit)
    policy = TrainQuantile(q=quantile)
    threshold = float(policy.fit(det.score(held)))
    det.threshold_ = threshold
    return TrainedModel(format_name, loaded.grouping, det, loaded.parser, threshold, policy.to_dict(), loaded.event_ids)
